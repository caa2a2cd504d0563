"""Tracking metrics as pure numpy functions, computed the way the official toolkits do.

Two families, because the benchmarks disagree on the details and papers quote each with its own:

* **GOT-10k** (the ``got10k`` Python toolkit, ``ExperimentGOT10k``): IoU of continuous boxes
  (no +1), both boxes clipped to the image first; the first frame is skipped and so is every
  frame whose ``cover.label`` is 0 (target not visible); the IoUs of all sequences are pooled
  before averaging. AO = mean IoU, SRt = fraction of IoUs strictly above t.
* **OPE** (OTB / LaSOT, as pytracking's ``extract_results`` computes them, which is the analysis
  code the FARTrack / OSTrack code base reports LaSOT with; it follows the OTB and LaSOT MATLAB
  toolkits): IoU with the pixel-inclusive (+1) convention, centres at ``x + (w - 1) / 2``; the
  first frame's prediction is replaced by the ground truth and counted; every frame counts in
  the denominator; per-sequence curves are averaged over sequences. Success AUC = mean of the
  success curve over the 21 overlap thresholds 0, 0.05, ..., 1; precision = fraction of frames
  with centre error <= 20 px; normalised precision = fraction with centre error, measured in
  units of the ground-truth size, <= 0.20.

Frames whose ground-truth row holds a ``NaN`` (no box: the target is absent, as UAV123, DTB70
and LaSOT-style annotations write it) are excluded from both families: no overlap, no centre
error, not in any denominator. That is the got10k toolkit's rule for UAV123
(``ExperimentUAV123`` scores only frames whose annotation has no NaN) and what GOT-10k does with
absent frames; the dataset readers also mark such frames not visible, for the measures that
count absence (``fartrack_ros.evaluation.confidence``).

All boxes are ``xywh`` (top-left x, y, width, height), arrays of shape (N, 4).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

# GOT-10k toolkit: 101 overlap thresholds for its success curve.
GOT10K_OVERLAP_THRESHOLDS = np.linspace(0.0, 1.0, 101)
# pytracking builds these with arange, i.e. start + i * step; kept bit-identical on purpose
# (0.15 and 3 * 0.05 differ in the last bit, which matters for an IoU exactly on a threshold).
OPE_OVERLAP_THRESHOLDS = np.arange(21, dtype=np.float64) * 0.05
OPE_CENTER_THRESHOLDS_PX = np.arange(51, dtype=np.float64)
OPE_NORM_CENTER_THRESHOLDS = np.arange(51, dtype=np.float64) / 100.0
PRECISION_THRESHOLD_PX = 20          # index into OPE_CENTER_THRESHOLDS_PX
NORM_PRECISION_THRESHOLD_INDEX = 20  # OPE_NORM_CENTER_THRESHOLDS[20] == 0.20


def _as_boxes_xywh(boxes: np.ndarray | Sequence, name: str) -> np.ndarray:
    arr = np.array(boxes, dtype=np.float64)  # always a copy: callers' arrays are never modified
    if arr.ndim == 1 and arr.size == 4:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4) of xywh boxes, got shape {arr.shape}")
    return arr


def _check_same_length(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"prediction has {len(pred)} boxes but ground truth has {len(gt)}")


# ----------------------------------------------------------------------------------------------
# per-frame measures
# ----------------------------------------------------------------------------------------------
def absent_frames(gt_xywh: np.ndarray) -> np.ndarray:
    """(N,) bool: ground-truth rows holding a NaN, i.e. no box (target absent)."""
    return np.isnan(_as_boxes_xywh(gt_xywh, "gt_xywh")).any(axis=1)


def clip_boxes_xywh_to_image(boxes_xywh: np.ndarray, width: float, height: float) -> np.ndarray:
    """The GOT-10k toolkit's bound: x, y into [0, W] / [0, H], then w, h so the box ends inside."""
    b = _as_boxes_xywh(boxes_xywh, "boxes_xywh")
    b[:, 0] = np.clip(b[:, 0], 0, width)
    b[:, 1] = np.clip(b[:, 1], 0, height)
    b[:, 2] = np.clip(b[:, 2], 0, width - b[:, 0])
    b[:, 3] = np.clip(b[:, 3], 0, height - b[:, 1])
    return b


