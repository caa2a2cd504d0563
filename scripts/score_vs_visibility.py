#!/usr/bin/env python3
"""Print, as JSON, the tracker's mean confidence when the target is tracked, mis-tracked or gone.

    .venv/bin/python scripts/score_vs_visibility.py --dataset-root data/generated/test --variant pico
"""
import argparse
import json
import sys
from pathlib import Path

try:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    from fartrack_ros.config import TrackerConfig  # noqa: E402
    from fartrack_ros.evaluation.confidence import score_groups  # noqa: E402
    from fartrack_ros.data.eval_sets import read_eval_sequences  # noqa: E402
    from fartrack_ros.runtime.tracker import build_tracker  # noqa: E402
except ImportError:                    # not the project's Python: run again with .venv/bin/python
    from _venv import rerun_with_project_python
    rerun_with_project_python()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset-root", required=True)
    p.add_argument("--variant", default="pico", choices=["tiny", "nano", "pico"])
    p.add_argument("--weights", default=None)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    cfg = TrackerConfig(weights=args.weights, variant=args.variant, threads=args.threads)
    report = score_groups(lambda: build_tracker(cfg), read_eval_sequences(Path(args.dataset_root), "got10k"))
    print(json.dumps({"variant": args.variant, "lost_threshold": cfg.lost_threshold, **report}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
