#!/usr/bin/env python3
"""Accuracy of the reduced-precision backends against the fp32 ``torch`` backend.

For each variant and generated sequence:
- closed loop: both trackers run on their own; ``mean_iou`` is the mean IoU of the reduced
  backend's boxes against the fp32 boxes (the figure docs/performance.md requires, target 0.97);
- open loop: the reduced backend sees exactly the fp32 tracker's inputs every frame;
  ``open_loop_coord_err_px`` is the mean |coordinate difference| in search-crop pixels and
  ``argmax_agreement`` the share of coordinates whose most likely bin is the same.

Without ``--weights`` a random model is used: it does not track anything, its coordinate
distributions are nearly flat and a closed loop amplifies any difference, so its IoU says little
about a trained model. Run with the trained weights for the figure that counts.

    python scripts/precision_report.py --weights W.safetensors --backends onnxruntime-int8 torch-bf16
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fartrack_ros.config import TrackerConfig  # noqa: E402
from fartrack_ros.evaluation.metrics import iou_continuous_xywh  # noqa: E402
from fartrack_ros.runtime.backends import create_backend  # noqa: E402
from fartrack_ros.runtime.backends.validation import (ShadowBackend,  # noqa: E402
                                                      open_loop_coordinate_errors_px,
                                                      save_random_weights,
                                                      synthetic_sequence, track_sequence)
from fartrack_ros.runtime.tracker import FARTrackTracker, build_tracker  # noqa: E402


def report_backend(weights: Path, variant: str, name: str, seeds: list[int], frames: int) -> dict:
    ious, errors, agree = [], [], []
    for seed in seeds:
        clip, box = synthetic_sequence(frames, seed=seed)
        fp32 = build_tracker(TrackerConfig(weights=str(weights), variant=variant, backend="torch"))
        reduced = build_tracker(TrackerConfig(weights=str(weights), variant=variant, backend=name))
        ref_boxes = track_sequence(fp32, clip, box)
        ious.append(iou_continuous_xywh(track_sequence(reduced, clip, box), ref_boxes))
        shadow = ShadowBackend(fp32.backend, create_backend(name, reduced.backend.model))
        track_sequence(FARTrackTracker(shadow), clip, box)
        errors.append(open_loop_coordinate_errors_px(shadow.pairs))
        agree.append(np.array([(a.argmax(-1) == b.argmax(-1)) for a, b in shadow.pairs]))
    iou = np.concatenate(ious)
    return {"mean_iou": round(float(iou.mean()), 4),
            "min_sequence_mean_iou": round(float(min(i.mean() for i in ious)), 4),
            "open_loop_coord_err_px": round(float(np.concatenate(errors).mean()), 3),
            "argmax_agreement": round(float(np.concatenate(agree).mean()), 4),
            "frames": int(iou.size)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", help="weights file (default: a random sparse model)")
    p.add_argument("--variants", nargs="+", default=["pico", "nano", "tiny"])
    p.add_argument("--backends", nargs="+", default=["onnxruntime-int8", "torch-bf16"])
    p.add_argument("--sequences", type=int, default=3)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    logging.disable(logging.WARNING)        # onnxruntime.quantization's advice on stderr
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(args.weights) if args.weights else save_random_weights(Path(tmp) / "random.safetensors")
        out = {"weights": str(args.weights or "random"), "sequences": args.sequences,
               "frames_per_sequence": args.frames, "variants": {}}
        for variant in args.variants:
            out["variants"][variant] = {
                name: report_backend(weights, variant, name, list(range(args.sequences)), args.frames)
                for name in args.backends}
            print(json.dumps({variant: out["variants"][variant]}), file=sys.stderr)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
