"""Checks shared by the backend tests, the benchmark and the reduced-precision reports.

``track_sequence`` runs a tracker over a clip (e.g. ``fartrack_ros.data.synthetic.synthetic_sequence``);
``box_differences_px`` compares two runs' boxes (IoU: ``fartrack_ros.evaluation.metrics``);
``ShadowBackend`` runs two backends on the same inputs (open loop); ``save_random_weights``
writes a random model for speed and parity checks.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def save_random_weights(path, seed: int = 0):
    """A randomly initialised 15-block sparse model saved at ``path``: for speed and parity
    checks, where the weights' values do not matter."""
    import torch

    from fartrack_ros.config import ModelConfig
    from fartrack_ros.model.checkpoint import save_weights
    from fartrack_ros.model.fartrack import FARTrack

    torch.manual_seed(seed)
    return save_weights(path, FARTrack(ModelConfig(stage="sparse", depth=15)))


def track_sequence(tracker, frames: Sequence[np.ndarray], box_xywh) -> np.ndarray:
    """Initialise on frame 0 and track the rest; (N-1, 4) float64 boxes xywh."""
    tracker.initialize(frames[0], box_xywh)
    return np.array([tracker.track(f).box_xywh for f in frames[1:]], dtype=np.float64)


def box_differences_px(boxes_a_xywh: np.ndarray, boxes_b_xywh: np.ndarray) -> np.ndarray:
    """Largest absolute coordinate difference per frame, pixels."""
    a, b = np.asarray(boxes_a_xywh, np.float64), np.asarray(boxes_b_xywh, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"box arrays differ in shape: {a.shape} vs {b.shape}")
    return np.abs(a - b).max(axis=-1)


class ShadowBackend:
    """Runs ``primary`` for the tracker and ``shadow`` on exactly the same inputs.

    The tracker follows the primary's outputs, so the recorded logit pairs compare the two
    backends frame by frame without the drift a closed tracking loop adds (open loop).
    """

    def __init__(self, primary, shadow):
        self.primary, self.shadow = primary, shadow
        self.cfg, self.model = primary.cfg, primary.model
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []

    def prepare_template(self, crop_rgb: np.ndarray):
        return self.primary.prepare_template(crop_rgb), self.shadow.prepare_template(crop_rgb)

    def infer(self, templates, keeps, search_rgb):
        out = self.primary.infer([t[0] for t in templates], keeps, search_rgb)
        other = self.shadow.infer([t[1] for t in templates], keeps, search_rgb)
        self.pairs.append((out.logits.copy(), other.logits.copy()))
        return out

    def decode_box(self, logits: np.ndarray, resize_factor: float) -> list[float]:
        return self.primary.decode_box(logits, resize_factor)


def _decoded_pairs(pairs) -> tuple[np.ndarray, np.ndarray]:
    """The two backends' decoded crop-normalised xyxy coordinates, (frames, 4) each."""
    from fartrack_ros.core.tokenizer import decode_sparse

    return tuple(np.stack([decode_sparse(p[side]) for p in pairs]).astype(np.float64)
                 for side in (0, 1))


def open_loop_coordinate_errors_px(pairs, search_size: int = 224) -> np.ndarray:
    """|decoded coordinate difference| in search-crop pixels, (frames, 4), from logit pairs."""
    a, b = _decoded_pairs(pairs)
    return np.abs(a - b) * search_size


def open_loop_box_ious(pairs) -> np.ndarray:
    """IoU of the two decoded boxes per frame, (frames,), from logit pairs.

    Both boxes come from the same search crop, and one crop maps to the image by one scale and
    shift, so this is also their IoU in the image (before the tracker clips boxes to it)."""
    from fartrack_ros.core.boxes import iou_xywh, xyxy_to_xywh

    a, b = (xyxy_to_xywh(xyxy) for xyxy in _decoded_pairs(pairs))
    for xywh in (a, b):
        xywh[:, 2:] = np.clip(xywh[:, 2:], 0.0, None)     # an inverted box covers nothing
    return iou_xywh(a, b)
