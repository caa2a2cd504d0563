"""The three official training recipes over one model class.

* ``frame``: 5 templates + 1 search per sample; 2 * token CE + 2 * SIoU.
* ``distill``: the same samples; CE + SIoU at every exit (e.g. depths 5..15) and a KL of each
  exit to the next deeper one: 2 * mean(SIoU) + 2 * mean(CE) + 0.01 * mean(KL).
* ``sparse``: 32-frame clips. The model first tracks each clip from its own predictions (eval
  mode, no gradient: search crops centred on the previous prediction, argmax decode, the
  template pruning mask built at the first tracked frame and held), then is trained on the
  recorded crops and masks with 2 * SIoU.

One code path runs on one CPU and under ``torchrun`` (``distributed.py``). Item ``i`` of epoch
``e`` is drawn from its own seed, so a run resumed from a checkpoint continues exactly where it
stopped, mid-epoch included.

This module holds the loop; what differs between the stages (samples, depth, the step) is in
``stages.py``, the forwards only training calls in ``forwards.py``, the sparse stage's rollout
in ``rollout.py``, the checkpoint and resume files in ``checkpoints.py``. The output directory
gets them beside ``train_log.jsonl`` (one line per ``log_every`` steps) and ``recipe.yaml``.
"""
from __future__ import annotations

import gc
import json
import math
import time
from pathlib import Path
from typing import Optional

import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader

from fartrack_ros.data.training_sets import open_dataset
from fartrack_ros.model.fartrack import FARTrack
from fartrack_ros.training.checkpoints import checkpoint_stem, find_resume_state, read_train_state, write_checkpoint
from fartrack_ros.training.config import TrainConfig, train_config_to_dict
from fartrack_ros.training.distributed import all_reduce_mean, setup_distributed
from fartrack_ros.training.forwards import StageForward
from fartrack_ros.training.init_weights import load_previous_stage, load_vit_pretrained, structured_init_
from fartrack_ros.training.loaders import EpochSampler, worker_init
from fartrack_ros.training.sampling import DatasetMixture
from fartrack_ros.training.stages import STAGES, frame_inputs

# name fragments of the backbone parameters that keep the full LR (the official third group)
FULL_LR_FRAGMENTS = ("output_bias", "embeddings", "extension")


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


# --------------------------------------------------------------------------- the trainer

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
        stage_class = STAGES[cfg.stage]
        max_depth = stage_class.deepest_block(cfg)
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
        self.stage = stage_class(self)
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
        datasets = [open_dataset(spec) for spec in self.cfg.data.datasets]
        return self.stage.dataset(DatasetMixture(datasets, [spec.weight for spec in self.cfg.data.datasets]))

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
                          collate_fn=self.stage.collate,
                          pin_memory=ctx.device.type == "cuda", drop_last=False)

    # ---------------------------------------------------------------- steps
    def _frame_inputs(self, batch: dict):
        return frame_inputs(batch, self.ctx.device)

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
        step_fn = self.stage.step
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
    def save_checkpoint(self) -> Path:
        """Weights in the own format (+ recipe) and the training state; main rank only."""
        stem = checkpoint_stem(self.epoch, self.batch_in_epoch, self.global_step)
        path = self.out_dir / f"{stem}.safetensors"
        if not self.ctx.is_main:
            return path
        extra = {"stage": self.cfg.stage, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
                 "global_step": self.global_step, "train_seconds": round(self.train_seconds, 3),
                 "init": {k: v for k, v in self.init_info.items() if isinstance(v, (str, int, bool))},
                 "recipe": train_config_to_dict(self.cfg)}
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
        return write_checkpoint(path, self.model, extra, state)

    def _load_state(self, state_path: Path) -> None:
        state = read_train_state(state_path, self.cfg.stage, self.ctx.world, self.cfg.optim.batch_size)
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
