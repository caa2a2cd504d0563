#!/usr/bin/env python3
"""How often a tracker's boxes balloon: a check to run next to AO before shipping weights.

AO rewards any overlap, so a tracker that answers uncertainty with a box much larger than the
target still scores on the frames where the target sits inside it. Weights trained into that habit
can gain AO on the generated splits while, on a real video, the box grows to the whole frame (seen
with weights trained sequence-level at depth 6; docs/training.md). Two measurements, printed as
JSON:

* ``--run REPORT.json:TRACKER[@RESULTS_DIR]`` (a ``fartrack eval`` report, any of its data
  set layouts, and one of its trackers; its results are read from the run folder beside the report (``<report>/../TRACKER_<run id>``, or ``TRACKER`` in older reports) unless ``@RESULTS_DIR`` names the
  folder, as for a tracker added with ``--compare``): over every annotated frame after the
  first, the ratio of predicted to ground-truth box area (all stored runs pooled): its median
  and the share of frames above 4x and above 16x;
* ``--video-results FILE`` (``fartrack track --results FILE``; its first row is the initial box):
  the median box area of each block of 100 frames, as a multiple of the initial box's area.

    python scripts/box_size_check.py --run out/eval_default/report/report.json:fartrack-pico \\
        --video-results out/vtest_pico.txt
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

try:
    import numpy as np

    from fartrack_ros.evaluation.datasets import read_boxes_txt, read_sequences
    from fartrack_ros.evaluation.report import read_report_tracker
    from fartrack_ros.evaluation.results import read_result_runs
except ImportError:                    # not the project's Python: run again with .venv/bin/python
    from _venv import rerun_with_project_python
    rerun_with_project_python()


def area_ratios_xywh(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Predicted / true box area per frame after the first, where the truth has an area."""
    n = min(len(predicted), len(truth))
    p, t = predicted[1:n], truth[1:n]
    valid = (t[:, 2] > 0) & (t[:, 3] > 0)
    return p[valid, 2] * p[valid, 3] / (t[valid, 2] * t[valid, 3])


def run_stats(spec: str) -> dict:
    spec_path, _, results_override = spec.partition("@")
    try:
        report, tracker, report_path = read_report_tracker(spec_path)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    dataset = report["dataset"]
    recorded = report["trackers"][tracker].get("results_dir")      # fartrack eval: <tracker>_<run id>
    results_dir = (Path(results_override) if results_override else Path(recorded)
                   if recorded and Path(recorded).is_dir()
                   else report_path.parent.parent / (Path(recorded).name if recorded else tracker))
    try:
        sequences = {s.name: s for s in read_sequences(Path(dataset["root"]), dataset["format"])}
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot read the data set of {report_path}: {exc}") from None
    ratios = []
    for name in sorted(report["trackers"][tracker]["sequences"]):
        runs = read_result_runs(results_dir, dataset["format"], name)
        if not runs or name not in sequences:
            raise SystemExit(f"missing results or ground truth for {name} "
                             f"(results looked for in {results_dir}, data in {dataset['root']})")
        ratios += [area_ratios_xywh(run, sequences[name].gt_xywh) for run in runs]
    r = np.concatenate(ratios)
    return {"run": spec, "frames": int(len(r)),
            "median_area_ratio": round(float(np.median(r)), 3),
            "share_over_4x": round(float((r > 4).mean()), 3),
            "share_over_16x": round(float((r > 16).mean()), 3)}


def video_stats(path: str, block: int = 100) -> dict:
    if not Path(path).is_file():
        raise SystemExit(f"results file not found: {path}")
    boxes = read_boxes_txt(Path(path))
    areas = boxes[:, 2] * boxes[:, 3]
    if areas[0] <= 0:
        raise SystemExit(f"{path}: the first row (the initial box) has no area")
    medians = [round(float(np.median(areas[i:i + block]) / areas[0]), 3)
               for i in range(0, len(areas), block)]
    return {"video_results": path, "frames": int(len(areas)), "initial_area": float(areas[0]),
            f"median_area_per_{block}_frames_x_initial": medians}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", default=[],
                        metavar="REPORT.json:TRACKER[@RESULTS_DIR]")
    parser.add_argument("--video-results", action="append", default=[], metavar="FILE")
    args = parser.parse_args(argv)
    if not args.run and not args.video_results:
        parser.error("give at least one --run or --video-results")
    out = {"runs": [run_stats(s) for s in args.run],
           "videos": [video_stats(p) for p in args.video_results]}
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
