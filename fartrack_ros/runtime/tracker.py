"""The FARTrack tracker: ``initialize(image, box_xywh)`` then ``track(image)`` per frame.

Follows the official sparse tracker step by step:
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
- a confidence score and a tracking / lost / reacquired state are added. The score is the
  learned head's predicted IoU when the weights file carries one (``model/score_head.py``),
  else the uncalibrated ``coordinate_confidence``; the state has hysteresis
  (``lost_enter_frames`` / ``lost_exit_frames``).

Differences that do change boxes, only after the learned head judged the target lost (never
while it is judged tracking, and never without a head): frames judged lost do not add a
template, and re-acquisition (``reacquire``) may move the box to a wider-search candidate.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import torch

from fartrack_ros.config import ModelConfig, TrackerConfig
from fartrack_ros.core.boxes import clip_box_xywh, validate_box_xywh
from fartrack_ros.core.crops import box_cxcywh_from_crop, sample_target
from fartrack_ros.core.tokenizer import coordinate_confidence
from fartrack_ros.core.template_history import nearest_kept_indices, template_slot_indices, templates_to_forget
from fartrack_ros.core.types import LOST, REACQUIRED, TRACKING, TrackResult
from fartrack_ros.core.confidence_features import Appearance, confidence_features
from fartrack_ros.model.score_head import ScoreHead, load_score_head
from fartrack_ros.runtime.backends import InferenceBackend, create_backend

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
    def __init__(self, backend: InferenceBackend, lost_threshold: float = 0.2,
                 score_head: Optional[ScoreHead] = None, lost_enter_frames: int = 3,
                 lost_exit_frames: int = 2, reacquire: bool = True, reacquire_crops: int = 4,
                 reacquire_threshold: float = 0.5, template_history: int = 0):
        self.backend = backend
        self.cfg: ModelConfig = backend.cfg
        self.lost_threshold = lost_threshold
        self.score_head = score_head
        self.lost_enter_frames = lost_enter_frames
        self.lost_exit_frames = lost_exit_frames
        self.reacquire = reacquire
        self.reacquire_crops = reacquire_crops
        self.reacquire_threshold = reacquire_threshold
        self.template_history = template_history     # 0 = every template the sampling can pick
        self.sparse = self.cfg.stage == "sparse"
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget the target and every per-target history."""
        self.state: Optional[list[float]] = None
        self.frame_id = 0
        self._newest = 0                              # history index of the newest template
        self._templates: dict[int, Any] = {}          # history index -> backend handle
        self._masks: dict[int, np.ndarray] = {}       # history index -> keep mask (49,)
        self._slots = [0] * self.cfg.num_templates
        self._initial_box: Optional[list[float]] = None
        self._appearance: Optional[Appearance] = None
        self._lost = False
        self._below = 0                               # consecutive frames below the threshold
        self._above = 0                               # consecutive frames above it while lost
        self._anchor: Optional[list[float]] = None    # last box judged tracking
        self._trusted_size: Optional[tuple[float, float]] = None  # last confident box's size
        self._candidates: list[list[float]] = []      # re-acquisition crop boxes still to try
        self._pending: Optional[list[float]] = None   # re-acquisition candidate awaiting agreement
        self._agree = 0                               # consecutive frames it has been confirmed
        self.last_features: Optional[np.ndarray] = None
        self.last_heuristic_score: Optional[float] = None

    @property
    def is_initialized(self) -> bool:
        return self.state is not None

    @property
    def calibrated(self) -> bool:
        """True when the score is the learned head's predicted IoU (else the heuristic)."""
        return self.score_head is not None

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
        self._initial_box = list(box)
        self._anchor = list(box)
        self._trusted_size = (box[2], box[3])
        self._appearance = Appearance(image, box)

    def forward_at(self, image: np.ndarray, crop_box: list[float]):
        """One forward on the search crop around ``crop_box`` with the current templates.

        Returns (backend output, clipped box, unclipped box, features, heuristic score);
        changes no state."""
        cfg = self.cfg
        height, width = image.shape[:2]
        search, window = sample_target(image, crop_box, cfg.search_factor, cfg.search_size)
        templates = [self._templates[i] for i in self._slots]
        # slot 4 holds the newest template, which has no mask yet (while the bank is frozen it
        # may have one from an earlier forward: it is still run unmasked, as when it was new)
        keeps = [self._masks.get(i) for i in self._slots[:-1]] + [None]
        out = self.backend.infer(templates, keeps, search)

        pred = self.backend.decode_box(out.logits, window.resize_factor)
        unclipped = box_cxcywh_from_crop(pred, crop_box, window.resize_factor, cfg.search_size)
        box = clip_box_xywh(unclipped, height, width, margin=10)
        features = confidence_features(out.logits, box, crop_box, self._initial_box, image,
                                       self._appearance, unclipped)
        return out, box, unclipped, features, float(coordinate_confidence(out.logits))

    def track(self, image: np.ndarray) -> TrackResult:
        if self.state is None:
            raise RuntimeError("track() called before initialize()")
        image = check_image(image)
        self.frame_id += 1
        out, box, _, features, heuristic = self.forward_at(image, self.state)
        self.state = box
        score = self._score(features, heuristic)
        self.last_features, self.last_heuristic_score = features, heuristic
        searching = self.calibrated and self.reacquire and self.reacquire_crops > 0
        # While searching, leaving "lost" is re-acquisition's decision (a confirmed candidate,
        # the normal crop's box among them), not a single frame above the low lost threshold:
        # that one fired on background and distractors far more often than on the target.
        state = self._update_lost_state(score, exit_allowed=not (searching and self._lost))
        if state == LOST and searching:
            found = self._search_wider(image, (out, box, score))
            if found is not None:
                out, self.state, score = found
                state = REACQUIRED
                self._lost, self._below, self._above = False, 0, 0
        if state != LOST:
            self._anchor = list(self.state)
            if self.calibrated and score >= self.reacquire_threshold:
                self._trusted_size = (self.state[2], self.state[3])
        if state != LOST or not self.calibrated:
            # the template bank is not updated from frames judged lost by the learned head
            # (without one every frame updates it, as in the official tracker)
            self._update_templates(image, out.slot4_keep)
        return TrackResult(tuple(self.state), score, state, self.frame_id)

    # ------------------------------------------------------------------ confidence
    def _score(self, features: np.ndarray, heuristic: float) -> float:
        if self.score_head is None:
            return heuristic
        return self.score_head.predict(features)

    def _update_lost_state(self, score: float, exit_allowed: bool = True) -> str:
        """Hysteresis: lost after ``lost_enter_frames`` frames below the threshold, tracking
        again after ``lost_exit_frames`` frames at or above it (when ``exit_allowed``)."""
        below = score < self.lost_threshold
        if not self._lost:
            self._below = self._below + 1 if below else 0
            if self._below >= self.lost_enter_frames:
                self._lost, self._above = True, 0
                self._candidates, self._pending, self._agree = [], None, 0
        elif exit_allowed:
            self._above = 0 if below else self._above + 1
            if self._above >= self.lost_exit_frames:
                self._lost, self._below = False, 0
        return LOST if self._lost else TRACKING

    def _search_wider(self, image: np.ndarray, normal: tuple):
        """One lost frame of re-acquisition -> (output, box, score) when it re-locks, else None.

        Candidates: the normal crop's result ``normal`` and ``reacquire_crops`` more forwards,
        the first on the candidate still awaiting confirmation, the rest cycling through crops
        around the last position and across the frame (``reacquisition_crops``) at the size of
        the last box the head was confident on: the box just before "lost" has usually shrunk
        or grown with the drift, so crops of its size miss the target's scale. The best
        candidate must reach ``reacquire_threshold`` on ``lost_exit_frames`` consecutive frames
        at agreeing positions: a single frame let look-alikes and background through."""
        if not self._candidates:
            self._candidates = reacquisition_crops(self._anchor, image.shape[0], image.shape[1],
                                                   self.cfg.search_factor, self._trusted_size)
        crops = [] if self._pending is None else [self._pending]
        while len(crops) < self.reacquire_crops and self._candidates:
            crops.append(self._candidates.pop(0))
        best = normal
        for crop_box in crops:
            out, box, _, features, _ = self.forward_at(image, crop_box)
            score = self.score_head.predict(features)
            if score > best[2]:
                best = (out, box, score)
        if best[2] < self.reacquire_threshold:
            self._pending, self._agree = None, 0
            return None
        agrees = self._pending is not None and _same_place(best[1], self._pending)
        self._agree = self._agree + 1 if agrees else 1
        self._pending = list(best[1])
        if self._agree >= self.lost_exit_frames:
            self._pending, self._agree = None, 0
            return best
        return None

    def _update_templates(self, image: np.ndarray, slot4_keep: Optional[np.ndarray]) -> None:
        if slot4_keep is not None and self._slots[-1] not in self._masks:
            # mask of the template in slot 4, from the first forward where it sat there
            self._masks[self._slots[-1]] = slot4_keep
        self._newest += 1                           # history index of the new template
        newest = self._newest
        self._templates[newest] = self._crop_template(image, self.state)
        n = newest + 1
        # the dict holds indices in insertion order, which is ascending: no sort needed
        for idx in templates_to_forget(list(self._templates), n, self.template_history):
            del self._templates[idx]
            self._masks.pop(idx, None)
        self._slots = nearest_kept_indices(template_slot_indices(n, self.cfg.num_templates),
                                           list(self._templates))


