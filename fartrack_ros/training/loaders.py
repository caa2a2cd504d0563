"""PyTorch data plumbing: map-style sets whose item ``i`` of epoch ``e`` is a pure function of
``(seed, e, i)``, a sampler that splits an epoch's indices over distributed ranks and can start
mid-epoch (resume), and the normalisation of uint8 crops on the training device.
"""
from __future__ import annotations

from typing import Iterator, Optional

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from fartrack_ros.data.images import IMAGENET_MEAN, IMAGENET_STD
from fartrack_ros.training.processing import ClipSample, ProcessingConfig, process_clip_pick, process_frame_pick

MAX_REDRAWS = 100


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, epoch, index]))


class EpochDataset(Dataset):
    """``samples_per_epoch`` items per epoch drawn by ``sampler``; item i of epoch e uses seed (seed, e, i)."""

    def __init__(self, sampler, processing: ProcessingConfig, samples_per_epoch: int, seed: int = 0):
        if samples_per_epoch < 1:
            raise ValueError(f"samples_per_epoch must be >= 1, got {samples_per_epoch}")
        self.sampler = sampler
        self.processing = processing
        self.samples_per_epoch = samples_per_epoch
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.samples_per_epoch


class FrameTrainingSet(EpochDataset):
    """Stage 1 / 2 samples (a :class:`CausalFrameSampler`): dicts of tensors (uint8 crops,
    brightness factors, targets)."""

    def __getitem__(self, index: int) -> dict:
        rng = sample_rng(self.seed, self.epoch, index)
        for _ in range(MAX_REDRAWS):
            pick = self.sampler.sample(rng)
            sample = process_frame_pick(rng, pick, self.processing)
            if sample is not None:
                return {"templates": torch.from_numpy(sample.templates),
                        "search": torch.from_numpy(sample.search),
                        "template_brightness": torch.from_numpy(sample.template_brightness),
                        "search_brightness": torch.tensor(float(sample.search_brightness)),
                        "search_box_xyxy": torch.from_numpy(sample.search_box_xyxy),
                        "target_tokens": torch.from_numpy(sample.target_tokens)}
        raise ValueError(f"no valid sample after {MAX_REDRAWS} draws (epoch {self.epoch}, item {index}); "
                         "do the boxes lie inside the frames?")


class ClipTrainingSet(EpochDataset):
    """Stage 3 samples (a :class:`ClipSampler`): :class:`ClipSample` (templates + full frames);
    collate with :func:`collate_clips`."""

    def __getitem__(self, index: int) -> ClipSample:
        return process_clip_pick(self.sampler.sample(sample_rng(self.seed, self.epoch, index)),
                                 self.processing)


def collate_clips(batch: list) -> list:
    return list(batch)


class EpochSampler(Sampler[int]):
    """Indices ``start .. len-1`` of one epoch, every ``world``-th from ``rank``.

    Items are already random (drawn from their own seeds), so no shuffling is needed; a resumed
    epoch starts at the first index not yet trained on.
    """

    def __init__(self, length: int, rank: int = 0, world: int = 1, start: int = 0):
        self.length, self.rank, self.world, self.start = length, rank, world, start

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start + self.rank, self.length, self.world))

    def __len__(self) -> int:
        return len(range(self.start + self.rank, self.length, self.world))


def worker_init(_worker_id: int) -> None:
    """Data-loader workers: one OpenCV / torch thread each (the trainer owns the cores)."""
    import cv2
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def normalize_crops(crops_uint8: torch.Tensor, brightness: Optional[torch.Tensor] = None) -> torch.Tensor:
    """uint8 RGB crops (..., H, W, 3) -> normalised float (..., 3, H, W) on their device.

    ``brightness`` (...,) multiplies each crop after /255 with a clamp to [0, 1], as the official
    ``ToTensorAndJitter``; then the ImageNet mean / std (the tracker's normalisation).
    """
    x = crops_uint8.movedim(-1, -3).float() / 255.0
    if brightness is not None:
        x = (x * brightness.to(x.dtype)[..., None, None, None]).clamp(0.0, 1.0)
    mean = torch.tensor(IMAGENET_MEAN, device=x.device, dtype=x.dtype).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device, dtype=x.dtype).view(3, 1, 1)
    return (x - mean) / std