def iou_continuous_xywh(pred_xywh, gt_xywh, image_wh: tuple[float, float] | None = None) -> np.ndarray:
    """IoU per frame as the GOT-10k toolkit computes it (``got10k.utils.metrics.rect_iou``).

    Continuous boxes (a 10-pixel-wide box spans exactly 10 units); with ``image_wh`` both boxes
    are clipped to the image first; ``eps`` in the denominator; result clipped to [0, 1].
    """
    pred = _as_boxes_xywh(pred_xywh, "pred_xywh")
    gt = _as_boxes_xywh(gt_xywh, "gt_xywh")
    _check_same_length(pred, gt)
    if image_wh is not None:
        pred = clip_boxes_xywh_to_image(pred, *image_wh)
        gt = clip_boxes_xywh_to_image(gt, *image_wh)
    x1 = np.maximum(pred[:, 0], gt[:, 0])
    y1 = np.maximum(pred[:, 1], gt[:, 1])
    x2 = np.minimum(pred[:, 0] + pred[:, 2], gt[:, 0] + gt[:, 2])
    y2 = np.minimum(pred[:, 1] + pred[:, 3], gt[:, 1] + gt[:, 3])
    inter = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    union = pred[:, 2] * pred[:, 3] + gt[:, 2] * gt[:, 3] - inter
    return np.clip(inter / (union + np.finfo(float).eps), 0.0, 1.0)


def iou_pixel_inclusive_xywh(pred_xywh, gt_xywh) -> np.ndarray:
    """IoU per frame with the OTB / pytracking pixel convention: a box covers pixels x .. x+w-1.

    No eps and no clipping: a zero-area union gives NaN, which callers mask out as invalid.
    """
    pred = _as_boxes_xywh(pred_xywh, "pred_xywh")
    gt = _as_boxes_xywh(gt_xywh, "gt_xywh")
    _check_same_length(pred, gt)
    top_left = np.maximum(pred[:, :2], gt[:, :2])
    bottom_right = np.minimum(pred[:, :2] + pred[:, 2:] - 1.0, gt[:, :2] + gt[:, 2:] - 1.0)
    size = np.maximum(bottom_right - top_left + 1.0, 0.0)
    inter = size[:, 0] * size[:, 1]
    union = pred[:, 2] * pred[:, 3] + gt[:, 2] * gt[:, 3] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / union


def center_error_xywh(pred_xywh, gt_xywh) -> np.ndarray:
    """Euclidean distance in pixels between centres taken at ``x + (w - 1) / 2`` (OTB convention)."""
    pred = _as_boxes_xywh(pred_xywh, "pred_xywh")
    gt = _as_boxes_xywh(gt_xywh, "gt_xywh")
    _check_same_length(pred, gt)
    diff = (pred[:, :2] + (pred[:, 2:] - 1.0) / 2.0) - (gt[:, :2] + (gt[:, 2:] - 1.0) / 2.0)
    return np.sqrt(np.sum(diff**2, axis=1))


def normalized_center_error_xywh(pred_xywh, gt_xywh) -> np.ndarray:
    """Centre distance with each axis divided by the ground-truth width / height (pytracking)."""
    pred = _as_boxes_xywh(pred_xywh, "pred_xywh")
    gt = _as_boxes_xywh(gt_xywh, "gt_xywh")
    _check_same_length(pred, gt)
    with np.errstate(divide="ignore", invalid="ignore"):
        pred_c = (pred[:, :2] + 0.5 * (pred[:, 2:] - 1.0)) / gt[:, 2:]
        gt_c = (gt[:, :2] + 0.5 * (gt[:, 2:] - 1.0)) / gt[:, 2:]
        return np.sqrt(np.sum((pred_c - gt_c) ** 2, axis=1))


