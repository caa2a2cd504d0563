"""Small synthetic data sets in the official layouts, written to a temporary folder."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def moving_square_frames(num_frames: int, size_wh=(64, 48), seed: int = 0):
    """BGR frames of a textured square moving over a textured background, and its xywh boxes."""
    rng = np.random.default_rng(seed)
    width, height = size_wh
    background = rng.integers(0, 120, size=(height, width, 3), dtype=np.uint8)
    patch = rng.integers(140, 256, size=(14, 16, 3), dtype=np.uint8)
    frames, boxes = [], []
    for i in range(num_frames):
        x, y = 8 + 2 * i, 10 + i
        image = background.copy()
        image[y:y + 14, x:x + 16] = patch
        frames.append(image)
        boxes.append((float(x), float(y), 16.0, 14.0))
    return frames, np.asarray(boxes)


def write_got10k_split(root: Path, num_sequences: int = 2, num_frames: int = 6,
                       with_meta: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    names = [f"GOT-10k_Val_{i + 1:06d}" for i in range(num_sequences)]
    for s, name in enumerate(names):
        seq_dir = root / name
        seq_dir.mkdir()
        frames, boxes = moving_square_frames(num_frames, seed=s)
        for i, frame in enumerate(frames):
            cv2.imwrite(str(seq_dir / f"{i + 1:08d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        np.savetxt(seq_dir / "groundtruth.txt", boxes, fmt="%.4f", delimiter=",")
        cover = np.full(num_frames, 8, dtype=int)
        cover[-1] = 0                                   # last frame: target invisible
        np.savetxt(seq_dir / "cover.label", cover, fmt="%d")
        np.savetxt(seq_dir / "absence.label", (cover == 0).astype(int), fmt="%d")
        np.savetxt(seq_dir / "cut_by_image.label", np.zeros(num_frames, dtype=int), fmt="%d")
        if with_meta:
            (seq_dir / "meta_info.ini").write_text(
                "[METAINFO]\nobject_class: square\nresolution: (64, 48)\n")
    (root / "list.txt").write_text("\n".join(names) + "\n")
    return root
