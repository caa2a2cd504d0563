"""Text parsers of annotation files: box files, per-frame flags, name lists.

Numbers are separated by commas, tabs or spaces (the layouts of GOT-10k, LaSOT, OTB, TrackingNet
and UAV123 all occur); ``nan`` marks a frame without a box.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def read_numbers(path: Path, columns: int | None = None) -> np.ndarray:
    """Numbers separated by commas, tabs or spaces, one row per non-empty line -> float64 array.

    The word ``nan`` (any case) is accepted. With ``columns`` every row must have that many.
    """
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = line.replace(",", " ").replace("\t", " ").split()
        try:
            row = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"{path}:{lineno}: not a list of numbers: {line!r}") from None
        if columns is not None and len(row) != columns:
            raise ValueError(f"{path}:{lineno}: expected {columns} numbers, got {len(row)}: {line!r}")
        rows.append(row)
    if columns is not None:
        return np.asarray(rows, dtype=np.float64).reshape(-1, columns)
    return np.asarray(rows, dtype=np.float64)


def read_flags(path: Path, count: int) -> np.ndarray:
    """Per-frame integer labels: one per line (GOT-10k) or comma-separated on one line (LaSOT)."""
    values = read_numbers(path).reshape(-1)
    if values.size != count:
        raise ValueError(f"{path}: {values.size} labels for {count} frames")
    return values.astype(np.int64)


def positive_size(boxes_xywh: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.isfinite(boxes_xywh).all(axis=1) & (boxes_xywh[:, 2] > 0) & (boxes_xywh[:, 3] > 0)


def read_name_list(path: Path) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(f"sequence list not found: {path}")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def read_boxes_txt(path: Path) -> np.ndarray:
    """Read a non-empty (N, 4) box file (values separated by commas, tabs and/or spaces)."""
    boxes = read_numbers(Path(path), columns=4)
    if len(boxes) == 0:
        raise ValueError(f"box file is empty: {path}")
    return boxes
