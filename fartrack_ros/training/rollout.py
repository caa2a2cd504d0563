"""The sparse stage's rollout: before each step the model tracks every clip from its own
predictions (eval mode, no gradient), recording the search crops, the template pruning masks and
the ground truth it is then trained on."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from fartrack_ros.core.boxes import iou_xywh, xywh_to_xyxy
from fartrack_ros.core.crops import box_cxcywh_from_crop, box_xywh_in_crop, sample_target
from fartrack_ros.model.fartrack import COMMAND_TOKENS, FARTrack, prune_lowest
from fartrack_ros.training.forwards import forward_with_template_scores
from fartrack_ros.training.loaders import normalize_crops
from fartrack_ros.training.losses import argmax_xyxy
from fartrack_ros.training.processing import ClipSample


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
    cfg = model.cfg
    was_training = model.training
    model.eval()
    device = templates.device
    size, factor = cfg.search_size, cfg.search_factor
    n_clips, length = len(clips), len(clips[0].frames)
    states = [list(map(float, c.boxes_xywh[0])) for c in clips]
    n_tokens = cfg.num_templates * cfg.template_tokens + cfg.search_tokens + COMMAND_TOKENS
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
            logits, scores = forward_with_template_scores(model, templates, search)
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
