"""The FARTrack tracker: ``initialize(image, box_xywh)`` then ``track(image)`` per frame.

Follows the official sparse tracker (spec section 7) step by step:
search crop around the current state (factor 4 -> 224) -> one forward over 5 templates + search
+ 4 command tokens -> decode (mean of argmax and expectation estimates) -> back-projection ->
``clip_box`` (margin 10) -> a new template cropped around the new state on the same image ->
exponential template sampling; each template keeps the 25 % token mask computed in the first
forward where it sat, unmasked, in slot 4.

Differences from the official code, all without effect on the boxes:
- the template history keeps only entries that can still be sampled (index 0 and indices at or
  above floor(0.3 (n-1))), so memory stays bounded on endless streams;
- ``initialize`` resets every per-target state (the official object never does);
- the dead trajectory buffer is not computed;
- a confidence score and a tracking / lost state are added (see ``coordinate_confidence``).
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import torch

from ..config import ModelConfig, TrackerConfig
from ..core.boxes import clip_box_xywh, validate_box_xywh
from ..core.crops import box_cxcywh_from_crop, sample_target
from ..core.tokenizer import coordinate_confidence
from ..core.types import LOST, TRACKING, TrackResult
from .backends import InferenceBackend, create_backend

# Exponential template sampling (base 0.7): slot i of 1..3 takes floor((n-1) * (1 - 0.7^i)).
_SAMPLING_FRACTIONS = (0.3, 0.51, 0.657)


def template_slot_indices(n: int, num_slots: int = 5) -> list[int]:
    """History indices of the 5 slots when ``n`` templates are stored (spec 7.4 step 9)."""
    if n < num_slots:
        return [min(max(0, p - (num_slots - n)), n - 1) for p in range(num_slots)]
    return [0] + [int((n - 1) * f) for f in _SAMPLING_FRACTIONS] + [n - 1]


def check_image(image: Any) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be RGB uint8 of shape (H, W, 3); got {image.dtype} "
                         f"{image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty: {image.shape}")
    return image


class FARTrackTracker:
    def __init__(self, backend: InferenceBackend, lost_threshold: float = 0.2):
        self.backend = backend
        self.cfg: ModelConfig = backend.cfg
        self.lost_threshold = lost_threshold
        self.sparse = self.cfg.stage == "sparse"
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget the target and every per-target history."""
        self.state: Optional[list[float]] = None
        self.frame_id = 0
        self._templates: dict[int, Any] = {}          # history index -> backend handle
        self._masks: dict[int, np.ndarray] = {}       # history index -> keep mask (49,)
        self._slots = [0] * self.cfg.num_templates

    @property
    def is_initialized(self) -> bool:
        return self.state is not None

    def _crop_template(self, image: np.ndarray, box: list[float]) -> Any:
        crop, _ = sample_target(image, box, self.cfg.template_factor, self.cfg.template_size)
        return self.backend.prepare_template(crop)

    # ------------------------------------------------------------------ API
    def initialize(self, image: np.ndarray, box_xywh) -> None:
        """Start tracking the object in ``box_xywh`` (pixels) of ``image`` (RGB uint8)."""
        image = check_image(image)
        box = list(validate_box_xywh(box_xywh, image.shape[0], image.shape[1]))
        self.reset()
        self._templates[0] = self._crop_template(image, box)
        self.state = box

    def track(self, image: np.ndarray) -> TrackResult:
        if self.state is None:
            raise RuntimeError("track() called before initialize()")
        image = check_image(image)
        cfg = self.cfg
        height, width = image.shape[:2]
        self.frame_id += 1
        search, window = sample_target(image, self.state, cfg.search_factor, cfg.search_size)
        templates = [self._templates[i] for i in self._slots]
        keeps = [self._masks.get(i) for i in self._slots]
        out = self.backend.infer(templates, keeps, search)

        # decode (mean of argmax and expectation estimates), xyxy -> cxcywh, crop -> image pixels
        pred = self.backend.decode_box(out.logits, window.resize_factor)
        box = box_cxcywh_from_crop(pred, self.state, window.resize_factor, cfg.search_size)
        self.state = clip_box_xywh(box, height, width, margin=10)

        self._update_templates(image, out.slot4_keep)
        score = coordinate_confidence(out.logits)
        state = TRACKING if score >= self.lost_threshold else LOST
        return TrackResult(tuple(self.state), score, state, self.frame_id)

    def _update_templates(self, image: np.ndarray, slot4_keep: Optional[np.ndarray]) -> None:
        newest = self.frame_id                     # history index of the new template
        if slot4_keep is not None:                 # mask of the template that was in slot 4
            self._masks[self._slots[-1]] = slot4_keep
        self._templates[newest] = self._crop_template(image, self.state)
        n = newest + 1
        self._slots = template_slot_indices(n, self.cfg.num_templates)
        # Sampled indices never decrease as n grows: older entries (except 0) can go.
        floor = int((n - 1) * _SAMPLING_FRACTIONS[0])
        for store in (self._templates, self._masks):
            for idx in [i for i in store if 0 < i < floor]:
                del store[idx]


def resolve_weights(weights: Optional[str]):
    from ..weights import default_weights_path
    return default_weights_path() if weights is None else weights


def build_tracker(config: TrackerConfig = TrackerConfig(), **backend_options) -> FARTrackTracker:
    """Load weights, cut the model to the variant's depth, pick the backend and wrap it."""
    from ..model.checkpoint import build_model

    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available "
                         "(torch.cuda.is_available() is False)")
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    model = build_model(resolve_weights(config.weights), depth=config.depth)
    backend_name = default_backend(config.device) if config.backend == "auto" else config.backend
    backend = create_backend(backend_name, model, device=config.device, **backend_options)
    return FARTrackTracker(backend, lost_threshold=config.lost_threshold)


def default_backend(device: str) -> str:
    """The fastest backend that meets the fp32 accuracy target on ``device``.

    CPU: ``onnxruntime`` (fp32, reference boxes to 0.01 px; the fastest exact backend measured,
    see docs/performance.md), else ``torch`` where onnxruntime/onnx do not import. CUDA:
    ``torch`` (fp32 with CUDA graphs).
    """
    if device == "cpu":
        import importlib.util
        if all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx")):
            return "onnxruntime"
    return "torch"
