"""Small deterministic synthetic clips, for comparing and timing trackers without data on disk.

``synthetic_sequence`` draws a textured object drifting and scaling over a textured background
(RGB frames and the first box), as the backend checks and the benchmarks use it.
``SyntheticScene`` is a textured square on a smooth Lissajous path, drawn frame by frame on
demand (BGR, endless), with its true box: the camera stand-in of the ROS tools publishes it.
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


def _noise_texture(rng: np.random.Generator, height: int, width: int, low: int, high: int,
             blur: int) -> np.ndarray:
    noise = rng.integers(low, high, size=(height, width, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (blur, blur), 0) if blur > 1 else noise


class SyntheticScene:
    """A textured square on a smooth Lissajous path over a textured background."""

    def __init__(self, size_wh: tuple[int, int] = (640, 480), seed: int = 0,
                 period_frames: int = 150) -> None:
        self.width, self.height = size_wh
        rng = np.random.default_rng(seed)
        self.background = _noise_texture(rng, self.height, self.width, 0, 140, 5)
        side = max(12, int(0.18 * min(self.width, self.height)))
        self.target_wh = (side, int(round(side * 0.8)))
        patch = _noise_texture(rng, self.target_wh[1], self.target_wh[0], 120, 256, 3)
        cv2.rectangle(patch, (0, 0), (self.target_wh[0] - 1, self.target_wh[1] - 1),
                      (255, 255, 255), 2)
        self.patch = patch
        self.period = period_frames

    def box_xywh(self, index: int) -> tuple[float, float, float, float]:
        w, h = self.target_wh
        phase = 2 * math.pi * index / self.period
        cx = self.width / 2 + 0.3 * self.width * math.sin(phase)
        cy = self.height / 2 + 0.25 * self.height * math.sin(2 * phase)
        return float(round(cx - w / 2)), float(round(cy - h / 2)), float(w), float(h)

    def frame_bgr(self, index: int) -> np.ndarray:
        x, y, w, h = (int(v) for v in self.box_xywh(index))
        frame = self.background.copy()
        frame[y:y + h, x:x + w] = self.patch
        return frame
