"""The three official training recipes over one model class.

* ``frame``: 5 templates + 1 search per sample; 2 * token CE + 2 * SIoU.
* ``distill``: the same samples; CE + SIoU at every exit (e.g. depths 5..15) and a KL of each
  exit to the next deeper one: 2 * mean(SIoU) + 2 * mean(CE) + 0.01 * mean(KL).
* ``sparse``: 32-frame clips. The model first tracks each clip from its own predictions (eval
  mode, no gradient: search crops centred on the previous prediction, argmax decode, the
  template pruning mask built at the first tracked frame and held), then is trained on the
  recorded crops and masks with 2 * SIoU.

One code path runs on one CPU and under ``torchrun`` (DistributedDataParallel, NCCL on GPUs,
Gloo on CPUs). Item ``i`` of epoch ``e`` is drawn from its own seed, so a run resumed from a
checkpoint continues exactly where it stopped, mid-epoch included.

Output directory: ``checkpoint_ep{E:04d}.safetensors`` (weights + model config + recipe, the
project's own format) beside ``checkpoint_ep{E:04d}.train_state.pt`` (optimiser, scheduler,
position, random state; read back with ``weights_only=True``), ``last.safetensors``,
``train_log.jsonl`` (one line per ``log_every`` steps) and ``recipe.yaml``.
"""
from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader

from ..core.boxes import xywh_to_xyxy
from ..core.crops import box_cxcywh_from_crop, box_xywh_in_crop, sample_target
from ..core.files import replaced_atomically
from ..data.training_sets import open_dataset
from ..model.checkpoint import save_weights
from ..model.fartrack import FARTrack, prune_lowest
from .config import TrainConfig, train_config_to_dict
from .init_weights import load_previous_stage, load_vit_pretrained, structured_init_
from .loaders import (ClipTrainingSet, EpochSampler, FrameTrainingSet, collate_clips,
                      normalize_crops, worker_init)
from .losses import (argmax_xyxy, center_loss, distill_losses, frame_losses, readout_attention_loss,
                     sequence_losses)
from .processing import ClipSample
from .sampling import CausalFrameSampler, ClipSampler, DatasetMixture

STATE_SUFFIX = ".train_state.pt"
# name fragments of the backbone parameters that keep the full LR (the official third group)
FULL_LR_FRAGMENTS = ("output_bias", "embeddings", "extension")


# --------------------------------------------------------------------------- distributed

