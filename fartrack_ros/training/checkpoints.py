"""A training run's files: its checkpoints and the state a run resumes from.

Each checkpoint is ``<stem>.safetensors`` (weights + model config + recipe, the project's own
format, also written as ``last.safetensors``) beside ``<stem>.train_state.pt`` (optimiser,
scheduler, position in the epoch, random state), read back with ``weights_only=True`` so a
state file can hold no code.
"""
from __future__ import annotations

from pathlib import Path

import torch

from fartrack_ros.core.files import replaced_atomically
from fartrack_ros.model.checkpoint import save_weights
from fartrack_ros.model.fartrack import FARTrack

STATE_SUFFIX = ".train_state.pt"
LAST_WEIGHTS = "last.safetensors"


def checkpoint_stem(epoch: int, batch_in_epoch: int, global_step: int) -> str:
    # mid-epoch saves carry the step so they sort after the previous epoch's
    if batch_in_epoch:
        return f"checkpoint_ep{epoch:04d}_step{global_step:08d}"
    return f"checkpoint_ep{epoch:04d}"


def write_checkpoint(path: Path, model: FARTrack, extra: dict, train_state: dict) -> Path:
    """``model``'s weights with ``extra`` metadata at ``path`` and as ``last.safetensors``, and
    ``train_state`` beside them; each file replaced atomically."""
    save_weights(path, model, extra=extra)
    save_weights(path.with_name(LAST_WEIGHTS), model, extra=extra)
    with replaced_atomically(path.with_name(path.stem + STATE_SUFFIX)) as tmp:
        torch.save(train_state, tmp)
    return path


def find_resume_state(path: str | Path) -> Path:
    """A ``*.train_state.pt`` file, or the newest one in a run directory."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        states = sorted(path.glob(f"checkpoint_*{STATE_SUFFIX}"))
        if states:
            return states[-1]
        raise FileNotFoundError(f"no checkpoint_*{STATE_SUFFIX} in {path} to resume from")
    raise FileNotFoundError(f"resume checkpoint not found: {path}")


def read_train_state(path: Path, stage: str, world: int, batch_size: int) -> dict:
    """The training state at ``path``, checked to fit a run of ``stage`` on ``world`` ranks with
    ``batch_size``: a run stopped mid-epoch continues only with the same batch layout, since the
    position in the epoch counts batches."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("stage") != stage:
        raise ValueError(f"{path}: a {state.get('stage')!r} run cannot resume as {stage!r}")
    if state["batch_in_epoch"] and (state["world"], state["batch_size"]) != (world, batch_size):
        raise ValueError(f"{path}: stopped mid-epoch with {state['world']} ranks x batch "
                         f"{state['batch_size']}; resume with the same (or from an epoch end)")
    return state
