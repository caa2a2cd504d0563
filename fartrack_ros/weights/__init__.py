"""Weights shipped with the package (trained by this project; see MODEL_CARD.md beside this file)."""
from __future__ import annotations

from pathlib import Path

DEFAULT_WEIGHTS_NAME = "fartrack_default.safetensors"


def default_weights_path() -> Path:
    """Path of the shipped default weights; FileNotFoundError if the package lacks them."""
    path = Path(__file__).resolve().parent / DEFAULT_WEIGHTS_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"default weights not found at {path}; pass a weights file explicitly "
            "(an official .pth.tar or a .safetensors written by `fartrack train`/`fartrack convert`)")
    return path