# ----------------------------------------------------------------------------------------------
# curves
# ----------------------------------------------------------------------------------------------
def success_curve(overlaps: np.ndarray, thresholds: np.ndarray = OPE_OVERLAP_THRESHOLDS,
                  num_frames: int | None = None) -> np.ndarray:
    """Fraction of frames whose overlap is strictly greater than each threshold.

    ``num_frames`` is the denominator (default: ``len(overlaps)``).
    """
    overlaps = np.asarray(overlaps, dtype=np.float64).reshape(-1)
    denominator = len(overlaps) if num_frames is None else num_frames
    if denominator <= 0:
        raise ValueError("success_curve needs at least one frame")
    return np.sum(overlaps[:, None] > np.asarray(thresholds)[None, :], axis=0) / denominator


def precision_curve(errors: np.ndarray, thresholds: np.ndarray = OPE_CENTER_THRESHOLDS_PX,
                    num_frames: int | None = None) -> np.ndarray:
    """Fraction of frames whose (centre) error is at most each threshold."""
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    denominator = len(errors) if num_frames is None else num_frames
    if denominator <= 0:
        raise ValueError("precision_curve needs at least one frame")
    return np.sum(errors[:, None] <= np.asarray(thresholds)[None, :], axis=0) / denominator


# ----------------------------------------------------------------------------------------------
# GOT-10k
# ----------------------------------------------------------------------------------------------
def got10k_sequence_ious(pred_xywh, gt_xywh, cover: np.ndarray | None = None,
                         image_wh: tuple[float, float] | None = None) -> np.ndarray:
    """The IoUs GOT-10k scores for one run on one sequence.

    Frame 0 (the initialisation) is dropped; of the rest, only frames with ``cover > 0`` (target
    at least partly visible) and a ground-truth box (no NaN) are kept. ``cover`` has one entry
    per frame including frame 0; None keeps every frame. ``image_wh`` = the sequence resolution
    (the toolkit's ``bound``).
    """
    pred = _as_boxes_xywh(pred_xywh, "pred_xywh")
    gt = _as_boxes_xywh(gt_xywh, "gt_xywh")
    _check_same_length(pred, gt)
    keep = ~absent_frames(gt)[1:]
    if cover is not None:
        cover = np.asarray(cover, dtype=np.float64).reshape(-1)
        if len(cover) != len(gt):
            raise ValueError(f"cover has {len(cover)} entries but the sequence has {len(gt)} frames")
        keep &= cover[1:] > 0
    return iou_continuous_xywh(pred[1:][keep], gt[1:][keep], image_wh)


def speed_fps_from_times(times_s: np.ndarray | None) -> float:
    """Mean of 1/t over the positive, finite per-frame times (both toolkits); -1 when none."""
    if times_s is None:
        return -1.0
    t = np.asarray(times_s, dtype=np.float64).reshape(-1)
    t = t[~np.isnan(t)]
    t = t[t > 0]
    return float(np.mean(1.0 / t)) if len(t) else -1.0


@dataclass(frozen=True)
class Got10kScores:
    ao: float                      # average overlap
    sr50: float                    # success rate at IoU > 0.5
    sr75: float                    # success rate at IoU > 0.75
    success_curve: np.ndarray      # 101 points, thresholds GOT10K_OVERLAP_THRESHOLDS
    num_frames: int
    speed_fps: float


def got10k_scores(ious: np.ndarray, times_s: np.ndarray | None = None) -> Got10kScores:
    """AO, SR0.5, SR0.75 and the 101-point success curve from a set of IoUs."""
    ious = np.asarray(ious, dtype=np.float64).reshape(-1)
    if len(ious) == 0:
        raise ValueError("got10k_scores needs at least one scored frame (all frames absent?)")
    return Got10kScores(
        ao=float(np.mean(ious)),
        sr50=float(np.mean(ious > 0.5)),
        sr75=float(np.mean(ious > 0.75)),
        success_curve=success_curve(ious, GOT10K_OVERLAP_THRESHOLDS),
        num_frames=len(ious),
        speed_fps=speed_fps_from_times(times_s),
    )


