"""Accuracy of the reduced-precision backends against the fp32 ``torch`` backend:
``fartrack precision``.

For each variant and sequence:
- closed loop: both trackers run on their own; ``mean_iou`` is the mean IoU of the reduced
  backend's boxes against the fp32 boxes (the figure docs/performance.md reports);
- the noise floor of that figure: the fp32 tracker started from an initial box moved by
  ``floor_shift_px`` (default half a pixel), against the unshifted fp32 boxes;
- on annotated sequences, ``ao_vs_ground_truth``: each run's average overlap with the ground truth;
- open loop: the reduced backend sees exactly the fp32 tracker's inputs every frame;
  ``open_loop_coord_err_px`` is the mean |coordinate difference| in search-crop pixels and
  ``argmax_agreement`` the share of coordinates whose most likely bin is the same, and
  ``open_loop_mean_iou`` the mean IoU of the two backends' boxes for the same input.

Without weights a random model is used: it does not track anything, its coordinate
distributions are nearly flat and a closed loop amplifies any difference, so its IoU says little
about a trained model. The figure that counts is the trained weights' on the generated test
split (GOT-10k layout) rather than on the built-in synthetic clips.
"""
from __future__ import annotations

import json
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fartrack_ros.config import TrackerConfig
from fartrack_ros.data.eval_sets import read_eval_sequences
from fartrack_ros.data.images import read_image_rgb
from fartrack_ros.data.synthetic import synthetic_sequence
from fartrack_ros.runtime.backends import create_backend
from fartrack_ros.runtime.tracker import FARTrackTracker, build_tracker
from fartrack_ros.evaluation.backend_checks import (ShadowBackend, open_loop_box_ious,
                                                    open_loop_coordinate_errors_px,
                                                    save_random_weights, track_sequence)
from fartrack_ros.evaluation.metrics import iou_continuous_xywh


@dataclass
class Clip:
    frames: list[np.ndarray]
    init_box_xywh: tuple[float, float, float, float]
    gt_xywh: np.ndarray | None = None          # frames 1.. (the tracked ones), when annotated


def synthetic_clips(count: int, frames: int) -> list[Clip]:
    return [Clip(*synthetic_sequence(frames, seed=seed)) for seed in range(count)]


def dataset_clips(root: Path, count: int, frames: int) -> list[Clip]:
    """The first ``count`` sequences of a GOT-10k-layout folder, at most ``frames`` frames each."""
    clips = []
    for seq in read_eval_sequences(Path(root), "got10k")[:count]:
        paths = seq.frame_paths[:frames]
        gt = seq.gt_xywh[1:len(paths)] if seq.has_full_ground_truth else None
        clips.append(Clip([read_image_rgb(path) for path in paths], seq.init_box_xywh, gt))
    return clips


def shifted_xywh(box, shift_px: float) -> tuple[float, float, float, float]:
    x, y, w, h = box
    return (x + shift_px, y + shift_px, w, h)


def ao_vs_ground_truth(runs: list[np.ndarray], clips: list[Clip]) -> dict:
    """{"ao_vs_ground_truth": mean per-clip IoU with the ground truth}, or {} if nothing is annotated."""
    per_clip = [iou_continuous_xywh(boxes, c.gt_xywh).mean() for boxes, c in zip(runs, clips)
                if c.gt_xywh is not None]
    return {"ao_vs_ground_truth": round(float(np.mean(per_clip)), 4)} if per_clip else {}


def closed_loop_summary(runs: list[np.ndarray], clips: list[Clip], fp32_boxes: list[np.ndarray]) -> dict:
    """IoU of each clip's boxes against the fp32 boxes, and the AO against the ground truth."""
    ious = [iou_continuous_xywh(boxes, ref) for boxes, ref in zip(runs, fp32_boxes)]
    return {"mean_iou": round(float(np.concatenate(ious).mean()), 4),
            "min_sequence_mean_iou": round(float(min(i.mean() for i in ious)), 4),
            **ao_vs_ground_truth(runs, clips)}


def report_variant(weights: Path, variant: str, backends: list[str], clips: list[Clip],
                   threads: int, floor_shift_px: float) -> dict:
    def tracker(backend: str):
        return build_tracker(TrackerConfig(weights=str(weights), variant=variant, backend=backend,
                                           threads=threads))

    fp32_boxes = [track_sequence(tracker("torch"), c.frames, c.init_box_xywh) for c in clips]
    out = {"torch (fp32)": ao_vs_ground_truth(fp32_boxes, clips)}

    # The noise floor of the closed-loop figure: the fp32 tracker itself, started from a box moved
    # by a fraction of a pixel. A reduced backend cannot be expected to agree with fp32 better
    # than fp32 agrees with itself under a perturbation this small.
    shifted = [track_sequence(tracker("torch"), c.frames, shifted_xywh(c.init_box_xywh, floor_shift_px))
               for c in clips]
    out[f"torch (fp32), init box +{floor_shift_px} px"] = closed_loop_summary(shifted, clips, fp32_boxes)

    for name in backends:
        runs, errors, agree, box_ious = [], [], [], []
        for clip in clips:
            reduced = tracker(name)
            runs.append(track_sequence(reduced, clip.frames, clip.init_box_xywh))
            shadow = ShadowBackend(tracker("torch").backend, create_backend(name, reduced.backend.model))
            track_sequence(FARTrackTracker(shadow), clip.frames, clip.init_box_xywh)
            errors.append(open_loop_coordinate_errors_px(shadow.pairs))
            agree.append(np.array([(a.argmax(-1) == b.argmax(-1)) for a, b in shadow.pairs]))
            box_ious.append(open_loop_box_ious(shadow.pairs))
        out[name] = {**closed_loop_summary(runs, clips, fp32_boxes),
                     "open_loop_coord_err_px": round(float(np.concatenate(errors).mean()), 3),
                     "argmax_agreement": round(float(np.concatenate(agree).mean()), 4),
                     "open_loop_mean_iou": round(float(np.concatenate(box_ious).mean()), 4)}
    return out


def precision_report(variants: list[str], backends: list[str], weights: str | None = None,
                     dataset_root: str | None = None, sequences: int = 3, frames: int = 60,
                     threads: int = 2, floor_shift_px: float = 0.5) -> dict:
    """The report of every variant (JSON-ready); each variant's part also goes to stderr as soon
    as it is measured. ``dataset_root``: a GOT-10k-layout folder (default: synthetic clips)."""
    torch.set_num_threads(threads)
    logging.disable(logging.WARNING)        # onnxruntime.quantization's advice on stderr
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(weights) if weights else save_random_weights(Path(tmp) / "random.safetensors")
        clips = (dataset_clips(dataset_root, sequences, frames) if dataset_root
                 else synthetic_clips(sequences, frames))
        out = {"weights": str(weights or "random"),
               "sequences_from": str(dataset_root or "synthetic"), "sequences": len(clips),
               "frames": sum(len(clip.frames) for clip in clips), "variants": {}}
        for variant in variants:
            out["variants"][variant] = report_variant(path, variant, backends, clips, threads,
                                                      floor_shift_px)
            print(json.dumps({variant: out["variants"][variant]}), file=sys.stderr, flush=True)
    return out
