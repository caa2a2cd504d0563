"""Square context crops around a box, exactly as the official tracker takes them.

``sample_target`` mirrors the official ``processing_utils.sample_target``:
side ``S = ceil(sqrt(w*h) * factor)``, origin rounded with Python's round-half-even, zero
padding with the official right/bottom off-by-one (the last image row/column is dropped when the
window reaches the edge), one bilinear ``cv2.resize`` on uint8. Only the area that lies inside the
image is copied; when no padding is needed the resize reads the image in place (one resample,
no intermediate copy).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np


@dataclass(frozen=True)
class CropWindow:
    """Where a crop was taken: side ``side`` px in the image, scaled by ``resize_factor``."""

    x1: int
    y1: int
    side: int
    resize_factor: float  # out_size / side


def crop_side(box_xywh: Sequence[float], factor: float) -> int:
    _, _, w, h = box_xywh
    side = math.ceil(math.sqrt(w * h) * factor)
    if side < 1:
        raise ValueError(f"box {list(box_xywh)} is too small to crop (side {side} px)")
    return side


def sample_target(image: np.ndarray, box_xywh: Sequence[float], factor: float,
                  out_size: int) -> tuple[np.ndarray, CropWindow]:
    """Crop a ``factor``-times-box square around the box centre and resize it to ``out_size``."""
    x, y, w, h = box_xywh
    side = crop_side(box_xywh, factor)
    x1 = round(x + 0.5 * w - side * 0.5)
    y1 = round(y + 0.5 * h - side * 0.5)
    x2, y2 = x1 + side, y1 + side
    img_h, img_w = image.shape[:2]
    pad_left = max(0, -x1)
    pad_top = max(0, -y1)
    pad_right = max(x2 - img_w + 1, 0)   # official off-by-one: +1
    pad_bottom = max(y2 - img_h + 1, 0)
    window = CropWindow(x1, y1, side, out_size / side)
    inner = image[y1 + pad_top:y2 - pad_bottom, x1 + pad_left:x2 - pad_right]
    if pad_left == pad_top == pad_right == pad_bottom == 0:
        return cv2.resize(inner, (out_size, out_size)), window
    if inner.shape[0] <= 0 or inner.shape[1] <= 0:   # window entirely outside the image
        shape = (out_size, out_size) + image.shape[2:]
        return np.zeros(shape, dtype=image.dtype), window
    padded = cv2.copyMakeBorder(inner, pad_top, pad_bottom, pad_left, pad_right,
                                cv2.BORDER_CONSTANT, value=0)
    return cv2.resize(padded, (out_size, out_size)), window


def box_xywh_in_crop(box_xywh: Sequence[float], centre_box_xywh: Sequence[float],
                     resize_factor: float, out_size: int) -> np.ndarray:
    """Map an image box into a crop centred on ``centre_box_xywh`` (pytracking's transform).

    Returns the box in crop pixels (xywh). Used for training targets.
    """
    box = np.asarray(box_xywh, dtype=np.float64)
    ref = np.asarray(centre_box_xywh, dtype=np.float64)
    box_centre = box[:2] + 0.5 * box[2:]
    ref_centre = ref[:2] + 0.5 * ref[2:]
    centre = (out_size - 1) / 2 + (box_centre - ref_centre) * resize_factor
    size = box[2:] * resize_factor
    return np.concatenate([centre - 0.5 * size, size])


def box_cxcywh_from_crop(box_cxcywh: Sequence[float], prev_box_xywh: Sequence[float],
                         resize_factor: float, out_size: int) -> list[float]:
    """Back-project a box measured from the crop origin, in image-pixel units, to image xywh.

    ``box_cxcywh`` is the decoded box in crop units times ``S = out_size / resize_factor``
    (official ``map_box_back``).

    Uses the continuous crop origin ``centre_prev - S/2`` with ``S = out_size / resize_factor``,
    not the rounded integer origin of the crop (a known up-to-0.5 px parity item).
    """
    cx_prev = prev_box_xywh[0] + 0.5 * prev_box_xywh[2]
    cy_prev = prev_box_xywh[1] + 0.5 * prev_box_xywh[3]
    cx, cy, w, h = box_cxcywh
    half_side = 0.5 * out_size / resize_factor
    cx_real = cx + (cx_prev - half_side)
    cy_real = cy + (cy_prev - half_side)
    return [cx_real - 0.5 * w, cy_real - 0.5 * h, w, h]
