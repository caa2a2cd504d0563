"""Training recipes: typed, frozen, strictly loaded from YAML (an unknown key is an error).

A recipe names its stage (frame | distill | sparse), the model, where its weights start, the
data, the optimiser, the loss weights and where the run writes. ``load_train_config`` reads a
YAML file and applies ``section.key=value`` overrides (values parsed as YAML), e.g.
``optim.epochs=3`` or ``run.output_dir=runs/try``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence as Seq

import yaml

from fartrack_ros.config import STAGES, ModelConfig, config_to_dict, load_yaml
from fartrack_ros.data.training_sets import DatasetSpec
from fartrack_ros.training.processing import ProcessingConfig

DEVICES = ("auto", "cpu", "cuda")
FRESH_SCHEMES = ("official", "structured")


@dataclass(frozen=True)
class InitConfig:
    """Where the weights start. ``weights``: a checkpoint of the previous stage (own
    ``.safetensors`` or official ``.pth.tar``; distill starts from frame weights, sparse from
    distill weights). ``mae``: an MAE / ViT-Tiny file for a fresh stage 1."""

    weights: Optional[str] = None
    mae: Optional[str] = None
    # fresh weights (neither file given): "official" = the official random init;
    # "structured" = Fourier position / coordinate-bin tables and mimetic query-key products
    # (training/init_weights.structured_init_), for training from scratch on a small budget
    fresh: str = "official"

    def __post_init__(self):
        if self.weights and self.mae:
            raise ValueError("init: give either 'weights' or 'mae', not both")
        if self.fresh not in FRESH_SCHEMES:
            raise ValueError(f"init.fresh {self.fresh!r} is not one of {FRESH_SCHEMES}")
        if self.fresh != "official" and (self.weights or self.mae):
            raise ValueError(f"init.fresh {self.fresh!r} is for fresh weights; drop it or 'weights' / 'mae'")


@dataclass(frozen=True)
class DataConfig:
    datasets: tuple[DatasetSpec, ...] = ()
    samples_per_epoch: int = 76800
    max_gap: int = 300              # frame sampler: MAX_SAMPLE_INTERVAL; clip sampler: MAX_GAP
    clip_length: int = 32           # sparse stage: frames per clip (the first initialises)
    workers: int = 0                # data-loader processes per rank
    processing: ProcessingConfig = field(default_factory=ProcessingConfig)

    def __post_init__(self):
        if not self.datasets:
            raise ValueError("data.datasets: at least one dataset is needed")
        if self.samples_per_epoch < 1:
            raise ValueError(f"data.samples_per_epoch must be >= 1, got {self.samples_per_epoch}")
        if self.clip_length < 2:
            raise ValueError(f"data.clip_length must be >= 2, got {self.clip_length}")
        if self.workers < 0:
            raise ValueError(f"data.workers must be >= 0, got {self.workers}")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with the official 3 parameter groups and a StepLR per epoch."""

    lr: float = 4e-4
    backbone_multiplier: float = 0.1
    weight_decay: float = 1e-4
    lr_drop_epoch: int = 400
    lr_gamma: float = 0.1
    grad_clip: float = 0.1          # max grad norm; 0 = no clipping
    epochs: int = 500
    batch_size: int = 32            # per rank (sparse: clips per rank)
    micro_batch: int = 0            # sparse: frames per training forward chunk; 0 = a whole clip

    def __post_init__(self):
        if self.lr <= 0 or self.backbone_multiplier < 0 or self.weight_decay < 0:
            raise ValueError("optim: lr must be > 0, backbone_multiplier and weight_decay >= 0")
        if self.epochs < 1 or self.batch_size < 1 or self.lr_drop_epoch < 1:
            raise ValueError("optim: epochs, batch_size and lr_drop_epoch must be >= 1")
        if self.grad_clip < 0 or self.micro_batch < 0:
            raise ValueError("optim: grad_clip and micro_batch must be >= 0")