def got10k_overall(ious_per_sequence: Mapping[str, np.ndarray] | Iterable[np.ndarray],
                   times_per_sequence: Mapping[str, np.ndarray] | Iterable[np.ndarray] | None = None,
                   ) -> Got10kScores:
    """Overall GOT-10k scores: the toolkit pools the IoUs (and times) of all sequences."""
    values = ious_per_sequence.values() if isinstance(ious_per_sequence, Mapping) else ious_per_sequence
    ious = np.concatenate([np.asarray(v, dtype=np.float64).reshape(-1) for v in values])
    times = None
    if times_per_sequence is not None:
        tv = times_per_sequence.values() if isinstance(times_per_sequence, Mapping) else times_per_sequence
        parts = [np.asarray(t, dtype=np.float64).reshape(-1) for t in tv if t is not None]
        times = np.concatenate(parts) if parts else None
    return got10k_scores(ious, times)


# ----------------------------------------------------------------------------------------------
# OPE (OTB / LaSOT)
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpeFrameErrors:
    overlap: np.ndarray            # pixel-inclusive IoU; -1 on invalid frames
    center_px: np.ndarray          # +inf on invalid frames
    center_norm: np.ndarray        # see ope_frame_errors for invalid frames
    valid: np.ndarray              # bool: ground truth has a positive size (and target visible)
    absent: np.ndarray             # bool: ground truth is NaN (no box): excluded from every count


def ope_frame_errors(pred_xywh, gt_xywh, target_visible: np.ndarray | None = None) -> OpeFrameErrors:
    """Per-frame errors as pytracking's ``calc_seq_err_robust``.

    * NaN or negative-size predictions are an error; a zero-size prediction (frame >= 1) is
      replaced by the previous frame's prediction; predictions longer than the ground truth are
      cut, shorter ones are an error.
    * Frame 0 is replaced by the ground truth.
    * Frames with a NaN ground-truth row are ``absent``: overlap -1 and both centre errors +inf,
      so they are never a hit, and ``ope_sequence_curves`` leaves them out of the denominator
      (excluded, as the got10k toolkit's UAV123 experiment does). Frame 0 must have a box.
    * A frame is valid when the ground truth has positive width and height (and, when
      ``target_visible`` is given, the target is visible). Invalid frames get overlap -1 and
      centre error +inf, so they count as misses. Their normalised centre error is -1 (a hit,
      pytracking's rule) unless ``target_visible`` is given, where invisible frames get +inf
      (pytracking's LaSOT rule).
    """
    pred = _as_boxes_xywh(pred_xywh, "pred_xywh")
    gt = _as_boxes_xywh(gt_xywh, "gt_xywh")
    if np.isnan(pred).any() or (pred[:, 2:] < 0).any():
        raise ValueError("prediction contains NaN or a negative width/height")
    absent = np.isnan(gt).any(axis=1)
    if absent[0]:
        raise ValueError("ground truth of the first frame is NaN: the initial box must be given")
    gt[absent] = 0.0            # no box; scored as absent below (gt is a private copy)
    if len(pred) > len(gt):
        pred = pred[: len(gt)]
    _check_same_length(pred, gt)
    for i in range(1, len(pred)):
        if (pred[i, 2:] == 0.0).any():
            pred[i] = pred[i - 1]
    pred[0] = gt[0]
    valid = (gt[:, 2] > 0) & (gt[:, 3] > 0)
    visible = None
    if target_visible is not None:
        visible = np.asarray(target_visible).reshape(-1).astype(bool)
        if len(visible) != len(gt):
            raise ValueError(f"target_visible has {len(visible)} entries, ground truth {len(gt)}")
        valid &= visible
    overlap = iou_pixel_inclusive_xywh(pred, gt)
    center = center_error_xywh(pred, gt)
    center_norm = normalized_center_error_xywh(pred, gt)
    overlap[~valid] = -1.0
    center[~valid] = np.inf
    center_norm[~valid] = -1.0
    if visible is not None:
        center_norm[~visible] = np.inf
        center[~visible] = np.inf
    center[absent] = np.inf
    center_norm[absent] = np.inf
    if np.isnan(overlap).any():
        raise ValueError("NaN overlap: a valid frame has an empty union of boxes")
    return OpeFrameErrors(overlap=overlap, center_px=center, center_norm=center_norm, valid=valid,
                          absent=absent)


