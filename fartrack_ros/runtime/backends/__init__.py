"""Inference backends behind one interface, chosen by name.

A backend turns crops into the 4x605 coordinate logits and the sparsification keep-mask of the
newest template. The tracker (``fartrack_ros.runtime.tracker``) owns everything else: crops,
template bank, masks bookkeeping, decoding. Every backend receives the same uint8 crops.

Register a backend with ``@register_backend("name")``; ``available_backends()`` lists those whose
dependencies import on this machine.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

from fartrack_ros.model.fartrack import FARTrack


@dataclass
class BackendOutput:
    logits: np.ndarray                  # (4, 605) float32: x0, y0, x1, y1
    slot4_keep: Optional[np.ndarray]    # (49,) bool keep-mask for the template in slot 4, or None


class InferenceBackend:
    """Base class. Subclasses implement ``prepare_template`` and ``infer``."""

    name = "base"
    #: fp32 backends must reproduce the reference boxes to 0.01 px; others document their IoU
    exact_fp32 = True
    #: devices the backend can run on
    devices: tuple[str, ...] = ("cpu", "cuda")

    def __init__(self, model: FARTrack, device: str = "cpu"):
        self.model = model
        self.cfg = model.cfg
        self.device = device
        self.sparse = model.cfg.stage == "sparse"

    def prepare_template(self, crop_rgb: np.ndarray) -> Any:
        """Called once per template crop (112x112 RGB uint8); returns an opaque handle."""
        raise NotImplementedError

    def infer(self, templates: Sequence[Any], keeps: Sequence[Optional[np.ndarray]],
              search_rgb: np.ndarray) -> BackendOutput:
        """One forward: 5 template handles (slot order), their keep masks, the search crop."""
        raise NotImplementedError

    def decode_box(self, logits: np.ndarray, resize_factor: float) -> list[float]:
        """Logits of ``infer`` -> [cx, cy, w, h] in image pixels from the search crop's origin.

        NumPy float32 here; the ``reference`` backend runs the official PyTorch operations.
        """
        from fartrack_ros.runtime.backends.decode import decode_box_numpy
        return decode_box_numpy(logits, resize_factor, self.cfg.search_size, self.sparse)


_REGISTRY: dict[str, Callable[..., InferenceBackend]] = {}
# name -> module that registers it (imported lazily so optional deps stay optional)
_LAZY = {
    "reference": "fartrack_ros.runtime.backends.torch_backends",
    "torch": "fartrack_ros.runtime.backends.torch_backends",
    "torch-bf16": "fartrack_ros.runtime.backends.torch_backends",
    "torch-fp16": "fartrack_ros.runtime.backends.torch_backends",
    "onnxruntime": "fartrack_ros.runtime.backends.onnx_backend",
    "onnxruntime-int8": "fartrack_ros.runtime.backends.onnx_backend",
}


def register_backend(name: str):
    def wrap(cls):
        _REGISTRY[name] = cls
        cls.name = name
        return cls
    return wrap


def _ensure_loaded(name: str) -> None:
    if name not in _REGISTRY and name in _LAZY:
        importlib.import_module(_LAZY[name])


def known_backends() -> list[str]:
    return sorted(set(_LAZY) | set(_REGISTRY))


def _device_present(device: str) -> bool:
    if device == "cuda":
        import torch
        return torch.cuda.is_available()
    return device == "cpu"


def available_backends(device: Optional[str] = None) -> list[str]:
    """Backends whose dependencies import here and that can run on ``device`` (default: on
    any device this machine has)."""
    names = []
    for name in known_backends():
        try:
            _ensure_loaded(name)
        except ImportError:
            continue
        if name not in _REGISTRY:
            continue
        wanted = _REGISTRY[name].devices if device is None else (device,)
        if any(d in _REGISTRY[name].devices and _device_present(d) for d in wanted):
            names.append(name)
    return names


def create_backend(name: str, model: FARTrack, device: str = "cpu", **options) -> InferenceBackend:
    if name not in known_backends():
        raise ValueError(f"unknown backend {name!r}; known: {known_backends()}")
    try:
        _ensure_loaded(name)
    except ImportError as exc:
        raise ValueError(f"backend {name!r} is not available here: {exc}") from None
    return _REGISTRY[name](model, device=device, **options)