@dataclass(frozen=True)
class LossConfig:
    ce_weight: float = 2.0
    siou_weight: float = 2.0
    kl_weight: float = 0.01                       # distill only
    # frame stage only, not in the paper: soft CE of a training-only linear head on the final
    # search-token states against a Gaussian (sigma 1 token) at the target centre. Dense
    # supervision that speeds up learning from scratch; the head is not part of the checkpoint.
    center_weight: float = 0.0
    center_layer: int = 0           # the states it reads: after this many blocks (0 = the last)
    # frame stage only, not in the paper: soft CE pulling the last block's command-row attention
    # (mean over heads) onto the box edge each coordinate names (losses.edge_attention_targets)
    readout_weight: float = 0.0
    exit_depths: tuple[int, ...] = tuple(range(5, 16))   # distill only: exits, shallow to deep


@dataclass(frozen=True)
class RunConfig:
    output_dir: str = "runs/train"
    seed: int = 0
    device: str = "auto"            # auto | cpu | cuda
    threads: Optional[int] = None   # torch intra-op threads per rank; None = torch default
    checkpoint_every: int = 5       # epochs; the last epoch is always saved
    max_steps: int = 0              # stop after this many optimiser steps in total; 0 = no limit
    log_every: int = 10             # optimiser steps between log lines in train_log.jsonl
    progress: bool = True

    def __post_init__(self):
        if self.device not in DEVICES:
            raise ValueError(f"run.device {self.device!r} is not one of {DEVICES}")
        if self.checkpoint_every < 1 or self.log_every < 1 or self.max_steps < 0:
            raise ValueError("run: checkpoint_every and log_every must be >= 1, max_steps >= 0")


@dataclass(frozen=True)
class TrainConfig:
    stage: str
    model: ModelConfig
    data: DataConfig
    init: InitConfig = field(default_factory=InitConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"stage {self.stage!r} is not one of {STAGES}")
        if self.model.stage != self.stage:
            raise ValueError(f"model.stage {self.model.stage!r} must equal the recipe stage {self.stage!r}")
        for name in ("center_weight", "readout_weight"):
            value = getattr(self.loss, name)
            if value < 0 or (value and self.stage != "frame"):
                raise ValueError(f"loss.{name} must be >= 0 and is used by the frame stage only")
        if not 0 <= self.loss.center_layer <= self.model.depth:
            raise ValueError(f"loss.center_layer {self.loss.center_layer} outside 0..model.depth")
        if self.stage == "distill":
            depths = list(self.loss.exit_depths)
            if len(depths) < 2 or depths != sorted(set(depths)):
                raise ValueError(f"loss.exit_depths {depths} must be >= 2 increasing depths")
            if depths[0] < 1 or depths[-1] > self.model.depth:
                raise ValueError(f"loss.exit_depths {depths} must lie in 1..model.depth ({self.model.depth})")


# PyYAML follows YAML 1.1, where "1e-4" (no dot) is a string; read it as the number it means.
_SCIENTIFIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def fix_yaml_floats(value):
    if isinstance(value, str) and _SCIENTIFIC.match(value.strip()):
        return float(value)
    if isinstance(value, dict):
        return {k: fix_yaml_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fix_yaml_floats(v) for v in value]
    return value


def parse_override(text: str) -> tuple[list[str], object]:
    """``a.b.c=value`` -> (["a", "b", "c"], YAML-parsed value)."""
    if "=" not in text:
        raise ValueError(f"override {text!r} must look like section.key=value")
    key, value = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ValueError(f"override {text!r} has no key")
    return parts, fix_yaml_floats(yaml.safe_load(value))


def apply_overrides(data: dict, overrides: Seq[str]) -> dict:
    data = dict(data)
    for text in overrides:
        parts, value = parse_override(text)
        node = data
        for p in parts[:-1]:
            child = node.get(p)
            child = dict(child) if isinstance(child, dict) else {}
            node[p] = child
            node = child
        node[parts[-1]] = value
    return data


def load_train_config(path: str | Path, overrides: Seq[str] = ()) -> TrainConfig:
    """A recipe file with ``--set KEY=VALUE`` overrides applied, typed and checked."""
    return load_yaml(path, TrainConfig, lambda data: apply_overrides(fix_yaml_floats(data), overrides))


def train_config_to_dict(cfg: TrainConfig) -> dict:
    """Plain dict (tuples as lists) for YAML / JSON dumps and checkpoint metadata."""
    def plain(v):
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(config_to_dict(cfg))


__all__ = ["TrainConfig", "InitConfig", "DataConfig", "OptimConfig", "LossConfig", "RunConfig",
           "load_train_config", "train_config_to_dict", "apply_overrides"]
