#!/usr/bin/env python3
"""Paired per-sequence AO difference between two trackers, pooled over several splits.

Two trackers scored on the same sequences differ far less from each other than their AOs differ
from split to split, so comparing them sequence by sequence gives a much tighter answer than
comparing two overall AOs. Each ``--pair`` names two ``fartrack eval`` reports and a tracker in
each (``REPORT_A:TRACKER_A REPORT_B:TRACKER_B``); the per-sequence AO differences (A - B) of all
pairs are pooled and a bootstrap over sequences gives a 95 % interval of their mean. Prints JSON.

    python scripts/paired_ao.py \\
        --pair out/eval_v4/report/report.json:fartrack-nano out/eval_default/report/report.json:csrt \\
        --pair out/val/report/report.json:fartrack-nano out/val_csrt/report/report.json:csrt

The mean of per-sequence AOs is not the report's overall AO (which averages over frames), so the
two can differ by a few tenths.
"""
from __future__ import annotations

import argparse
import json
import sys

try:
    import numpy as np

    from fartrack_ros.evaluation.report import read_report_tracker
except ImportError:                    # not the project's Python: run again with .venv/bin/python
    from _venv import rerun_with_project_python
    rerun_with_project_python()


def sequence_aos(spec: str) -> dict[str, float]:
    try:
        report, tracker, _ = read_report_tracker(spec)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    return {name: s["ao"] for name, s in report["trackers"][tracker]["sequences"].items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pair", nargs=2, action="append", required=True,
                        metavar=("REPORT_A:TRACKER_A", "REPORT_B:TRACKER_B"))
    parser.add_argument("--resamples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    diffs, splits = [], []
    for a_spec, b_spec in args.pair:
        a, b = sequence_aos(a_spec), sequence_aos(b_spec)
        common = sorted(a.keys() & b.keys())
        if not common:
            raise SystemExit(f"{a_spec} and {b_spec} share no sequence")
        d = [100.0 * (a[k] - b[k]) for k in common]
        diffs += d
        splits.append({"a": a_spec, "b": b_spec, "sequences": len(common),
                       "mean_ao_diff": round(float(np.mean(d)), 2)})
    values = np.asarray(diffs)
    rng = np.random.default_rng(args.seed)
    boot = values[rng.integers(0, len(values), (args.resamples, len(values)))].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    json.dump({"sequences": len(values), "mean_ao_diff": round(float(values.mean()), 2),
               "ci95": [round(float(low), 2), round(float(high), 2)],
               "a_better_on": int((values > 0).sum()), "b_better_on": int((values < 0).sum()),
               "splits": splits}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
