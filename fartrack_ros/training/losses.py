"""Training losses of the three stages, as the official recipes compute them.

* token cross-entropy over the 605-entry vocabulary, class weights 1 (coordinate bins) and
  0.1 (the 5 special ids), mean over the B*4 targets;
* SIoU between the expectation-decoded box and the target box, exactly as the official
  implementation (eps 1e-7, theta 4, IoU without eps);
* the self-distillation KL chain: each exit learns from the next deeper one (detached),
  over the 600 coordinate bins, ``batchmean``.
"""
from __future__ import annotations

import math
from typing import Sequence as Seq

import torch
import torch.nn.functional as F

from fartrack_ros.core.tokenizer import BINS, NUM_COORD_BINS, VOCAB_SIZE

SIOU_EPS = 1e-7
SIOU_THETA = 4


def expectation_grid(device=None, dtype=torch.float32) -> torch.Tensor:
    """-0.5 + k/300 for k = 0..599: the official expectation grid."""
    return (-0.5 + torch.arange(NUM_COORD_BINS, device=device, dtype=torch.float64) / BINS).to(dtype)


def expectation_xyxy(logits: torch.Tensor) -> torch.Tensor:
    """(..., 4, 605) logits -> (..., 4) coordinates: softmax over the 600 bins times the grid."""
    probs = logits[..., :NUM_COORD_BINS].softmax(dim=-1)
    return probs @ expectation_grid(logits.device, probs.dtype)


def argmax_xyxy(logits: torch.Tensor) -> torch.Tensor:
    """The frame-level decode used by the stage-3 rollout: argmax / 299 - 0.5."""
    return logits.argmax(dim=-1).to(torch.float32) / (BINS - 1) - 0.5


def dequantize(tokens: torch.Tensor) -> torch.Tensor:
    """Token (int or float) -> coordinate: token / 299 - 0.5."""
    return tokens.to(torch.float32) / (BINS - 1) - 0.5


def token_class_weights(device=None) -> torch.Tensor:
    w = torch.ones(VOCAB_SIZE, device=device)
    w[NUM_COORD_BINS:] = 0.1
    return w


def token_cross_entropy(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Weighted CE: logits (B, 4, 605), tokens (B, 4) int64 -> scalar (weighted mean)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), tokens.reshape(-1),
                           weight=token_class_weights(logits.device))


def siou_loss(pred_xyxy: torch.Tensor, target_xyxy: torch.Tensor) -> torch.Tensor:
    """SIoU loss per box, as the official code computes it: (..., 4) xyxy -> (...,).
    Take ``.mean()`` for the batch loss."""
    px0, py0, px1, py1 = pred_xyxy.unbind(-1)
    gx0, gy0, gx1, gy1 = target_xyxy.unbind(-1)
    pw, ph = px1 - px0, py1 - py0
    gw, gh = gx1 - gx0, gy1 - gy0
    dcx = (gx0 + gx1) * 0.5 - (px0 + px1) * 0.5
    dcy = (gy0 + gy1) * 0.5 - (py0 + py1) * 0.5
    # angle cost
    sigma = torch.sqrt(dcx ** 2 + dcy ** 2)
    sin_alpha = torch.abs(dcy) / (sigma + SIOU_EPS)
    angle = 1 - 2 * torch.sin(torch.arcsin(sin_alpha) - math.pi / 4) ** 2
    # distance cost over the enclosing box
    cw = torch.max(px1, gx1) - torch.min(px0, gx0)
    ch = torch.max(py1, gy1) - torch.min(py0, gy0)
    rho_x = (dcx / (cw + SIOU_EPS)) ** 2
    rho_y = (dcy / (ch + SIOU_EPS)) ** 2
    gamma = 2 - angle
    dist = (1 - torch.exp(-gamma * rho_x)) + (1 - torch.exp(-gamma * rho_y))
    # shape cost
    omega_w = torch.abs(pw - gw) / (torch.max(pw, gw) + SIOU_EPS)
    omega_h = torch.abs(ph - gh) / (torch.max(ph, gh) + SIOU_EPS)
    shape = (1 - torch.exp(-omega_h)) ** SIOU_THETA + (1 - torch.exp(-omega_w)) ** SIOU_THETA
    # IoU, no eps (as the official code)
    iw = (torch.min(px1, gx1) - torch.max(px0, gx0)).clamp(min=0)
    ih = (torch.min(py1, gy1) - torch.max(py0, gy0)).clamp(min=0)
    overlap = iw * ih
    iou = overlap / (pw * ph + gw * gh - overlap)
    return 1 - iou + (shape + dist) / 2


