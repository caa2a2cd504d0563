"""The coordinate vocabulary: 600 coordinate bins + 4 command ids + 1 padding id.

Coordinates are normalised to the search crop (0 and 1 are its edges) and live in [-0.5, 1.5].
Two parity items of the official code are kept on purpose: quantisation and argmax decoding
divide by ``BINS - 1`` (299) while the expectation grid steps by ``1 / BINS`` (1/300), and the
sparse tracker's argmax estimate adds half a bin.
"""
from __future__ import annotations

import numpy as np

BINS = 300
COORD_RANGE = 2
NUM_COORD_BINS = BINS * COORD_RANGE          # 600
VOCAB_SIZE = NUM_COORD_BINS + 5              # 605
COMMAND_IDS = (600, 601, 602, 603)           # x0, y0, x1, y1
PADDING_ID = 604
COORD_MIN = -0.5 * COORD_RANGE + 0.5         # -0.5
COORD_MAX = 0.5 * COORD_RANGE + 0.5          # 1.5

# Expectation grid: -0.5 + k/300, k = 0..599 (the official inclusive-end range gives exactly these
# float32 values).
EXPECTATION_GRID = (-0.5 + np.arange(NUM_COORD_BINS, dtype=np.float64) / BINS).astype(np.float32)


def quantize_coords(coords: np.ndarray) -> np.ndarray:
    """Training targets of the frame and distill stages: floor((c + 0.5) * 299), c clamped."""
    c = np.clip(np.asarray(coords, dtype=np.float64), COORD_MIN, COORD_MAX)
    return np.floor((c + 0.5) * (BINS - 1)).astype(np.int64)


def dequantize_tokens(tokens: np.ndarray) -> np.ndarray:
    """Inverse used for the SIoU target: token / 299 - 0.5."""
    return np.asarray(tokens, dtype=np.float64) / (BINS - 1) - 0.5


def softmax_coord_bins(logits: np.ndarray) -> np.ndarray:
    """Softmax over the 600 coordinate bins only (the 5 special ids are excluded). float32."""
    x = np.asarray(logits, dtype=np.float32)[..., :NUM_COORD_BINS]
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def decode_sparse(logits: np.ndarray) -> np.ndarray:
    """Released sparse tracker's decode: mean of the argmax estimate and the expectation.

    ``logits``: (..., 605). Returns (...,) float32 normalised coordinates.
    """
    logits = np.asarray(logits, dtype=np.float32)
    argmax = logits.argmax(axis=-1).astype(np.float32)
    argmax_est = (argmax + np.float32(0.5)) / np.float32(BINS - 1) - np.float32(0.5)
    expectation = (softmax_coord_bins(logits) * EXPECTATION_GRID).sum(axis=-1, dtype=np.float32)
    return ((argmax_est + expectation) / np.float32(2)).astype(np.float32)


def decode_argmax(logits: np.ndarray) -> np.ndarray:
    """Frame-level and distill trackers' decode: argmax / 299 - 0.5."""
    argmax = np.asarray(logits).argmax(axis=-1).astype(np.float32)
    return argmax / np.float32(BINS - 1) - np.float32(0.5)


def coordinate_confidence(logits: np.ndarray, half_window: int = 4) -> float:
    """A confidence in [0, 1] derived from the 4 coordinate distributions.

    The official tracker has no score. For each coordinate we take the probability mass (over
    the 600 coordinate bins) within ``half_window`` bins of its most likely bin: a sharp, unimodal
    distribution gives ~1, a flat or multi-modal one (target gone, occluded, confused with a
    distractor) gives little. The score is the geometric mean over the 4 coordinates, so one
    uncertain edge is enough to lower it.
    """
    probs = softmax_coord_bins(np.asarray(logits).reshape(-1, np.asarray(logits).shape[-1]))
    peak = probs.argmax(axis=-1)
    masses = []
    for row, k in zip(probs, peak):
        lo, hi = max(0, k - half_window), min(NUM_COORD_BINS, k + half_window + 1)
        masses.append(float(row[lo:hi].sum()))
    mass = np.clip(np.asarray(masses, dtype=np.float64), 1e-12, 1.0)
    return float(np.exp(np.log(mass).mean()))
