"""Checkpoint I/O: official ``.pth.tar`` files (read safely) and the project's own safetensors.

Official files are ``torch.save`` dicts whose ``net`` entry is the state dict, next to pickled
objects of the official training code (``settings``, ``stats``). They are read with a restricted
unpickler: tensors, storages and plain containers are rebuilt; classes of the official code
(``lib.*``) and ``easydict`` become inert placeholders; any other global (``os.system``,
``builtins.eval``, ...) is refused, so a malicious pickle cannot run code.

Own files are safetensors with the model config (JSON) in their metadata, so they describe
themselves and need no pickle at all.
"""
from __future__ import annotations

import json
import pickle
import types
import zipfile
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

from fartrack_ros.config import ModelConfig, config_from_dict, config_to_dict
from fartrack_ros.core.files import replaced_atomically
from fartrack_ros.model.fartrack import FARTrack

FORMAT_NAME = "fartrack_ros"
FORMAT_VERSION = "1"

# official net_type -> our stage
OFFICIAL_NET_TYPES = {"FARTrack": "frame", "FARTrackDistill": "distill", "FARTrackSparse": "sparse"}


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the reason."""


# --------------------------------------------------------------------------- safe unpickling

_SAFE_GLOBALS = {
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch", "float32"), ("torch", "float16"), ("torch", "bfloat16"), ("torch", "int64"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}
# Modules whose classes are data holders of the official training code: instantiate nothing of
# theirs, keep an inert placeholder with the pickled state.
_PLACEHOLDER_PREFIXES = ("lib.", "easydict")


class OfficialObject:
    """Inert stand-in for a class of the official code found in a checkpoint pickle."""

    qualname = "?"

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state

    def __reduce__(self):   # never re-pickled into something executable
        raise TypeError("placeholder objects cannot be pickled")


def _placeholder(module: str, name: str) -> type:
    return type(name, (OfficialObject,), {"qualname": f"{module}.{name}"})


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        if module == "torch" and name.endswith("Storage"):
            return super().find_class(module, name)
        if module.startswith(_PLACEHOLDER_PREFIXES):
            return _placeholder(module, name)
        raise pickle.UnpicklingError(
            f"the pickle references {module}.{name}; refusing to load it because unpickling "
            "it could execute code")


# torch.load takes a module-like object with Unpickler/load
_restricted_pickle = types.SimpleNamespace(
    Unpickler=RestrictedUnpickler, __name__="fartrack_restricted_pickle",
    load=lambda f, **kw: RestrictedUnpickler(f, **kw).load())


def _not_a_checkpoint(path: Path) -> Optional[str]:
    """What the file is when it is neither a zip (torch.save) nor a pickle (legacy torch.save)."""
    with path.open("rb") as f:
        head = f.read(256)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\x80"):
        return None
    if not head:
        return "an empty file"
    if path.suffix.lower() == ".onnx" or head.startswith(b"\x08") and b"\x12" in head[2:4]:
        return "an ONNX graph (fartrack export writes those from a weights file)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"a binary file starting with {head[:8]!r}"
    return f"a text file starting with {text.splitlines()[0][:40]!r}" if text.strip() else "a text file"


def read_official_checkpoint(path: str | Path) -> dict:
    """Load an official ``.pth.tar`` dict without executing anything from its pickle."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    what = _not_a_checkpoint(path)
    if what:
        raise CheckpointError(f"{path}: not a PyTorch checkpoint but {what}; expected an official "
                              "FARTrack .pth.tar or a .safetensors file written by fartrack")
    try:
        obj = torch.load(path, map_location="cpu", pickle_module=_restricted_pickle,
                         weights_only=False)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path}: unsafe checkpoint: {exc}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, KeyError, ValueError,
            AttributeError, IndexError, TypeError) as exc:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint "
                              f"(corrupt or truncated?): {exc}") from None
    if isinstance(obj, dict) and "net" in obj:
        return obj
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return {"net": obj}          # a bare state dict
    raise CheckpointError(f"{path}: no 'net' state dict in the checkpoint "
                          f"(top-level keys: {sorted(obj) if isinstance(obj, dict) else type(obj)})")


