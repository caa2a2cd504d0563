"""``fartrack box-sizes``: how often a tracker's boxes balloon, on eval runs and on videos."""
from __future__ import annotations

import argparse
import json
import sys

from fartrack_ros.cli.common import positive_int

HELP = "box size check next to AO: predicted/true area on eval runs, area over time on videos (JSON)"

DESCRIPTION = """\
AO rewards any overlap, so a tracker that answers uncertainty with a box much larger than the
target still scores on the frames where the target sits inside it. Weights trained into that
habit can gain AO on the generated splits while, on a real video, the box grows to the whole
frame. Two measurements, printed as JSON:

--run REPORT.json:TRACKER[@RESULTS_DIR]: a 'fartrack eval' report (any data set layout) and one
  of its trackers; its results are read from the run folder the report records (or from
  RESULTS_DIR). Over every annotated frame after the first, the ratio of predicted to true box
  area (all stored runs pooled): its median and the share of frames above 4x and above 16x.
--video-results FILE: a 'fartrack track --results' file (its first row is the initial box): the
  median box area of each block of frames, as a multiple of the initial box's area.
"""

EXAMPLES = """\
examples:
  fartrack box-sizes --run out/eval/report/report.json:fartrack-pico
  fartrack track --video data/vtest.avi --box 639,240,46,82 --results out/vtest.txt
  fartrack box-sizes --run out/eval/report/report.json:fartrack-pico --video-results out/vtest.txt
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", action="append", default=[], metavar="REPORT.json:TRACKER[@RESULTS_DIR]",
                   help="an eval report and one of its trackers (repeatable)")
    p.add_argument("--video-results", action="append", default=[], metavar="FILE",
                   help="a 'fartrack track --results' file of a video (repeatable)")
    p.add_argument("--block", type=positive_int, default=100,
                   help="frames per block for --video-results (default: 100)")


def run(args: argparse.Namespace) -> int:
    from fartrack_ros.evaluation.compare import run_box_sizes, video_box_sizes

    if not args.run and not args.video_results:
        raise ValueError("give at least one --run or --video-results")
    out = {"runs": [run_box_sizes(spec) for spec in args.run],
           "videos": [video_box_sizes(path, args.block) for path in args.video_results]}
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0