def distill_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """KL(teacher || student) over the 600 coordinate bins, teacher detached, sum / B."""
    student = F.log_softmax(student_logits[..., :NUM_COORD_BINS].float(), dim=-1)
    teacher = F.softmax(teacher_logits[..., :NUM_COORD_BINS].detach().float(), dim=-1)
    return F.kl_div(student, teacher, reduction="batchmean")


def frame_losses(logits: torch.Tensor, tokens: torch.Tensor, ce_weight: float,
                 siou_weight: float) -> dict[str, torch.Tensor]:
    """Stage 1: weighted CE + SIoU(expectation box, token / 299 - 0.5). Returns the terms and total."""
    ce = token_cross_entropy(logits, tokens)
    siou = siou_loss(expectation_xyxy(logits.float()), dequantize(tokens)).mean()
    total = ce_weight * ce + siou_weight * siou
    return {"loss": total, "ce": ce.detach(), "siou": siou.detach()}


def gaussian_over_cells(grid: int, positions: torch.Tensor, sigma: float) -> torch.Tensor:
    """(B,) positions in token units -> (B, grid) unnormalised Gaussian over the cell indices."""
    cells = torch.arange(grid, device=positions.device, dtype=positions.dtype)
    return torch.exp(-0.5 * ((cells[None] - positions[:, None]) / sigma) ** 2)


def center_heatmap(box_xyxy: torch.Tensor, grid: int, sigma: float = 1.0) -> torch.Tensor:
    """(B, 4) crop-normalised xyxy -> (B, grid*grid) Gaussian at the box centre, summing to 1.

    The centre is clamped into the crop, so a target at the edge marks the nearest tokens.
    """
    centre = (0.5 * (box_xyxy[:, :2] + box_xyxy[:, 2:])).clamp(0.0, 1.0) * grid - 0.5
    gx = gaussian_over_cells(grid, centre[:, 0], sigma)
    gy = gaussian_over_cells(grid, centre[:, 1], sigma)
    heat = (gy[:, :, None] * gx[:, None, :]).reshape(box_xyxy.shape[0], -1)
    return heat / heat.sum(dim=1, keepdim=True)


def center_loss(center_logits: torch.Tensor, box_xyxy: torch.Tensor) -> torch.Tensor:
    """Soft CE of per-token logits (B, N) against :func:`center_heatmap` (mean over the batch)."""
    grid = int(round(center_logits.shape[1] ** 0.5))
    target = center_heatmap(box_xyxy.float(), grid)
    return -(target * F.log_softmax(center_logits.float(), dim=1)).sum(dim=1).mean()


