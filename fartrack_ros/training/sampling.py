"""Which frames a training sample uses, as the official samplers pick them.

* :class:`CausalFrameSampler`: stage 1 / 2 (``TrackingSampler`` in "causal" mode): 5 template
  frames and 1 search frame, the search strictly after the templates. Slot 0 is the base
  (most recent) template, slots 1..4 are earlier frames, unsorted, as the official code does.
* :class:`ClipSampler`: stage 3 (``sequence_sampler_v3``, always sequential): 5 template frames
  sorted oldest first (as at inference) and a clip of 32 consecutive visible frames after them.

All randomness comes from the ``numpy.random.Generator`` passed in, so a sample is a pure
function of its random stream (reproducible, and independent of data-loader workers).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence as Seq

import numpy as np

from fartrack_ros.data.training_sets import Sequence, TrackingDataset


def sample_visible_ids(rng: np.random.Generator, visible: np.ndarray, num_ids: int,
                       min_id: int, max_id: int) -> Optional[list[int]]:
    """``num_ids`` visible frame indices in [min_id, max_id), drawn with replacement.

    The range is clipped to the sequence; None when it holds no visible frame (pytracking's
    ``_sample_visible_ids``).
    """
    min_id = max(0, min_id)
    max_id = min(len(visible), max_id)
    if max_id <= min_id:
        return None
    candidates = np.flatnonzero(visible[min_id:max_id]) + min_id
    if candidates.size == 0:
        return None
    return [int(v) for v in rng.choice(candidates, size=num_ids, replace=True)]


class DatasetMixture:
    """Picks a dataset (probability proportional to its weight), then a usable sequence of it."""

    def __init__(self, datasets: Seq[TrackingDataset], weights: Seq[float] | None = None):
        if not datasets:
            raise ValueError("no training datasets given")
        weights = [1.0] * len(datasets) if weights is None else list(weights)
        if len(weights) != len(datasets):
            raise ValueError(f"{len(weights)} weights for {len(datasets)} datasets")
        empty = [d.name for d in datasets if len(d) == 0]
        if empty:
            raise ValueError(f"training datasets without sequences: {empty}")
        self.datasets = list(datasets)
        w = np.asarray(weights, dtype=np.float64)
        self.probabilities = w / w.sum()

    def pick(self, rng: np.random.Generator, usable, max_tries: int = 1000):
        """(dataset, sequence) with ``usable(dataset, sequence)`` true; ValueError if none found."""
        for _ in range(max_tries):
            ds = self.datasets[int(rng.choice(len(self.datasets), p=self.probabilities))]
            seq = ds[int(rng.integers(len(ds)))]
            if usable(ds, seq):
                return ds, seq
        names = ", ".join(f"{d.name} ({len(d)})" for d in self.datasets)
        raise ValueError(f"no usable sequence found in {max_tries} draws from: {names}; "
                         "are the sequences long enough for this sampler?")


@dataclass(frozen=True)
class FramePick:
    dataset: TrackingDataset
    sequence: Sequence
    template_ids: list[int]     # slot order as the model sees them
    search_ids: list[int]


class CausalFrameSampler:
    """Stage 1 / 2 frame sampler.

    A sequence is usable when it has more than ``2 * (templates + searches)`` visible frames and
    at least 20 frames; image datasets (COCO) always are, and repeat their single frame.
    """

    def __init__(self, mixture: DatasetMixture, num_templates: int = 5, num_search: int = 1,
                 max_gap: int = 300, min_length: int = 20):
        if num_templates < 1 or num_search < 1:
            raise ValueError("need at least one template and one search frame")
        if max_gap < 1:
            raise ValueError(f"max_gap must be >= 1, got {max_gap}")
        self.mixture = mixture
        self.num_templates = num_templates
        self.num_search = num_search
        self.max_gap = max_gap
        self.min_length = min_length

    def usable(self, dataset: TrackingDataset, seq: Sequence) -> bool:
        if not dataset.is_video:
            return bool(seq.visible.any())
        enough = int(seq.visible.sum()) > 2 * (self.num_templates + self.num_search)
        return enough and len(seq) >= self.min_length

    def frame_ids(self, rng: np.random.Generator, visible: np.ndarray):
        """(template ids, search ids) or None when this sequence cannot give a causal pair."""
        gap_increase = 0
        n = len(visible)
        while gap_increase <= n + self.max_gap:       # the window has covered the sequence
            base = sample_visible_ids(rng, visible, 1, self.num_templates - 1, n - self.num_search)
            if base is None:
                return None
            prev = sample_visible_ids(rng, visible, self.num_templates - 1,
                                      base[0] - self.max_gap - gap_increase, base[0])
            if prev is None:
                gap_increase += 5
                continue
            templates = base + prev
            search = sample_visible_ids(rng, visible, self.num_search, templates[0] + 1,
                                        templates[0] + self.max_gap + gap_increase)
            gap_increase += 5
            if search is not None:
                return templates, search
        return None

    def sample(self, rng: np.random.Generator) -> FramePick:
        while True:
            ds, seq = self.mixture.pick(rng, self.usable)
            if not ds.is_video:
                frame = sample_visible_ids(rng, seq.visible, 1, 0, len(seq))[0]
                return FramePick(ds, seq, [frame] * self.num_templates, [frame] * self.num_search)
            ids = self.frame_ids(rng, seq.visible)
            if ids is not None:
                return FramePick(ds, seq, ids[0], ids[1])


@dataclass(frozen=True)
class ClipPick:
    dataset: TrackingDataset
    sequence: Sequence
    template_ids: list[int]     # sorted, oldest first (slot 0 = oldest, as at inference)
    clip_ids: list[int]         # clip_length frame indices; frame 0 initialises the rollout


class ClipSampler:
    """Stage 3 clip sampler (official ``sequence_sampler_v3`` with ``INTERVAL_PROB`` 0).

    A sequence is usable with more than ``2 * (clip + templates)`` visible frames and at least
    ``clip + templates`` frames. Templates: ``num_templates`` visible frames in
    [0, len - clip), with replacement, sorted. Start: a visible frame in
    [last template, min(len - clip, last template + max_gap)). Clip: the next ``clip_length``
    visible frames from the start, padded with the last one when the sequence runs out.
    """

    def __init__(self, mixture: DatasetMixture, num_templates: int = 5, clip_length: int = 32,
                 max_gap: int = 300):
        if clip_length < 2:
            raise ValueError(f"clip_length must be >= 2, got {clip_length}")
        self.mixture = mixture
        self.num_templates = num_templates
        self.clip_length = clip_length
        self.max_gap = max_gap

    def usable(self, dataset: TrackingDataset, seq: Sequence) -> bool:
        if not dataset.is_video:
            return False
        need = self.clip_length + self.num_templates
        return int(seq.visible.sum()) > 2 * need and len(seq) >= need

    def frame_ids(self, rng: np.random.Generator, visible: np.ndarray):
        n = len(visible)
        templates = sample_visible_ids(rng, visible, self.num_templates, 0, n - self.clip_length)
        if templates is None:
            return None
        templates = sorted(templates)
        start = sample_visible_ids(rng, visible, 1, templates[-1],
                                   min(n - self.clip_length, templates[-1] + self.max_gap))
        if start is None:
            return None
        following = np.flatnonzero(visible[start[0]:]) + start[0]
        clip = [int(v) for v in following[:self.clip_length]]
        clip += [clip[-1]] * (self.clip_length - len(clip))
        return templates, clip

    def sample(self, rng: np.random.Generator) -> ClipPick:
        while True:
            ds, seq = self.mixture.pick(rng, self.usable)
            ids = self.frame_ids(rng, seq.visible)
            if ids is not None:
                return ClipPick(ds, seq, ids[0], ids[1])
