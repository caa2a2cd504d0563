"""Typed, frozen configuration with strict loading: an unknown key is an error naming it.

``config_from_dict(cls, data)`` builds any of these dataclasses (nested ones too) from plain
dicts as read from YAML, checks every value against its annotation and runs the class's own
``__post_init__`` validation. ``load_yaml(path, cls)`` does the same from a file.

Fields made with ``option(...)`` carry what a user interface needs to offer them (description,
choices or range, the stand-in for None): ``check_options`` validates against it, and the ROS
node derives its tracker parameters from ``TrackerConfig``'s fields
(fartrack_ros/ros/parameters.py), so each field is described once.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

VARIANT_DEPTHS = {"tiny": 15, "nano": 10, "pico": 6}
STAGES = ("frame", "distill", "sparse")
DEVICES = ("cpu", "cuda")


def option(default: Any, description: str, *, choices: tuple = (),
           bounds: Optional[tuple] = None, unset: Any = None, unset_means: str = "") -> Any:
    """A dataclass field with its description and allowed values (``choices``, or inclusive
    ``bounds`` (low, high)). An optional field (default None) names ``unset``, the value that
    stands for None where None cannot be written (a ROS parameter: '' or 0), and what None
    means."""
    return field(default=default, metadata={"description": description, "choices": tuple(choices),
                                            "bounds": bounds, "unset": unset,
                                            "unset_means": unset_means})


def check_options(config: Any) -> None:
    """ValueError naming the first ``option`` field whose value is outside its choices or
    bounds (None, where allowed, is always fine)."""
    for f in dataclasses.fields(config):
        value, meta = getattr(config, f.name), f.metadata
        if value is None or not meta:
            continue
        if meta["choices"] and value not in meta["choices"]:
            raise ValueError(f"{f.name} {value!r} is not one of {list(meta['choices'])}")
        if meta["bounds"] is not None:
            low, high = meta["bounds"]
            if not low <= value <= high:
                span = f"[{low}, {high}]" if isinstance(low, float) else f"{low}..{high}"
                raise ValueError(f"{f.name} must be in {span}, got {value}")


def depth_for_variant(variant: str) -> int:
    try:
        return VARIANT_DEPTHS[variant]
    except KeyError:
        raise ValueError(f"unknown variant {variant!r}; expected one of {sorted(VARIANT_DEPTHS)}") from None


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of FARTrack. Defaults are the released model (ViT-Tiny, the official configuration)."""

    stage: str = "sparse"          # frame | distill | sparse: which official module layout
    depth: int = 15                # blocks executed: 15 Tiny, 10 Nano, 6 Pico
    embed_dim: int = 192
    num_heads: int = 3
    mlp_ratio: float = 4.0
    num_blocks: int = 12           # stored as blocks.0-11 ...
    num_extension: int = 3         # ... plus extension.0-2
    patch_size: int = 16
    template_size: int = 112
    search_size: int = 224
    num_templates: int = 5
    template_factor: float = 2.0
    search_factor: float = 4.0
    bins: int = 300
    coord_range: int = 2
    prenum: int = 3                # length of the (unused) trajectory input, sparse layout only
    drop_path_rate: float = 0.1    # training only

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"model stage {self.stage!r} is not one of {STAGES}")
        total = self.num_blocks + self.num_extension
        if not 1 <= self.depth <= total:
            raise ValueError(f"model depth {self.depth} outside 1..{total}")
        if self.embed_dim % self.num_heads:
            raise ValueError("embed_dim must be divisible by num_heads")

    @property
    def total_blocks(self) -> int:
        return self.num_blocks + self.num_extension

    @property
    def template_tokens(self) -> int:
        return (self.template_size // self.patch_size) ** 2

    @property
    def search_tokens(self) -> int:
        return (self.search_size // self.patch_size) ** 2

    @property
    def vocab_size(self) -> int:
        return self.bins * self.coord_range + 5


@dataclass(frozen=True)
class TrackerConfig:
    """What a user chooses when running the tracker (CLI, node, evaluation). Each field is the
    one description of that setting: the node's parameters are made from these fields."""

    weights: Optional[str] = option(
        None, "official .pth.tar or own .safetensors weights file",
        unset="", unset_means="the weights shipped with the package")
    variant: str = option("pico", "model depth: tiny (15 blocks), nano (10) or pico (6)",
                          choices=tuple(VARIANT_DEPTHS))
    # the registered backends are known at run time: fartrack_ros.runtime.backends
    backend: str = option("auto", "inference backend ('auto' = fastest exact one)")
    device: str = option("cpu", "cpu or cuda", choices=DEVICES)
    threads: Optional[int] = option(
        None, "CPU threads for inference (torch intra-op threads)", bounds=(1, 256),
        unset=0, unset_means="the library default")
    # chosen on the real val split for the learned score head (docs/confidence.md says how)
    lost_threshold: float = option(
        0.1, "confidence below which a frame counts towards lost (no detection published while "
        "lost)", bounds=(0.0, 1.0))
    lost_enter_frames: int = option(
        5, "consecutive frames below lost_threshold before the state turns lost", bounds=(1, 1000))
    lost_exit_frames: int = option(
        2, "consecutive frames at or above lost_threshold before lost turns tracking; with "
        "re-acquisition, consecutive frames its best candidate reaches reacquire_threshold at "
        "the same place before it re-locks", bounds=(1, 1000))
    # off by default: on the real val split 58 of its 65 re-locks landed on the wrong object,
    # and on the demo video it re-locked on other pedestrians (docs/confidence.md)
    reacquire: bool = option(False, "while lost, search wider and re-lock (needs weights with a "
                             "score head)")
    reacquire_crops: int = option(4, "extra search crops per lost frame", bounds=(0, 64))
    reacquire_threshold: float = option(
        0.3, "confidence a candidate (wider-search crop or the normal one) needs, while lost, "
        "to count towards re-locking; with re-acquisition the only way out of lost",
        bounds=(0.0, 1.0))

    # bounded memory on long videos (core/template_history.py): 512 templates are 19 MB with the
    # ONNX backend, and the slots stay exactly the official ones for the first 731 frames
    template_history: int = option(
        512, "most templates kept for sampling the slots; the official tracker keeps every one "
        "(0 here), and its memory grows with the video", bounds=(0, 1_000_000))

    def __post_init__(self):
        depth_for_variant(self.variant)
        check_options(self)
        if 0 < self.template_history < 5:
            raise ValueError(f"template_history {self.template_history}: 0 (keep every template) "
                             f"or at least the 5 slots")

    @property
    def depth(self) -> int:
        return depth_for_variant(self.variant)


# --------------------------------------------------------------------------- strict loading

def _check_type(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(annotation):
            if option is type(None):
                if value is None:
                    return None
                continue
            try:
                return _check_type(value, option, where)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ValueError(f"{where}: {value!r} does not match {annotation}")
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {type(value).__name__}")
        return config_from_dict(annotation, value, where)
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {type(value).__name__}")
        item = args[0] if args else Any
        items = [_check_type(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true/false, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def config_from_dict(cls: type, data: dict, where: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types raise ValueError."""
    if not isinstance(data, dict):
        raise ValueError(f"{where or cls.__name__}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}unknown key(s) {unknown} for {cls.__name__}; "
                         f"allowed: {sorted(names)}")
    kwargs = {k: _check_type(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    return cls(**kwargs)


def config_to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


def load_yaml(path: str | Path, cls: type, prepare: Optional[Callable[[dict], dict]] = None) -> Any:
    """A YAML mapping typed and checked as ``cls``; errors name the file. ``prepare`` edits the
    raw mapping first (training: YAML 1.1 floats such as ``1e-4``, ``--set`` overrides)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    with path.open() as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    try:
        return config_from_dict(cls, prepare(data) if prepare else data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {exc}") from None


__all__ = ["ModelConfig", "TrackerConfig", "VARIANT_DEPTHS", "depth_for_variant",
           "config_from_dict", "config_to_dict", "load_yaml", "field", "option", "check_options"]
