"""Inputs of the learned confidence head (``fartrack_ros.model.score_head``), computed from what
the tracker already has for every backend: the 4x605 coordinate logits, the decoded box, the box
the search crop was centred on, the initial box and the frame.

* the 4 coordinate distributions (softmax over the 600 coordinate bins): per coordinate the log
  of the mass within +-4 bins of the argmax (the heuristic score's factor), the normalised
  entropy, the mass of the strongest competing mode (outside +-12 bins of the argmax), the
  argmax-vs-expectation spread and the standard deviation (both in bins, log1p);
* the heuristic score (geometric mean of the peak masses);
* the box against the box the search crop was centred on (relative size change, centre shift
  relative to size), against the initial box (log area and aspect ratios), its size relative to
  the frame, and how much of it the frame clips;
* appearance: normalised cross-correlation of a 16x16 grey thumbnail of the box with the initial
  target's, and the correlation of their hue-saturation histograms.

Every input is relative to the crop the forward ran on, so the same head scores the crops that
re-acquisition places elsewhere in the frame.
"""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from fartrack_ros.core.tokenizer import NUM_COORD_BINS, softmax_coord_bins

_COORDS = ("x0", "y0", "x1", "y1")
_PER_COORD = ("log_peak_mass", "entropy", "second_mode", "argmax_vs_mean", "spread")
FEATURE_NAMES = tuple(f"{c}_{f}" for f in _PER_COORD for c in _COORDS) + (
    "heuristic_score", "min_log_peak_mass",
    "log_w_change", "log_h_change", "centre_shift_x", "centre_shift_y",
    "log_area_vs_initial", "log_aspect_vs_initial", "log_size_vs_frame", "clipped_share",
    "thumbnail_ncc", "colour_hist_corr")
NUM_FEATURES = len(FEATURE_NAMES)

_BIN_INDEX = np.arange(NUM_COORD_BINS, dtype=np.float64)
_LOG_BINS = float(np.log(NUM_COORD_BINS))
_THUMB = 16


# --------------------------------------------------------------------------- features

def distribution_features(logits: np.ndarray, half_window: int = 4,
                          mode_gap: int = 12) -> np.ndarray:
    """(4, 605) logits -> (5, 4) per-coordinate features (rows in ``_PER_COORD`` order)."""
    probs = softmax_coord_bins(np.asarray(logits).reshape(4, -1)).astype(np.float64)
    peak = probs.argmax(axis=-1)
    out = np.empty((5, 4))
    for i, (row, k) in enumerate(zip(probs, peak)):
        lo, hi = max(0, k - half_window), min(NUM_COORD_BINS, k + half_window + 1)
        mass = row[lo:hi].sum()
        far = row.copy()
        far[max(0, k - mode_gap):min(NUM_COORD_BINS, k + mode_gap + 1)] = 0.0
        mean = float((row * _BIN_INDEX).sum())
        var = float((row * (_BIN_INDEX - mean) ** 2).sum())
        out[0, i] = np.log(max(mass, 1e-12))
        out[1, i] = float(-(row * np.log(np.clip(row, 1e-12, 1.0))).sum()) / _LOG_BINS
        out[2, i] = float(far.max())
        out[3, i] = np.log1p(abs(k - mean))
        out[4, i] = np.log1p(np.sqrt(max(var, 0.0)))
    return out


def _thumbnail(image: np.ndarray, box_xywh: Sequence[float]) -> Optional[np.ndarray]:
    h, w = image.shape[:2]
    x, y, bw, bh = box_xywh
    x0, y0 = int(max(0, np.floor(x))), int(max(0, np.floor(y)))
    x1, y1 = int(min(w, np.ceil(x + bw))), int(min(h, np.ceil(y + bh)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return cv2.resize(image[y0:y1, x0:x1], (_THUMB, _THUMB), interpolation=cv2.INTER_AREA)


class Appearance:
    """The initial target's thumbnail and colour histogram, to compare later boxes with."""

    def __init__(self, image: np.ndarray, box_xywh: Sequence[float]):
        thumb = _thumbnail(image, box_xywh)
        self.grey, self.hist = _describe(thumb) if thumb is not None else (None, None)

    def compare(self, image: np.ndarray, box_xywh: Sequence[float]) -> tuple[float, float]:
        thumb = _thumbnail(image, box_xywh)
        if thumb is None or self.grey is None:
            return 0.0, 0.0
        grey, hist = _describe(thumb)
        ncc = float((grey * self.grey).mean())
        corr = float(cv2.compareHist(hist, self.hist, cv2.HISTCMP_CORREL))
        return ncc, corr


def _describe(thumb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    grey = cv2.cvtColor(thumb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = (grey - grey.mean()) / (grey.std() + 1e-3)
    hsv = cv2.cvtColor(thumb, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [8, 4], [0, 180, 0, 256])
    return grey, hist


def confidence_features(logits: np.ndarray, box_xywh: Sequence[float],
                        crop_box_xywh: Sequence[float], initial_box_xywh: Sequence[float],
                        image: np.ndarray, appearance: Appearance,
                        unclipped_box_xywh: Optional[Sequence[float]] = None) -> np.ndarray:
    """The ``FEATURE_NAMES`` vector (float32) of one forward.

    ``box_xywh``: the decoded box after clipping; ``crop_box_xywh``: the box the search crop was
    centred on; ``unclipped_box_xywh``: the decoded box before clipping (for ``clipped_share``).
    """
    dist = distribution_features(logits)
    heuristic = float(np.exp(dist[0].mean()))
    x, y, w, h = (float(v) for v in box_xywh)
    cx, cy, cw, ch = (float(v) for v in crop_box_xywh)
    _, _, iw, ih = (float(v) for v in initial_box_xywh)
    w, h, cw, ch, iw, ih = (max(v, 1e-3) for v in (w, h, cw, ch, iw, ih))
    height, width = image.shape[:2]
    clipped = 0.0
    if unclipped_box_xywh is not None:
        ux, uy, uw, uh = (float(v) for v in unclipped_box_xywh)
        area = max(uw * uh, 1e-6)
        inside = (max(0.0, min(ux + uw, width) - max(ux, 0.0))
                  * max(0.0, min(uy + uh, height) - max(uy, 0.0)))
        clipped = 1.0 - min(1.0, inside / area)
    ncc, corr = appearance.compare(image, box_xywh)
    geometry = [
        heuristic, float(dist[0].min()),
        np.log(w / cw), np.log(h / ch),
        abs((x + w / 2) - (cx + cw / 2)) / cw, abs((y + h / 2) - (cy + ch / 2)) / ch,
        np.log((w * h) / (iw * ih)), np.log((w / h) / (iw / ih)),
        np.log(np.sqrt(w * h) / np.sqrt(width * height)), clipped, ncc, corr]
    return np.concatenate([dist.reshape(-1), np.asarray(geometry, dtype=np.float64)]
                          ).astype(np.float32)
