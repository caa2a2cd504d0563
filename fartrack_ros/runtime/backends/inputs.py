"""Per-frame inputs of the fast backends, built without per-frame allocations.

``TemplateEmbedding`` is the handle ``prepare_template`` returns: the template's 49 patch
embeddings (computed once, when the template is cropped) plus, once the tracker has given it a
keep mask, the kept rows gathered once. ``assemble_template_tokens`` writes the slot-ordered
template tokens (kept rows + slot identity) into a preallocated buffer for the token count at
hand (245 on the first tracked frame, 397 - 200 = 197 afterwards).


The crop normalisers give bit-identical results to ``fartrack_ros.runtime.preprocess`` (float,
/ 255, - mean, / std) through a 256-entry table per channel, into preallocated buffers.
"""
from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np
import torch

from fartrack_ros.data.images import IMAGENET_MEAN, IMAGENET_STD
from fartrack_ros.runtime.preprocess import Normalizer


class TemplateEmbedding:
    """A template's (49, D) embedding and its kept rows for the keep mask last seen."""

    __slots__ = ("embedding", "_keep", "_kept")

    def __init__(self, embedding):
        self.embedding = embedding
        self._keep: Optional[np.ndarray] = None
        self._kept = None

    def kept_rows(self, keep: Optional[np.ndarray]):
        """Rows of the embedding the keep mask retains (all rows for ``None``); cached."""
        if keep is None:
            return self.embedding
        if self._keep is not keep and (self._keep is None or not np.array_equal(self._keep, keep)):
            rows = np.flatnonzero(keep)
            if isinstance(self.embedding, torch.Tensor):
                index = torch.from_numpy(rows).to(self.embedding.device)
                self._kept = self.embedding.index_select(0, index)
            else:
                self._kept = np.ascontiguousarray(self.embedding[rows])
            self._keep = keep
        return self._kept


def template_token_count(keeps: Sequence[Optional[np.ndarray]], slot_tokens: int) -> int:
    return sum(slot_tokens if k is None else int(np.count_nonzero(k)) for k in keeps)


class TemplateTokenBuffers:
    """One preallocated (Nz, D) buffer per template token count, torch or numpy."""

    def __init__(self, dim: int, make):
        self.dim = dim
        self._make = make          # n_tokens -> empty buffer
        self._buffers: dict[int, object] = {}

    def get(self, n_tokens: int):
        buf = self._buffers.get(n_tokens)
        if buf is None:
            buf = self._buffers[n_tokens] = self._make(n_tokens)
        return buf


def assemble_template_tokens(templates: Sequence[TemplateEmbedding],
                             keeps: Sequence[Optional[np.ndarray]], slot_identity, out):
    """Kept rows + slot identity, slot order, into ``out`` (Nz, D); ``slot_identity`` (5, D).

    Works on torch tensors and NumPy arrays alike (both ``add`` functions take ``out=``).
    """
    add = torch.add if isinstance(out, torch.Tensor) else np.add
    start = 0
    for slot, (handle, keep) in enumerate(zip(templates, keeps)):
        rows = handle.kept_rows(keep)
        add(rows, slot_identity[slot], out=out[start:start + rows.shape[0]])
        start += rows.shape[0]
    return out


def normalization_table() -> np.ndarray:
    """(1, 256, 3) float32: every uint8 value of every channel normalised exactly as
    ``preprocess.Normalizer`` does it, so a table lookup gives bit-identical inputs."""
    values = np.ascontiguousarray(np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, 2))
    return Normalizer("cpu")(values)[0].permute(1, 2, 0).numpy().copy()


class NumpyCropNormalizer:
    """uint8 (S, S, 3) -> (1, 3, S, S) float32 normalised: one table lookup and one channel
    split (OpenCV), into reused buffers; bit-identical to ``preprocess.Normalizer``."""

    def __init__(self, size: int):
        self.table = normalization_table()
        self.work = np.empty((size, size, 3), dtype=np.float32)
        self.out = np.empty((1, 3, size, size), dtype=np.float32)

    def __call__(self, crop_rgb: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Normalise into ``out`` (1, 3, S, S) float32, or into this normaliser's own buffer."""
        out = self.out if out is None else out
        cv2.LUT(crop_rgb, self.table, dst=self.work)
        cv2.split(self.work, [out[0, 0], out[0, 1], out[0, 2]])
        return out


class TorchCropNormalizer:
    """uint8 (S, S, 3) -> (1, 3, S, S) normalised tensor in a reused buffer of ``dtype``.

    CPU: the NumPy table lookup, shared with a tensor without copying. CUDA: the uint8 crop is
    uploaded and normalised on the device with the same operations as ``Normalizer``.
    """

    def __init__(self, size: int, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32):
        self.device = torch.device(device)
        self.dtype = dtype
        if self.device.type == "cpu":
            self.host = NumpyCropNormalizer(size)
            self.work = torch.from_numpy(self.host.out)
        else:
            self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
            self.std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
            self.staging = torch.empty(size, size, 3, dtype=torch.uint8).pin_memory()
            self.upload = torch.empty(size, size, 3, dtype=torch.uint8, device=self.device)
            self.work = torch.empty(1, 3, size, size, device=self.device)
        self.out = self.work if dtype == torch.float32 else \
            torch.empty(1, 3, size, size, device=self.device, dtype=dtype)

    def __call__(self, crop_rgb: np.ndarray) -> torch.Tensor:
        if self.device.type == "cpu":
            self.host(crop_rgb)
        else:
            self.staging.numpy()[...] = crop_rgb
            self.upload.copy_(self.staging, non_blocking=True)
            self.work.copy_(self.upload.permute(2, 0, 1).unsqueeze(0))     # uint8 -> float
            self.work.div_(255.0).sub_(self.mean).div_(self.std)
        if self.out is not self.work:
            self.out.copy_(self.work)
        return self.out