def _same_place(box_xywh, previous_xywh) -> bool:
    """Centres at most one box size (the geometric mean of the previous box's sides) apart."""
    x, y, w, h = box_xywh
    px, py, pw, ph = previous_xywh
    return math.hypot(x + w / 2 - px - pw / 2, y + h / 2 - py - ph / 2) <= math.sqrt(pw * ph)


def reacquisition_crops(anchor_xywh, height: int, width: int, search_factor: float = 4.0,
                        size_wh: Optional[tuple[float, float]] = None) -> list[list[float]]:
    """Boxes to centre re-acquisition crops on: the anchor's position, a ring of 8 around it,
    then a grid over the whole frame, nearest first. The boxes have the size ``size_wh``
    (default the anchor's), which sets the crops' scale. Neighbouring crops overlap by a
    quarter of a crop side."""
    x, y, aw, ah = anchor_xywh
    w, h = (aw, ah) if size_wh is None else size_wh
    cx, cy = x + aw / 2, y + ah / 2
    side = search_factor * math.sqrt(w * h)
    step = 0.75 * side
    centres = [(cx, cy)] + [(cx + dx * step, cy + dy * step)
                            for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]
    nx, ny = max(1, math.ceil(width / step)), max(1, math.ceil(height / step))
    grid = [((i + 0.5) * width / nx, (j + 0.5) * height / ny) for i in range(nx) for j in range(ny)]
    grid.sort(key=lambda c: (c[0] - cx) ** 2 + (c[1] - cy) ** 2)
    boxes, seen = [], set()
    for px, py in centres + grid:
        px, py = min(max(px, 0.0), width - 1.0), min(max(py, 0.0), height - 1.0)
        key = (round(px / (step / 2)), round(py / (step / 2)))
        if key in seen:
            continue
        seen.add(key)
        boxes.append([px - w / 2, py - h / 2, w, h])
    return boxes


def resolve_weights(weights: Optional[str]):
    from fartrack_ros.weights import default_weights_path
    return default_weights_path() if weights is None else weights


def build_tracker(config: TrackerConfig = TrackerConfig(), **backend_options) -> FARTrackTracker:
    """Load weights, cut the model to the variant's depth, pick the backend and wrap it."""
    from fartrack_ros.model.checkpoint import build_model

    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available "
                         "(torch.cuda.is_available() is False)")
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    model = build_model(resolve_weights(config.weights), depth=config.depth)
    backend_name = default_backend(config.device) if config.backend == "auto" else config.backend
    backend = create_backend(backend_name, model, device=config.device, **backend_options)
    head = load_score_head(resolve_weights(config.weights))
    return FARTrackTracker(backend, lost_threshold=config.lost_threshold, score_head=head,
                           lost_enter_frames=config.lost_enter_frames,
                           lost_exit_frames=config.lost_exit_frames,
                           reacquire=config.reacquire, reacquire_crops=config.reacquire_crops,
                           reacquire_threshold=config.reacquire_threshold,
                           template_history=config.template_history)


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
