"""The learned confidence head: predicts the IoU of the tracker's current box with the target
(0 when the target is absent) from the ``FEATURE_NAMES`` inputs of
``fartrack_ros.core.confidence_features`` (coordinate distributions, box geometry, appearance).

The head (``ScoreHead``: feature standardisation + a 2-layer MLP + sigmoid) is stored in the
weights' safetensors file under ``score_head.*`` names beside the official parameter names;
``fartrack_ros.model.checkpoint`` leaves those names out of the model's state dict, so strict
loading is unchanged. ``load_score_head(path)`` returns None for files without one (official
``.pth.tar`` files never have one).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

from fartrack_ros.core.confidence_features import FEATURE_NAMES, NUM_FEATURES

SCORE_HEAD_PREFIX = "score_head."
SCORE_HEAD_VERSION = 1


# --------------------------------------------------------------------------- the head

class ScoreHead(nn.Module):
    """standardise -> Linear(F, hidden) -> ReLU -> Linear(hidden, 1) -> sigmoid."""

    def __init__(self, num_features: int = NUM_FEATURES, hidden: int = 32):
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(num_features))
        self.register_buffer("feature_std", torch.ones(num_features))
        self.fc1 = nn.Linear(num_features, hidden)
        self.fc2 = nn.Linear(hidden, 1)
        self._numpy: Optional[tuple] = None

    def logit(self, features: torch.Tensor) -> torch.Tensor:
        x = (features - self.feature_mean) / self.feature_std
        return self.fc2(torch.relu(self.fc1(x))).squeeze(-1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logit(features))

    def predict(self, features: np.ndarray) -> float:
        """One feature vector -> predicted IoU in [0, 1] (numpy, no autograd; per frame)."""
        if self._numpy is None:
            self._numpy = tuple(t.detach().double().numpy() for t in (
                self.feature_mean, self.feature_std, self.fc1.weight, self.fc1.bias,
                self.fc2.weight, self.fc2.bias))
        mean, std, w1, b1, w2, b2 = self._numpy
        x = (np.asarray(features, dtype=np.float64) - mean) / std
        z = float((np.maximum(w1 @ x + b1, 0.0) @ w2[0]) + b2[0])
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0))))

    def invalidate_cache(self) -> None:
        self._numpy = None


def score_head_tensors(head: ScoreHead) -> dict[str, torch.Tensor]:
    return {SCORE_HEAD_PREFIX + k: v.detach().cpu().float().contiguous()
            for k, v in head.state_dict().items()}


def _head_from_tensors(tensors: dict[str, torch.Tensor], source: str) -> ScoreHead:
    from fartrack_ros.model.checkpoint import CheckpointError
    state = {k[len(SCORE_HEAD_PREFIX):]: v for k, v in tensors.items()}
    if "fc1.weight" not in state:
        raise CheckpointError(f"{source}: score head tensors without fc1.weight: {sorted(state)}")
    hidden, features = state["fc1.weight"].shape
    if features != NUM_FEATURES:
        raise CheckpointError(f"{source}: score head reads {features} features, this version "
                              f"computes {NUM_FEATURES}; retrain it with `fartrack train-score`")
    head = ScoreHead(features, hidden)
    try:
        head.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{source}: bad score head tensors: {exc}") from None
    return head.eval()


def load_score_head(path: str | Path) -> Optional[ScoreHead]:
    """The head stored in a weights file, or None when it has none (or is not safetensors)."""
    from safetensors import safe_open
    path = Path(path)
    if path.suffix != ".safetensors":
        return None
    with safe_open(str(path), framework="pt") as f:
        names = [k for k in f.keys() if k.startswith(SCORE_HEAD_PREFIX)]
        if not names:
            return None
        tensors = {k: f.get_tensor(k) for k in names}
    return _head_from_tensors(tensors, str(path))


def score_head_info(path: str | Path) -> Optional[dict]:
    """The JSON metadata written with the head (training summary), or None."""
    from safetensors import safe_open
    path = Path(path)
    if path.suffix != ".safetensors":
        return None
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    return json.loads(meta["score_head"]) if "score_head" in meta else None


def write_weights_with_head(weights: str | Path, out: str | Path, head: ScoreHead,
                            info: dict) -> Path:
    """Write ``out``: the model of ``weights`` (official or own file) plus ``head``.

    An own ``.safetensors`` keeps its tensors and metadata byte for byte apart from the
    ``score_head.*`` tensors and the ``score_head`` metadata entry, which are replaced."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from fartrack_ros.core.files import replaced_atomically
    from fartrack_ros.model.checkpoint import convert_official

    weights, out = Path(weights), Path(out)
    if out.suffix != ".safetensors":
        raise ValueError(f"output must be a .safetensors file, got {out}")
    if weights.suffix != ".safetensors":          # official file: convert first
        convert_official(weights, out)
        weights = out
    with safe_open(str(weights), framework="pt") as f:
        meta = dict(f.metadata() or {})
        state = {k: f.get_tensor(k) for k in f.keys() if not k.startswith(SCORE_HEAD_PREFIX)}
    state.update(score_head_tensors(head))
    meta["score_head"] = json.dumps({**info, "version": SCORE_HEAD_VERSION,
                                     "features": list(FEATURE_NAMES)})
    with replaced_atomically(out) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return out