@dataclass
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def setup_distributed(device: str) -> DistContext:
    """Read torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); plain runs get rank 0 of 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("run.device is 'cuda' but no CUDA device is available")
    dev = torch.device(f"cuda:{local_rank}") if device == "cuda" else torch.device("cpu")
    if device == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if device == "cuda" else "gloo")
    return DistContext(rank, world, local_rank, dev)


class StageForward(nn.Module):
    """One ``forward`` for every call the recipes make, so DistributedDataParallel sees them all."""

    def __init__(self, model: FARTrack, center_head: bool = False, center_layer: int = 0,
                 readout_attention: bool = False):
        super().__init__()
        self.model = model
        self.center_layer = center_layer
        self.readout_attention = readout_attention
        # training-only head of loss.center_weight (not saved with the model's weights)
        self.center_head = nn.Sequential(nn.LayerNorm(model.cfg.embed_dim), nn.Linear(model.cfg.embed_dim, 1)) \
            if center_head else None

    @property
    def auxiliary(self) -> bool:
        return self.center_head is not None or self.readout_attention

    def forward(self, templates, search, keep=None, exit_depths=None):
        if exit_depths is not None:
            return self.model.forward_exits(templates, search, depths=exit_depths, keep=keep)
        if self.auxiliary:
            logits, states, command_attention = self.model.forward_with_aux(templates, search, self.center_layer)
            center = self.center_head(states).squeeze(-1) if self.center_head is not None else None
            return logits, center, command_attention
        return self.model(templates, search, keep=keep)


def all_reduce_mean(values: dict[str, float], ctx: DistContext) -> dict[str, float]:
    if not ctx.distributed or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=ctx.device)
    torch.distributed.all_reduce(t)
    return {k: float(v) / ctx.world for k, v in zip(keys, t.tolist())}


# --------------------------------------------------------------------------- optimiser

def parameter_groups(model: FARTrack, lr: float, backbone_multiplier: float) -> list[dict]:
    """The official 3 AdamW groups: non-backbone at LR; backbone at LR x multiplier,
    except names containing output_bias / embeddings / extension, which keep the full LR."""
    outside, backbone_main, backbone_full = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if not name.startswith("backbone."):
            outside.append(p)
        elif any(f in name for f in FULL_LR_FRAGMENTS):
            backbone_full.append(p)
        else:
            backbone_main.append(p)
    groups = [{"params": outside, "lr": lr, "name": "non_backbone"},
              {"params": backbone_main, "lr": lr * backbone_multiplier, "name": "backbone"},
              {"params": backbone_full, "lr": lr, "name": "backbone_full_lr"}]
    return [g for g in groups if g["params"]]


def unused_parameter_names(model: FARTrack, max_depth: int) -> list[str]:
    """Stored tensors the stage's forward never reads (cls token, unused position tables, the
    norms the masknorms replace); frozen so DDP sees no unused ones."""
    cfg = model.cfg
    names = ["backbone.cls_token", "backbone.pos_embed", "backbone.pos_embed_z1"]
    if cfg.stage == "sparse":
        names += ["backbone.pos_embed_z", "backbone.prev_position_embeddings.weight"]
    blocks = list(model.backbone.blocks) + list(model.backbone.extension)
    prefixes = [f"backbone.blocks.{i}." for i in range(cfg.num_blocks)] + \
               [f"backbone.extension.{i}." for i in range(cfg.num_extension)]
    for i, (prefix, _block) in enumerate(zip(prefixes, blocks)):
        for pname, _ in _block.named_parameters():
            full = prefix + pname
            if i >= max_depth:
                names.append(full)
            elif cfg.stage == "sparse" and pname.split(".")[0] in ("norm1", "norm2"):
                names.append(full)
    return names


# --------------------------------------------------------------------------- stage 3 rollout

@dataclass
class Rollout:
    """What the sparse stage trains on, per clip b and tracked frame t (1..L-1)."""

    search: torch.Tensor        # (B, L-1, S, S, 3) uint8 crops around the model's own predictions
    keep: torch.Tensor          # (B, L-1, N) bool key masks (all True at the first tracked frame)
    gt_xyxy: torch.Tensor       # (B, L-1, 4) ground truth in crop-normalised xyxy
    iou: float                  # mean IoU of the rollout's predictions (a progress signal)


def clip_state_xywh(box_xywh, width: int, height: int, min_size: float = 10.0) -> list[float]:
    """The rollout's clip: centre into the image, size into [min_size, image size]."""
    x, y, w, h = box_xywh
    cx = min(max(x + 0.5 * w, 0.0), float(width))
    cy = min(max(y + 0.5 * h, 0.0), float(height))
    w = min(max(w, min_size), float(width))
    h = min(max(h, min_size), float(height))
    return [cx - 0.5 * w, cy - 0.5 * h, w, h]


