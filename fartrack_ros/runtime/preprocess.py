"""Crop -> network input, shared by every backend (as the official tracker: RGB, ImageNet mean/std).

The order is the official one (float, /255, -mean, /std) so fp32 backends see bit-identical inputs.
"""
from __future__ import annotations

import numpy as np
import torch

from fartrack_ros.data.images import IMAGENET_MEAN, IMAGENET_STD


class Normalizer:
    """uint8 RGB crops (H, W, 3) -> normalised float tensors (1, 3, H, W) on ``device``."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    def __call__(self, crop_rgb: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(crop_rgb).to(self.device, non_blocking=True)
        x = x.float().permute(2, 0, 1).unsqueeze(0)
        return ((x / 255.0) - self.mean) / self.std

