"""Small deterministic synthetic clips, for comparing and timing trackers without data on disk.

``synthetic_sequence`` draws a textured object drifting and scaling over a textured background
(RGB frames and the first box), as the backend checks and the benchmarks use it.
The generated training dataset's scenes (real photographs, occlusion, distractors) are in
``fartrack_ros.data.scenes``.
"""
from __future__ import annotations

import math

import cv2
import numpy as np


def _texture(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Smooth random RGB texture: a coarse random grid upsampled bicubically."""
    coarse = rng.integers(0, 256, size=(cells, cells, 3), dtype=np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def synthetic_sequence(num_frames: int, seed: int = 0, height: int = 240, width: int = 320
                       ) -> tuple[list[np.ndarray], tuple[float, float, float, float]]:
    """``num_frames`` RGB uint8 frames and the first frame's target box (xywh)."""
    if num_frames < 2:
        raise ValueError(f"a sequence needs at least 2 frames, got {num_frames}")
    rng = np.random.default_rng(seed)
    background = _texture(rng, height, width, 12)
    target = _texture(rng, 64, 64, 5)
    base_w, base_h = width * 0.18, height * 0.22
    frames, first_box = [], None
    for t in range(num_frames):
        phase = 2 * math.pi * t / max(num_frames, 8)
        scale = 1.0 + 0.25 * math.sin(phase)
        w, h = base_w * scale, base_h * scale
        cx = width * (0.5 + 0.25 * math.sin(phase))
        cy = height * (0.5 + 0.2 * math.sin(2 * phase))
        x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
        iw, ih = int(round(w)), int(round(h))
        frame = background.copy()
        frame[y0:y0 + ih, x0:x0 + iw] = cv2.resize(target, (iw, ih))
        frames.append(frame)
        if first_box is None:
            first_box = (float(x0), float(y0), float(iw), float(ih))
    return frames, first_box