def infer_official_stage(checkpoint: dict) -> str:
    net_type = checkpoint.get("net_type")
    if isinstance(net_type, str):
        if net_type == "FARTrackSeq":
            raise CheckpointError("FARTrackSeq checkpoints (1-template speed-test model) are not "
                                  "supported; use FARTrack, FARTrackDistill or FARTrackSparse")
        if net_type in OFFICIAL_NET_TYPES:
            return OFFICIAL_NET_TYPES[net_type]
    keys = checkpoint["net"].keys()
    if any(".masknorm1." in k for k in keys):
        return "sparse"
    return "distill"    # frame-level and distill state dicts have identical names


# --------------------------------------------------------------------------- key handling

def check_state_dict(model: torch.nn.Module, state: dict, source: str) -> None:
    """Raise CheckpointError listing missing, unexpected and mis-shaped keys (strict loading)."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshaped = sorted(f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
                       for k in set(expected) & set(state)
                       if tuple(state[k].shape) != tuple(expected[k].shape))
    if missing or unexpected or misshaped:
        parts = []
        if missing:
            parts.append(f"missing keys ({len(missing)}): {missing}")
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {unexpected}")
        if misshaped:
            parts.append(f"mis-shaped keys ({len(misshaped)}): {misshaped}")
        raise CheckpointError(f"{source}: state dict does not match the model: " + "; ".join(parts))


# The official ``finetune_track`` wraps ONE interpolated tensor in several Parameters
# (``pos_embed_z``, ``pos_embed_z0``, ``pos_embed_z1``; the frame / distill layouts have only z0 and
# z1), so they share storage. Loading a state dict copies each entry into that same memory in
# registration order and the last one, ``pos_embed_z1``, is what the forward then reads as
# ``pos_embed_z0``. Files saved by the official training hold equal tensors; a file whose entries
# differ must still behave as in the official tracker.
ALIASED_TEMPLATE_POS_EMBEDS = ("backbone.pos_embed_z", "backbone.pos_embed_z0",
                               "backbone.pos_embed_z1")


def tie_template_pos_embeds(state: dict) -> dict:
    """Official state dict -> the values the official model holds after loading it: every
    aliased template positional embedding equals ``pos_embed_z1`` (the last one loaded)."""
    last = state.get(ALIASED_TEMPLATE_POS_EMBEDS[-1])
    if last is None:                 # check_state_dict reports the missing key
        return state
    out = dict(state)
    for name in ALIASED_TEMPLATE_POS_EMBEDS[:-1]:
        if name in out:
            out[name] = last.clone()
    return out


def tie_to_trained_template_pos_embed(state: dict) -> dict:
    """Own state dict -> the official one-table form: ``pos_embed_z`` and ``pos_embed_z1`` become
    copies of ``pos_embed_z0``, the table this project's forward (and training) reads.

    The official model holds the three as one tensor, so training moves them together and any
    of them loaded last is the trained one. This project keeps three tensors and trains only
    ``pos_embed_z0``; written without this tie, a file would run the official model with a stale
    ``pos_embed_z1``.
    """
    trained = state.get("backbone.pos_embed_z0")
    if trained is None:
        return state
    out = dict(state)
    for name in ALIASED_TEMPLATE_POS_EMBEDS:
        if name in out and name != "backbone.pos_embed_z0":
            out[name] = trained.clone()
    return out


def official_to_stage(state: dict, source_stage: str, target_stage: str) -> dict:
    """Explicit key map between official layouts.

    - same layout: names are identical (no renaming);
    - frame/distill -> sparse: each ``normK`` is copied into ``masknormK.norm`` as the official
      sparse stage initialises them from the distillation checkpoint; the dead ``pos_embed_z`` and
      ``prev_position_embeddings`` start from ``pos_embed_z0`` and 3x ``position_embeddings``;
    - sparse -> frame/distill: the masknorms replace the stale norms and the dead tensors go.
    """
    layout_of = {"frame": "plain", "distill": "plain", "sparse": "sparse"}
    src, dst = layout_of[source_stage], layout_of[target_stage]
    if src == dst:
        return dict(state)
    out = {}
    if src == "plain" and dst == "sparse":
        for k, v in state.items():
            out[k] = v
            for n in ("norm1", "norm2"):
                if f".{n}." in k and (".blocks." in k or ".extension." in k):
                    out[k.replace(f".{n}.", f".mask{n}.norm.")] = v.clone()
        out["backbone.pos_embed_z"] = state["backbone.pos_embed_z0"].clone()
        out["backbone.prev_position_embeddings.weight"] = \
            state["backbone.position_embeddings.weight"].repeat(3, 1).clone()
        return out
    for k, v in state.items():                       # sparse -> plain
        if k in ("backbone.pos_embed_z", "backbone.prev_position_embeddings.weight"):
            continue
        if ".masknorm" in k:
            out[k.replace(".masknorm1.norm.", ".norm1.").replace(".masknorm2.norm.", ".norm2.")] = v
        elif ".norm1." not in k and ".norm2." not in k or k.startswith("backbone.norm."):
            out[k] = v
    return out


# --------------------------------------------------------------------------- own format

def save_weights(path: str | Path, model: FARTrack, extra: Optional[dict] = None,
                 dtype: Optional[torch.dtype] = None) -> Path:
    """Save ``model`` as safetensors with its config (and ``extra`` JSON metadata)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().to("cpu", dtype or v.dtype) if v.is_floating_point()
                 else v.detach().cpu()).contiguous()
             for k, v in model.state_dict().items()}
    state = tie_to_trained_template_pos_embed(state)
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "model_config": json.dumps(config_to_dict(model.cfg))}
    if extra:
        meta["extra"] = json.dumps(extra)
    with replaced_atomically(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return path


def _read_safetensors(path: Path) -> tuple[dict, dict]:
    """Every tensor and the metadata of a safetensors file; errors name the file."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file (corrupt?): {exc}") from None


def read_own_weights(path: str | Path) -> tuple[dict, ModelConfig, dict]:
    path = Path(path)
    state, meta = _read_safetensors(path)
    # the learned confidence head (model/score_head.py) lives beside the model's tensors under
    # its own prefix; it is not part of the model's state dict
    state = {k: v for k, v in state.items() if not k.startswith("score_head.")}
    if meta.get("format") != FORMAT_NAME or "model_config" not in meta:
        raise CheckpointError(f"{path}: safetensors file without fartrack_ros metadata "
                              "(format/model_config); convert official files with `fartrack convert`")
    try:
        cfg = config_from_dict(ModelConfig, json.loads(meta["model_config"]))
    except (ValueError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: bad model_config metadata: {exc}") from None
    extra = json.loads(meta["extra"]) if "extra" in meta else {}
    return state, cfg, extra


# --------------------------------------------------------------------------- front door

def is_own_format(path: str | Path) -> bool:
    return Path(path).suffix == ".safetensors"


def load_weights(path: str | Path) -> tuple[dict, ModelConfig, dict]:
    """Read any supported weights file -> (state_dict, ModelConfig, metadata).

    Official files give the full 15-block config of their stage; own files their stored config.
    """
    path = Path(path)
    if is_own_format(path):
        return read_own_weights(path)
    ckpt = read_official_checkpoint(path)
    stage = infer_official_stage(ckpt)
    state = {k: v for k, v in ckpt["net"].items()}
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path}: non-tensor entries in 'net': {bad[:5]}")
    state = tie_template_pos_embeds(state)
    meta = {"source": str(path), "net_type": ckpt.get("net_type"), "epoch": ckpt.get("epoch")}
    return state, ModelConfig(stage=stage), meta


def build_model(path: str | Path, depth: Optional[int] = None, stage: Optional[str] = None,
                device: str | torch.device = "cpu") -> FARTrack:
    """Load weights into a FARTrack model (strict), optionally cut to ``depth`` / mapped to ``stage``."""
    state, cfg, _ = load_weights(path)
    target_stage = stage or cfg.stage
    if target_stage != cfg.stage:
        state = official_to_stage(state, cfg.stage, target_stage)
    fields = {**config_to_dict(cfg), "stage": target_stage}
    if depth is not None:
        fields["depth"] = depth
    model = FARTrack(ModelConfig(**fields))
    check_state_dict(model, state, str(path))
    model.load_state_dict(state, strict=True)
    model.renorm_command_embeddings_()     # the official max_norm=1 renorms rows 600-603 on first use
    return model.to(device).eval()


def average_weights(paths: Sequence[str | Path], depth: Optional[int] = None) -> FARTrack:
    """The tensor-by-tensor mean of several weights files of one model (a "model soup").

    Meant for runs that share their start (their weights stay in one basin, so the mean is a
    model of its own, not a blur). Every file must hold the same tensors under the same config;
    floating tensors are averaged in float32, others are taken from the first file.
    """
    if not paths:
        raise ValueError("average_weights needs at least one weights file")
    states, first_cfg = [], None
    for path in paths:
        state, cfg, _ = load_weights(path)
        if first_cfg is None:
            first_cfg = cfg
        elif cfg != first_cfg:
            raise CheckpointError(f"{path}: config {config_to_dict(cfg)} differs from "
                                  f"{paths[0]}'s {config_to_dict(first_cfg)}; only weights of one "
                                  "model can be averaged")
        if states and set(state) != set(states[0]):
            raise CheckpointError(f"{path}: holds other tensors than {paths[0]}")
        states.append(state)
    model = build_model(paths[0], depth=depth)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(sum(state[name].float() for state in states) / len(states))
    model.renorm_command_embeddings_()     # means of renormed rows stay renormed; raw ones not
    return model


def convert_official(src: str | Path, dst: str | Path) -> Path:
    """Official ``.pth.tar`` -> own safetensors (same tensors, renorm applied, config stored)."""
    state, cfg, meta = load_weights(src)
    model = FARTrack(cfg)
    check_state_dict(model, state, str(src))
    model.load_state_dict(state, strict=True)
    model.renorm_command_embeddings_()
    return save_weights(dst, model, extra={"converted_from": Path(src).name,
                                           "net_type": meta.get("net_type"),
                                           "epoch": meta.get("epoch")})


OFFICIAL_NET_TYPE_OF_STAGE = {stage: net_type for net_type, stage in OFFICIAL_NET_TYPES.items()}


def export_official(src: str | Path, dst: str | Path) -> Path:
    """Any weights file -> the official ``.pth.tar`` layout (``{'net': state dict, 'net_type'}``).

    The official model code loads the result with its own strict ``load_state_dict`` and runs it
    as this project does: all 15 blocks stored (the variant picks the depth), float32, command
    embeddings renormed, and ``pos_embed_z`` / ``_z0`` / ``_z1`` all holding the trained table
    (``tie_to_trained_template_pos_embed``), since the official model keeps whichever is loaded
    last. Written without pickling anything but tensors, strings and dicts.
    """
    from collections import OrderedDict

    state, cfg, meta = load_weights(src)
    model = FARTrack(ModelConfig(**{**config_to_dict(cfg), "depth": cfg.total_blocks}))
    check_state_dict(model, state, str(src))
    model.load_state_dict(state, strict=True)
    model.renorm_command_embeddings_()
    tied = tie_to_trained_template_pos_embed(
        {k: v.detach().to("cpu", torch.float32).clone() for k, v in model.state_dict().items()})
    checkpoint = {"net": OrderedDict((k, tied[k]) for k in model.state_dict()),
                  "net_type": OFFICIAL_NET_TYPE_OF_STAGE[cfg.stage],
                  "converted_from": Path(src).name}
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(dst) as tmp:
        torch.save(checkpoint, tmp)
    return dst


def repair_weights_file(path: str | Path, out: Optional[str | Path] = None) -> float:
    """Make an own ``.safetensors`` file consistent with the official model: ``pos_embed_z`` and
    ``pos_embed_z1`` get the trained ``pos_embed_z0`` (every other tensor, the dtype and the
    metadata are kept byte for byte). Writes ``out`` (default: ``path`` itself, atomically).

    Returns the largest difference that was repaired (0.0: the file was consistent). The boxes
    of this project's tracker do not change (it reads ``pos_embed_z0`` only); the official code
    then runs the file with the trained table instead of a stale one.
    """
    from safetensors.torch import save_file

    path = Path(path)
    state, meta = _read_safetensors(path)
    if meta.get("format") != FORMAT_NAME or "backbone.pos_embed_z0" not in state:
        raise CheckpointError(f"{path}: not a fartrack_ros weights file with pos_embed_z0")
    trained = state["backbone.pos_embed_z0"]
    fixed = max((float((state[k].float() - trained.float()).abs().max())
                 for k in ALIASED_TEMPLATE_POS_EMBEDS if k in state), default=0.0)
    state = tie_to_trained_template_pos_embed(state)
    target = Path(out) if out is not None else path
    target.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(target) as tmp:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp), metadata=meta)
    return fixed