@torch.no_grad()
def rollout_clips(model: FARTrack, clips: list[ClipSample], templates: torch.Tensor) -> Rollout:
    """Track every clip from its first ground-truth box with the model's own predictions.

    ``templates``: normalised (B, T, 3, t, t). The first tracked frame runs unmasked and
    prunes the lowest-attention quarter of each template except the newest (as the official training branch); that
    mask is held for the rest of the clip.
    """
    from ..core.boxes import iou_xywh

    cfg = model.cfg
    was_training = model.training
    model.eval()
    device = templates.device
    size, factor = cfg.search_size, cfg.search_factor
    n_clips, length = len(clips), len(clips[0].frames)
    states = [list(map(float, c.boxes_xywh[0])) for c in clips]
    n_tokens = cfg.num_templates * cfg.template_tokens + cfg.search_tokens + 4
    keep = torch.ones(n_clips, n_tokens, dtype=torch.bool, device=device)
    crops_all, keeps_all, gts_all, ious = [], [], [], []
    for t in range(1, length):
        crops, gts, factors = [], [], []
        for c, state in zip(clips, states):
            crop, window = sample_target(c.frames[t], state, factor, size)
            crops.append(crop)
            factors.append(window.resize_factor)
            gt = box_xywh_in_crop(c.boxes_xywh[t], state, window.resize_factor, size) / size
            gts.append(xywh_to_xyxy(gt))
        crops_np = np.stack(crops)
        search = normalize_crops(torch.from_numpy(crops_np).to(device))
        keeps_all.append(keep.clone())
        if t == 1:
            logits, scores = model.forward_with_scores(templates, search)
            slot_keep = prune_lowest(scores[:, :-1], 0.25)                  # slots 0..T-2
            newest = torch.ones_like(slot_keep[:, :1])
            keep = torch.cat([slot_keep, newest], 1).flatten(1)
            keep = torch.cat([keep, torch.ones(n_clips, n_tokens - keep.shape[1], dtype=torch.bool,
                                               device=device)], 1)
        else:
            logits = model(templates, search, keep=keep)
        coords = argmax_xyxy(logits).cpu().numpy().astype(np.float64)       # (B, 4) crop-normalised
        for b, c in enumerate(clips):
            x0, y0, x1, y1 = coords[b] * size
            box = box_cxcywh_from_crop([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], states[b],
                                       factors[b], size)
            h, w = c.frames[t].shape[:2]
            states[b] = clip_state_xywh(box, w, h)
            ious.append(float(iou_xywh(states[b], c.boxes_xywh[t])))
        crops_all.append(torch.from_numpy(crops_np))
        gts_all.append(torch.from_numpy(np.stack(gts)).float())
    model.train(was_training)
    return Rollout(search=torch.stack(crops_all, 1), keep=torch.stack(keeps_all, 1),
                   gt_xyxy=torch.stack(gts_all, 1), iou=float(np.mean(ious)) if ious else 0.0)


# --------------------------------------------------------------------------- the trainer

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