@dataclass(frozen=True)
class OpeCurves:
    success: np.ndarray            # 21 points, OPE_OVERLAP_THRESHOLDS
    precision: np.ndarray          # 51 points, OPE_CENTER_THRESHOLDS_PX
    norm_precision: np.ndarray     # 51 points, OPE_NORM_CENTER_THRESHOLDS
    average_overlap: float         # mean overlap over valid frames


def ope_sequence_curves(pred_xywh, gt_xywh, target_visible: np.ndarray | None = None,
                        exclude_invalid_frames: bool = False) -> OpeCurves:
    """Success / precision / normalised-precision curves of one sequence (pytracking).

    The denominator is every frame with a ground-truth box (NaN rows are left out), or only the
    valid frames with ``exclude_invalid_frames``.
    """
    err = ope_frame_errors(pred_xywh, gt_xywh, target_visible)
    num_frames = int(err.valid.sum()) if exclude_invalid_frames else int((~err.absent).sum())
    if num_frames <= 0:
        raise ValueError("sequence has no valid frame to score")
    valid_overlaps = err.overlap[err.valid]
    return OpeCurves(
        success=success_curve(err.overlap, OPE_OVERLAP_THRESHOLDS, num_frames),
        precision=precision_curve(err.center_px, OPE_CENTER_THRESHOLDS_PX, num_frames),
        norm_precision=precision_curve(err.center_norm, OPE_NORM_CENTER_THRESHOLDS, num_frames),
        average_overlap=float(valid_overlaps.mean()) if len(valid_overlaps) else float("nan"),
    )


@dataclass(frozen=True)
class OpeScores:
    auc: float                     # success AUC: mean of the 21-point success curve
    precision: float               # at 20 px
    norm_precision: float          # at 0.20 of the ground-truth size
    op50: float                    # success curve at IoU > 0.5
    op75: float                    # success curve at IoU > 0.75
    curves: OpeCurves


def ope_scores(curves: OpeCurves) -> OpeScores:
    """Scalar scores of one sequence's (or the averaged) curves."""
    return OpeScores(
        auc=float(np.mean(curves.success)),
        precision=float(curves.precision[PRECISION_THRESHOLD_PX]),
        norm_precision=float(curves.norm_precision[NORM_PRECISION_THRESHOLD_INDEX]),
        op50=float(curves.success[10]),
        op75=float(curves.success[15]),
        curves=curves,
    )


def ope_overall(curves_per_sequence: Mapping[str, OpeCurves] | Iterable[OpeCurves]) -> OpeScores:
    """Overall OPE scores: the per-sequence curves are averaged, then scored."""
    values = list(curves_per_sequence.values() if isinstance(curves_per_sequence, Mapping)
                  else curves_per_sequence)
    if not values:
        raise ValueError("ope_overall needs at least one sequence")
    mean_curves = OpeCurves(
        success=np.mean([c.success for c in values], axis=0),
        precision=np.mean([c.precision for c in values], axis=0),
        norm_precision=np.mean([c.norm_precision for c in values], axis=0),
        average_overlap=float(np.nanmean([c.average_overlap for c in values])),
    )
    return ope_scores(mean_curves)
