"""Box decode: 4x605 logits -> the box (centre and size) in image pixels from the crop origin.

Two implementations of one formula (mean of the argmax and the expectation estimates, then
xyxy -> cxcywh, then crop units -> image pixels):

- ``decode_box_numpy``: NumPy float32 (``core.tokenizer``), used by the fast backends;
- ``decode_box_official``: the official tracker's PyTorch operations, in its order, shapes and
  dtype: a softmax over all 605 ids and ``topk`` for the argmax, a softmax over the 600 coordinate
  bins of a (4, 1, 605) view and a ``sum`` over the products with the ``torch.range`` grid for
  the expectation, the aliased in-place xyxy -> cxcywh, ``* search_size / resize_factor`` on the
  tensor and ``tolist()``. The two differ by about one float32 step, which is far below 0.01 px
  but decides ``ceil`` / ``round`` of the next crop when it falls on an edge; the ``reference``
  backend uses this one so that whole tracks equal the official ones.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from fartrack_ros.core.tokenizer import BINS, COORD_RANGE, NUM_COORD_BINS, decode_argmax, decode_sparse


def decode_box_numpy(logits: np.ndarray, resize_factor: float, search_size: int,
                     sparse: bool = True) -> list[float]:
    """NumPy float32 decode -> [cx, cy, w, h] in image pixels, measured from the crop origin."""
    coords = decode_sparse(logits) if sparse else decode_argmax(logits)
    # xyxy -> cxcywh as the official code (an aliased tensor: w and h are written first, then
    # cx = x0 + w / 2), in float32, then scaled to image pixels
    x0, y0, x1, y1 = coords.astype(np.float32)
    w, h = x1 - x0, y1 - y0
    two = np.float32(2)
    cxcywh = np.array([x0 + w / two, y0 + h / two, w, h], dtype=np.float32)
    pred = cxcywh * np.float32(search_size) / np.float32(resize_factor)
    return [float(v) for v in pred]


def _expectation_grid() -> torch.Tensor:
    # the official grid: torch.range(-range/2 + 0.5, range/2 + 0.5 - 1/n, 2/n), n = 600 bins
    # (torch.range is deprecated but still the operation the official tracker runs)
    n = BINS * COORD_RANGE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.range(-1 * COORD_RANGE * 0.5 + 0.5, COORD_RANGE * 0.5 + 0.5 - 1 / n, 2 / n)


_GRID = _expectation_grid()


@torch.inference_mode()
def decode_box_official(logits: np.ndarray | torch.Tensor, resize_factor: float,
                        search_size: int) -> list[float]:
    """The official sparse tracker's decode, operation for operation (CPU, float32).

    ``logits``: (4, 605) float32, the command tokens' logits x0, y0, x1, y1.
    Returns [cx, cy, w, h] in image pixels from the crop origin (``map_box_back``'s input).
    Sparse stage only (the released tracker); the frame / distill decode is ``decode_box_numpy``.
    """
    feat = torch.as_tensor(logits, dtype=torch.float32).reshape(1, 4, -1)   # model output (B,4,V)
    probs = feat.softmax(-1)                       # the model's softmax over all 605 ids
    seqs = torch.cat([probs[:, i, :].topk(dim=-1, k=1)[1] for i in range(4)], dim=-1)   # (1, 4)
    pred_boxes = (seqs + 0.5) / (BINS - 1) - 0.5
    pred_feat = feat.transpose(0, 1)               # 'feat': (4, B, V)
    pred = pred_feat[0:4, :, 0:NUM_COORD_BINS]
    out = pred.softmax(-1).to(pred)
    ans = (out * _GRID.to(pred)).sum(dim=-1)
    ans = ans.permute(1, 0).to(pred)
    pred_boxes = (ans + pred_boxes) / 2
    pred_boxes = pred_boxes.view(-1, 4).mean(dim=0)
    pred_new = pred_boxes                          # the official code aliases the tensor
    pred_new[2] = pred_boxes[2] - pred_boxes[0]
    pred_new[3] = pred_boxes[3] - pred_boxes[1]
    pred_new[0] = pred_boxes[0] + pred_new[2] / 2
    pred_new[1] = pred_boxes[1] + pred_new[3] / 2
    return (pred_new * search_size / resize_factor).tolist()
