"""``fartrack compare``: paired per-sequence AO differences between two trackers or two sets of
weights, from ``fartrack eval`` reports, with a bootstrap interval."""
from __future__ import annotations

import argparse
import json
import sys

from fartrack_ros.cli.common import positive_int

HELP = "paired per-sequence AO difference of two eval runs (mean, bootstrap 95 % interval; JSON)"

DESCRIPTION = """\
Compare two trackers (or two sets of weights) sequence by sequence. Each --pair names two
'fartrack eval' reports and a tracker in each (REPORT_A:TRACKER_A REPORT_B:TRACKER_B); the
per-sequence AO differences A - B (AO points) of the sequences both reports have are pooled over
all pairs, and a bootstrap over sequences gives a 95 % interval of their mean. Prints JSON.

Two trackers scored on the same sequences differ far less from each other than their AOs differ
from split to split, so this is much tighter than comparing two overall AOs. The mean of
per-sequence AOs is not the report's overall AO (which averages over frames), so the two can
differ by a few tenths.
"""

EXAMPLES = """\
examples:
  fartrack compare --pair A/report/report.json:fartrack-pico B/report/report.json:csrt
  fartrack compare --pair v1/report/report.json:fartrack-nano v2/report/report.json:fartrack-nano \\
                   --pair v1_val/report/report.json:fartrack-nano v2_val/report/report.json:fartrack-nano
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pair", nargs=2, action="append", required=True,
                   metavar=("REPORT_A:TRACKER_A", "REPORT_B:TRACKER_B"),
                   help="two eval reports and a tracker of each; repeat for more splits")
    p.add_argument("--resamples", type=positive_int, default=5000,
                   help="bootstrap resamples (default: 5000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")


def run(args: argparse.Namespace) -> int:
    from fartrack_ros.evaluation.compare import paired_ao

    result = paired_ao([tuple(pair) for pair in args.pair], resamples=args.resamples, seed=args.seed)
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0
