"""What differs between the three recipes, one class each: which samples a step reads (frame
samples or clips, and how a batch is collated), how deep the model runs, and the step itself
(forward, losses, backward). The loop, the optimiser and the checkpoints in ``trainer.py`` are
the same for all three.

* ``frame``: 5 templates + 1 search per sample; 2 * token CE + 2 * SIoU (plus the optional
  auxiliary centre and read-out losses of the recipes here).
* ``distill``: the same samples; CE + SIoU at every exit and a KL of each exit to the next
  deeper one.
* ``sparse``: clips tracked by the model itself first (``rollout.py``), then trained on the
  recorded crops and pruning masks with SIoU.
"""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import numpy as np
import torch

from fartrack_ros.training.config import TrainConfig
from fartrack_ros.training.loaders import ClipTrainingSet, FrameTrainingSet, collate_clips, normalize_crops
from fartrack_ros.training.losses import (center_loss, distill_losses, frame_losses,
                                          readout_attention_loss, sequence_losses)
from fartrack_ros.training.processing import ClipSample
from fartrack_ros.training.rollout import rollout_clips
from fartrack_ros.training.sampling import CausalFrameSampler, ClipSampler, DatasetMixture

if TYPE_CHECKING:                      # the trainer hands itself to its stage
    from fartrack_ros.training.trainer import Trainer


def frame_inputs(batch: dict, device: torch.device):
    """A collated batch of frame samples -> (templates, search, target tokens) on ``device``."""
    templates = normalize_crops(batch["templates"].to(device, non_blocking=True),
                                batch["template_brightness"].to(device))
    search = normalize_crops(batch["search"].to(device, non_blocking=True),
                             batch["search_brightness"].to(device))
    return templates, search, batch["target_tokens"].to(device)


class Stage:
    """A stage reads the trainer's model, network (DDP-wrapped or not), device and recipe."""

    collate = None                     # the DataLoader's default collation of dict samples

    def __init__(self, trainer: "Trainer") -> None:
        self.trainer = trainer
        self.cfg = trainer.cfg

    @staticmethod
    def deepest_block(cfg: TrainConfig) -> int:
        """The deepest block the losses reach (deeper ones get no gradient)."""
        return cfg.model.depth


class FrameStage(Stage):
    """Frame-level training: one search frame per sample, the loss at the model's depth."""

    def dataset(self, mixture: DatasetMixture):
        data, seed = self.cfg.data, self.cfg.run.seed
        sampler = CausalFrameSampler(mixture, self.cfg.model.num_templates, 1, data.max_gap)
        return FrameTrainingSet(sampler, data.processing, data.samples_per_epoch, seed)

    def step(self, batch: dict) -> tuple[dict, int]:
        templates, search, tokens = frame_inputs(batch, self.trainer.ctx.device)
        terms = self.losses(batch, templates, search, tokens)
        terms["loss"].backward()
        return terms, tokens.shape[0]

    def losses(self, batch: dict, templates, search, tokens) -> dict:
        loss_cfg, net = self.cfg.loss, self.trainer.net
        if not self.trainer.stage_forward.auxiliary:
            return frame_losses(net(templates, search), tokens, loss_cfg.ce_weight, loss_cfg.siou_weight)
        logits, center_logits, command_attention = net(templates, search)
        terms = frame_losses(logits, tokens, loss_cfg.ce_weight, loss_cfg.siou_weight)
        box = batch["search_box_xyxy"].to(self.trainer.ctx.device)
        if center_logits is not None:
            center = center_loss(center_logits, box)
            terms["loss"] = terms["loss"] + loss_cfg.center_weight * center
            terms["center"] = center.detach()
        if loss_cfg.readout_weight > 0:
            readout = readout_attention_loss(command_attention, box)
            terms["loss"] = terms["loss"] + loss_cfg.readout_weight * readout
            terms["readout"] = readout.detach()
        return terms


class DistillStage(FrameStage):
    """Self-distillation: the frame samples, a loss at every exit of ``loss.exit_depths``."""

    @staticmethod
    def deepest_block(cfg: TrainConfig) -> int:
        return max(cfg.loss.exit_depths)

    def losses(self, batch: dict, templates, search, tokens) -> dict:
        loss_cfg = self.cfg.loss
        exits = self.trainer.net(templates, search, exit_depths=tuple(loss_cfg.exit_depths))
        return distill_losses(exits, tokens, loss_cfg.ce_weight, loss_cfg.siou_weight, loss_cfg.kl_weight)


class SparseStage(Stage):
    """Sequence-level training on clips the model first tracks itself."""

    collate = staticmethod(collate_clips)

    def dataset(self, mixture: DatasetMixture):
        data, seed = self.cfg.data, self.cfg.run.seed
        sampler = ClipSampler(mixture, self.cfg.model.num_templates, data.clip_length, data.max_gap)
        return ClipTrainingSet(sampler, data.processing, data.samples_per_epoch, seed)

    def step(self, clips: list[ClipSample]) -> tuple[dict, int]:
        trainer = self.trainer
        dev = trainer.ctx.device
        templates = normalize_crops(torch.from_numpy(np.stack([c.templates for c in clips])).to(dev))
        roll = rollout_clips(trainer.model, clips, templates)
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
            if trainer.ctx.distributed and k < len(starts) - 1:
                sync = trainer.net.no_sync()         # one gradient all-reduce per clip batch
            with sync:
                logits = trainer.net(templates[owner[s:e]], normalize_crops(search[s:e].to(dev)), keep=keep[s:e])
                terms = sequence_losses(logits, gt[s:e], loss_cfg.ce_weight, loss_cfg.siou_weight)
                (terms["loss"] * ((e - s) / total)).backward()
            for name, v in terms.items():
                sums[name] = sums.get(name, 0.0) + float(v.detach()) * (e - s) / total
        sums["rollout_iou"] = roll.iou
        return sums, n_clips


STAGES = {"frame": FrameStage, "distill": DistillStage, "sparse": SparseStage}