class Trainer:
    def __init__(self, cfg: TrainConfig, resume: Optional[str | Path] = None):
        self.cfg = cfg
        self.ctx = setup_distributed(cfg.run.device)
        if cfg.run.threads:
            torch.set_num_threads(cfg.run.threads)
        self.out_dir = Path(cfg.run.output_dir)
        torch.manual_seed(cfg.run.seed)                  # same initial weights on every rank
        self.model = FARTrack(cfg.model)
        self.init_info = self._initialise_weights()
        max_depth = max(cfg.loss.exit_depths) if cfg.stage == "distill" else cfg.model.depth
        unused = set(unused_parameter_names(self.model, max_depth))
        for name, p in self.model.named_parameters():
            if name in unused:
                p.requires_grad_(False)
        self.model.to(self.ctx.device).train()
        self.stage_forward = StageForward(self.model, center_head=cfg.loss.center_weight > 0,
                                          center_layer=cfg.loss.center_layer,
                                          readout_attention=cfg.loss.readout_weight > 0)
        self.stage_forward.to(self.ctx.device)
        self.net: nn.Module = self.stage_forward
        if self.ctx.distributed:
            ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.net, device_ids=ids)
        o = cfg.optim
        groups = parameter_groups(self.model, o.lr, o.backbone_multiplier)
        if self.stage_forward.center_head is not None:
            groups.append({"params": list(self.stage_forward.center_head.parameters()), "lr": o.lr,
                           "name": "center_head"})
        self.optimizer = torch.optim.AdamW(groups, lr=o.lr, weight_decay=o.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, o.lr_drop_epoch, gamma=o.lr_gamma)
        self.dataset = self._build_dataset()
        self.steps_per_epoch = math.ceil(len(self.dataset) / (o.batch_size * self.ctx.world))
        self.epoch, self.batch_in_epoch, self.global_step = 0, 0, 0
        self.train_seconds = 0.0
        # drop-path randomness: its own stream per rank; a resumed single-process run gets its
        # saved stream back, so it continues bit for bit
        torch.manual_seed(cfg.run.seed + 1000 * self.ctx.rank)
        if resume is not None:
            self._load_state(find_resume_state(resume))

    # ---------------------------------------------------------------- set-up
    def _initialise_weights(self) -> dict:
        init = self.cfg.init
        if init.weights:
            return {"weights": init.weights, **load_previous_stage(self.model, init.weights)}
        if init.mae:
            return {"mae": init.mae, **load_vit_pretrained(self.model, init.mae)}
        if init.fresh == "structured":
            return structured_init_(self.model, seed=self.cfg.run.seed)
        return {"fresh": True}

    def _build_dataset(self):
        data = self.cfg.data
        datasets = [open_dataset(spec) for spec in data.datasets]
        mixture = DatasetMixture(datasets, [spec.weight for spec in data.datasets])
        seed = self.cfg.run.seed
        if self.cfg.stage == "sparse":
            sampler = ClipSampler(mixture, self.cfg.model.num_templates, data.clip_length, data.max_gap)
            return ClipTrainingSet(sampler, data.processing, data.samples_per_epoch, seed)
        sampler = CausalFrameSampler(mixture, self.cfg.model.num_templates, 1, data.max_gap)
        return FrameTrainingSet(sampler, data.processing, data.samples_per_epoch, seed)

    def _loader(self, epoch: int, start_batch: int) -> DataLoader:
        self.dataset.set_epoch(epoch)
        o, ctx = self.cfg.optim, self.ctx
        sampler = EpochSampler(len(self.dataset), ctx.rank, ctx.world,
                               start=start_batch * o.batch_size * ctx.world)
        workers = self.cfg.data.workers
        # its own generator: creating the iterator must not consume the global torch stream
        # (drop-path), or a resumed run would diverge from an uninterrupted one
        generator = torch.Generator().manual_seed(self.cfg.run.seed * 100003 + epoch)
        return DataLoader(self.dataset, batch_size=o.batch_size, sampler=sampler, generator=generator,
                          num_workers=workers, worker_init_fn=worker_init if workers else None,
                          collate_fn=collate_clips if self.cfg.stage == "sparse" else None,
                          pin_memory=ctx.device.type == "cuda", drop_last=False)

    # ---------------------------------------------------------------- steps
    def _frame_inputs(self, batch: dict):
        dev = self.ctx.device
        templates = normalize_crops(batch["templates"].to(dev, non_blocking=True),
                                    batch["template_brightness"].to(dev))
        search = normalize_crops(batch["search"].to(dev, non_blocking=True),
                                 batch["search_brightness"].to(dev))
        return templates, search, batch["target_tokens"].to(dev)

    def _step_frame(self, batch: dict) -> tuple[dict, int]:
        templates, search, tokens = self._frame_inputs(batch)
        loss_cfg = self.cfg.loss
        if self.cfg.stage == "distill":
            exits = self.net(templates, search, exit_depths=tuple(loss_cfg.exit_depths))
            terms = distill_losses(exits, tokens, loss_cfg.ce_weight, loss_cfg.siou_weight, loss_cfg.kl_weight)
        elif self.stage_forward.auxiliary:
            logits, center_logits, command_attention = self.net(templates, search)
            terms = frame_losses(logits, tokens, loss_cfg.ce_weight, loss_cfg.siou_weight)
            box = batch["search_box_xyxy"].to(self.ctx.device)
            if center_logits is not None:
                center = center_loss(center_logits, box)
                terms["loss"] = terms["loss"] + loss_cfg.center_weight * center
                terms["center"] = center.detach()
            if loss_cfg.readout_weight > 0:
                readout = readout_attention_loss(command_attention, box)
                terms["loss"] = terms["loss"] + loss_cfg.readout_weight * readout
                terms["readout"] = readout.detach()
        else:
            logits = self.net(templates, search)
            terms = frame_losses(logits, tokens, loss_cfg.ce_weight, loss_cfg.siou_weight)
        terms["loss"].backward()
        return terms, tokens.shape[0]

    def _step_sparse(self, clips: list[ClipSample]) -> tuple[dict, int]:
        dev = self.ctx.device
        templates = normalize_crops(torch.from_numpy(np.stack([c.templates for c in clips])).to(dev))
        roll = rollout_clips(self.model, clips, templates)
        n_clips, n_frames = roll.search.shape[:2]
        search = roll.search.reshape(-1, *roll.search.shape[2:])
        keep = roll.keep.reshape(n_clips * n_frames, -1).to(dev)
        gt = roll.gt_xyxy.reshape(-1, 4).to(dev)
        owner = torch.arange(n_clips, device=dev).repeat_interleave(n_frames)
        total = n_clips * n_frames
        chunk = self.cfg.optim.micro_batch or n_frames
        loss_cfg = self.cfg.loss
        sums: dict[str, float] = {}
        starts = list(range(0, total, chunk))
        for k, s in enumerate(starts):
            e = min(s + chunk, total)
            sync = contextlib.nullcontext()
            if self.ctx.distributed and k < len(starts) - 1:
                sync = self.net.no_sync()
            with sync:
                logits = self.net(templates[owner[s:e]], normalize_crops(search[s:e].to(dev)), keep=keep[s:e])
                terms = sequence_losses(logits, gt[s:e], loss_cfg.ce_weight, loss_cfg.siou_weight)
                (terms["loss"] * ((e - s) / total)).backward()
            for name, v in terms.items():
                sums[name] = sums.get(name, 0.0) + float(v.detach()) * (e - s) / total
        sums["rollout_iou"] = roll.iou
        return sums, n_clips

    def _optimizer_step(self) -> None:
        clip = self.cfg.optim.grad_clip
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(self.stage_forward.parameters(), clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    # ---------------------------------------------------------------- loop
    def run(self) -> Path:
        cfg, ctx = self.cfg, self.ctx
        if ctx.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "recipe.yaml").write_text(yaml.safe_dump(train_config_to_dict(cfg), sort_keys=False))
        log_path = self.out_dir / "train_log.jsonl"
        max_steps = cfg.run.max_steps
        last_saved: Optional[Path] = None
        step_fn = self._step_sparse if cfg.stage == "sparse" else self._step_frame
        stopped = False
        while self.epoch < cfg.optim.epochs and not stopped:
            epoch = self.epoch
            loader = self._loader(epoch, self.batch_in_epoch)
            bar = None
            if ctx.is_main and cfg.run.progress:
                from tqdm import tqdm
                bar = tqdm(total=self.steps_per_epoch, initial=self.batch_in_epoch,
                           desc=f"{cfg.stage} epoch {epoch + 1}/{cfg.optim.epochs}", unit="step",
                           dynamic_ncols=True)
            window: dict[str, float] = {}
            window_steps, window_samples, window_time = 0, 0, 0.0
            for batch in loader:
                t0 = time.perf_counter()
                terms, n = step_fn(batch)
                terms = {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in terms.items()}
                self._optimizer_step()
                dt = time.perf_counter() - t0
                self.train_seconds += dt
                self.global_step += 1
                self.batch_in_epoch += 1
                window_steps += 1
                window_samples += n * ctx.world
                window_time += dt
                for k, v in terms.items():
                    window[k] = window.get(k, 0.0) + float(v)
                if bar is not None:
                    bar.set_postfix(loss=f"{float(terms['loss']):.4f}",
                                    speed=f"{window_samples / max(window_time, 1e-9):.1f} samples/s")
                    bar.update(1)
                done = max_steps and self.global_step >= max_steps
                if window_steps >= cfg.run.log_every or done or self.batch_in_epoch >= self.steps_per_epoch:
                    means = all_reduce_mean({k: v / window_steps for k, v in window.items()}, ctx)
                    if ctx.is_main:
                        record = {"epoch": epoch + 1, "step": self.global_step, **means,
                                  "lr": self.optimizer.param_groups[0]["lr"],
                                  "samples_per_s": window_samples / max(window_time, 1e-9)}
                        with log_path.open("a") as f:
                            f.write(json.dumps(record) + "\n")
                    window, window_steps, window_samples, window_time = {}, 0, 0, 0.0
                if done:
                    stopped = True
                    break
            if bar is not None:
                bar.close()
            if self.batch_in_epoch >= self.steps_per_epoch:      # the epoch is complete
                self.scheduler.step()
                self.epoch += 1
                self.batch_in_epoch = 0
            if stopped or self.epoch % cfg.run.checkpoint_every == 0 or self.epoch >= cfg.optim.epochs:
                last_saved = self.save_checkpoint()
        if last_saved is None:
            last_saved = self.save_checkpoint()
        if ctx.distributed:
            torch.distributed.barrier()
        return last_saved

    # ---------------------------------------------------------------- checkpoints
    def _checkpoint_stem(self) -> str:
        # mid-epoch saves carry the step so they sort after the previous epoch's
        if self.batch_in_epoch:
            return f"checkpoint_ep{self.epoch:04d}_step{self.global_step:08d}"
        return f"checkpoint_ep{self.epoch:04d}"

    def save_checkpoint(self) -> Path:
        """Weights in the own format (+ recipe) and the training state; main rank only."""
        path = self.out_dir / f"{self._checkpoint_stem()}.safetensors"
        if not self.ctx.is_main:
            return path
        extra = {"stage": self.cfg.stage, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
                 "global_step": self.global_step, "train_seconds": round(self.train_seconds, 3),
                 "init": {k: v for k, v in self.init_info.items() if isinstance(v, (str, int, bool))},
                 "recipe": train_config_to_dict(self.cfg)}
        save_weights(path, self.model, extra=extra)
        save_weights(self.out_dir / "last.safetensors", self.model, extra=extra)
        state = {"epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
                 "global_step": self.global_step, "train_seconds": self.train_seconds,
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "torch_rng": torch.get_rng_state(),
                 "cuda_rng": torch.cuda.get_rng_state() if self.ctx.device.type == "cuda" else None,
                 "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                 "center_head": ({k: v.detach().cpu() for k, v in self.stage_forward.center_head.state_dict().items()}
                                 if self.stage_forward.center_head is not None else None),
                 "stage": self.cfg.stage, "world": self.ctx.world,
                 "batch_size": self.cfg.optim.batch_size}
        with replaced_atomically(path.with_name(path.stem + STATE_SUFFIX)) as tmp:
            torch.save(state, tmp)
        return path

    def _load_state(self, state_path: Path) -> None:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        if state.get("stage") != self.cfg.stage:
            raise ValueError(f"{state_path}: a {state.get('stage')!r} run cannot resume as {self.cfg.stage!r}")
        run_shape = (self.ctx.world, self.cfg.optim.batch_size)
        if state["batch_in_epoch"] and (state["world"], state["batch_size"]) != run_shape:
            raise ValueError(f"{state_path}: stopped mid-epoch with {state['world']} ranks x batch "
                             f"{state['batch_size']}; resume with the same (or from an epoch end)")
        self.model.load_state_dict(state["model"], strict=True)
        if self.stage_forward.center_head is not None:
            if state.get("center_head") is None:
                raise ValueError(f"{state_path}: saved without the center head that loss.center_weight needs")
            self.stage_forward.center_head.load_state_dict(state["center_head"], strict=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.batch_in_epoch = state["epoch"], state["batch_in_epoch"]
        self.global_step, self.train_seconds = state["global_step"], state["train_seconds"]
        if self.ctx.distributed:     # only rank 0's stream was saved: derive fresh ones
            torch.manual_seed(self.cfg.run.seed + 1000 * self.ctx.rank + self.global_step)
        else:
            torch.set_rng_state(state["torch_rng"])
            if state.get("cuda_rng") is not None and self.ctx.device.type == "cuda":
                torch.cuda.set_rng_state(state["cuda_rng"])


def train(cfg: TrainConfig, resume: Optional[str | Path] = None) -> Path:
    """Run a recipe; returns the last checkpoint written."""
    trainer = Trainer(cfg, resume)
    distributed = trainer.ctx.distributed
    # On an exception the group is left to torchrun: another rank may be inside a collective,
    # and destroying the group under it deadlocks.
    last = trainer.run()
    if distributed:
        # DistributedDataParallel's reducer holds Gloo work objects; freed after the group is
        # gone (at interpreter exit) they can abort the process ("terminate called without an
        # active exception"). Free the trainer first, then the group, on every rank.
        del trainer
        gc.collect()
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return last