def edge_attention_targets(box_xyxy: torch.Tensor, grid: int, sigma: float = 0.75) -> torch.Tensor:
    """(B, 4) crop-normalised xyxy -> (B, 4, grid*grid): where each command token should look.

    Command x0 (x1): a Gaussian across columns at the box's left (right) edge, spread evenly over
    the rows the box covers; y0 / y1 likewise across rows, over the covered columns. Each
    distribution sums to 1. Edges outside the crop are clamped to it.
    """
    box = box_xyxy.float()
    pos = box.clamp(0.0, 1.0) * grid - 0.5                      # edge positions in token units
    centres = (torch.arange(grid, device=box.device, dtype=box.dtype) + 0.5) / grid

    def covered(lo, hi):                                       # (B, grid): cells inside [lo, hi]
        inside = ((centres[None] >= lo[:, None]) & (centres[None] <= hi[:, None])).to(box.dtype)
        nearest = (centres[None] - (0.5 * (lo + hi))[:, None]).abs().argmin(dim=1)
        inside[torch.arange(box.shape[0]), nearest] = 1.0        # at least the nearest cell
        return inside

    rows, cols = covered(box[:, 1], box[:, 3]), covered(box[:, 0], box[:, 2])
    out = []
    for k in range(4):
        edge = gaussian_over_cells(grid, pos[:, k], sigma)
        if k in (0, 2):                                           # x edge: columns x rows
            m = rows[:, :, None] * edge[:, None, :]
        else:                                                     # y edge: rows x columns
            m = edge[:, :, None] * cols[:, None, :]
        m = m.reshape(box.shape[0], -1)
        out.append(m / m.sum(dim=1, keepdim=True))
    return torch.stack(out, dim=1)


def readout_attention_loss(command_attention: torch.Tensor, box_xyxy: torch.Tensor) -> torch.Tensor:
    """Soft CE between :func:`edge_attention_targets` and the command rows' attention (B, 4, N);
    attention spent outside the search tokens counts as missing mass."""
    grid = int(round(command_attention.shape[-1] ** 0.5))
    target = edge_attention_targets(box_xyxy, grid)
    return -(target * torch.log(command_attention.float() + 1e-8)).sum(dim=-1).mean()


def distill_losses(exits: Seq[torch.Tensor], tokens: torch.Tensor, ce_weight: float,
                   siou_weight: float, kl_weight: float) -> dict[str, torch.Tensor]:
    """Stage 2: task losses at every exit (mean over exits) + KL of each exit to the next deeper one.

    ``exits``: logits ordered from shallowest to deepest.
    """
    if len(exits) < 2:
        raise ValueError(f"self-distillation needs at least 2 exits, got {len(exits)}")
    target = dequantize(tokens)
    ces = torch.stack([token_cross_entropy(e, tokens) for e in exits])
    sious = torch.stack([siou_loss(expectation_xyxy(e.float()), target).mean() for e in exits])
    kls = torch.stack([distill_kl(exits[i], exits[i + 1]) for i in range(len(exits) - 1)])
    total = siou_weight * sious.mean() + ce_weight * ces.mean() + kl_weight * kls.mean()
    return {"loss": total, "ce": ces.mean().detach(), "siou": sious.mean().detach(),
            "kl": kls.mean().detach(), "siou_deepest": sious[-1].detach(),
            "siou_shallowest": sious[0].detach()}


def sequence_targets(gt_xyxy_normalized: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Stage 3 targets from crop-normalised xyxy: (float target for SIoU, int64 CE tokens).

    (c + 0.5) * 299 clamped to [0, 599.9999]: the CE token is its int cast, the SIoU target the
    unquantised value / 299 - 0.5.
    """
    scaled = ((gt_xyxy_normalized + 0.5) * (BINS - 1)).clamp(0, NUM_COORD_BINS - 1e-4)
    return scaled / (BINS - 1) - 0.5, scaled.to(torch.int64)


def sequence_losses(logits: torch.Tensor, gt_xyxy_normalized: torch.Tensor, ce_weight: float,
                    siou_weight: float) -> dict[str, torch.Tensor]:
    """Stage 3: SIoU on the expectation box (the official run has CE weight 0)."""
    target, tokens = sequence_targets(gt_xyxy_normalized)
    siou = siou_loss(expectation_xyxy(logits.float()), target).mean()
    total = siou_weight * siou
    out = {"siou": siou.detach()}
    if ce_weight:
        ce = token_cross_entropy(logits, tokens)
        total = total + ce_weight * ce
        out["ce"] = ce.detach()
    out["loss"] = total
    return out
