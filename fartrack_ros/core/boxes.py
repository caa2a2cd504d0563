"""Box geometry as small pure functions; the box format is in every name.

Formats: ``xywh`` = top-left x, y, width, height (float pixels, no +1, the pytracking and
GOT-10k convention); ``xyxy`` = corners; ``cxcywh`` = centre and size. Functions accept a
single box (shape (4,)) or a stack (shape (..., 4)).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def xywh_to_xyxy(box: np.ndarray) -> np.ndarray:
    b = np.asarray(box, dtype=np.float64)
    return np.concatenate([b[..., :2], b[..., :2] + b[..., 2:4]], axis=-1)


def xyxy_to_xywh(box: np.ndarray) -> np.ndarray:
    b = np.asarray(box, dtype=np.float64)
    return np.concatenate([b[..., :2], b[..., 2:4] - b[..., :2]], axis=-1)


def xywh_to_cxcywh(box: np.ndarray) -> np.ndarray:
    b = np.asarray(box, dtype=np.float64)
    return np.concatenate([b[..., :2] + 0.5 * b[..., 2:4], b[..., 2:4]], axis=-1)


def cxcywh_to_xywh(box: np.ndarray) -> np.ndarray:
    b = np.asarray(box, dtype=np.float64)
    return np.concatenate([b[..., :2] - 0.5 * b[..., 2:4], b[..., 2:4]], axis=-1)


def iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes in xywh (broadcasting); 0 where the union is empty."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ax1, ay1 = a[..., 0], a[..., 1]
    ax2, ay2 = ax1 + a[..., 2], ay1 + a[..., 3]
    bx1, by1 = b[..., 0], b[..., 1]
    bx2, by2 = bx1 + b[..., 2], by1 + b[..., 3]
    iw = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0, None)
    ih = np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0, None)
    inter = iw * ih
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def clip_box_xywh(box: Sequence[float], height: int, width: int, margin: int = 10) -> list[float]:
    """The official tracker's ``clip_box``: keep at least ``margin`` px of the box inside the image.

    Works on Python floats (the official state is a list of floats), so results are bit-identical.
    """
    x1, y1, w, h = box
    x2, y2 = x1 + w, y1 + h
    x1 = min(max(0, x1), width - margin)
    x2 = min(max(margin, x2), width)
    y1 = min(max(0, y1), height - margin)
    y2 = min(max(margin, y2), height)
    w = max(margin, x2 - x1)
    h = max(margin, y2 - y1)
    return [x1, y1, w, h]


def validate_box_xywh(box: Sequence[float], height: int, width: int) -> tuple[float, float, float, float]:
    """Return the box as 4 floats or raise ValueError naming what is wrong with it.

    A valid target box is finite, has positive width and height and overlaps the image.
    """
    try:
        values = [float(v) for v in box]
    except (TypeError, ValueError):
        raise ValueError(f"box must be 4 numbers x, y, w, h; got {box!r}") from None
    if len(values) != 4:
        raise ValueError(f"box must be 4 numbers x, y, w, h; got {len(values)} values")
    x, y, w, h = values
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"box {values} has a non-finite value")
    if w <= 0 or h <= 0:
        raise ValueError(f"box {values} has zero or negative size (w={w}, h={h})")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise ValueError(f"box {values} lies outside the {width}x{height} image")
    return x, y, w, h
