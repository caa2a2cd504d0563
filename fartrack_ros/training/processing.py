"""From sampled frames to network crops and targets.

Stage 1 / 2, in the official order (STARK / OSTrack processing):

1. joint augmentation over every frame of the sample, one roll: grayscale (p 0.05) and a
   horizontal flip of image and boxes (p 0.5);
2. per crop, a jittered box: size * exp(N(0,1) * scale_jitter), centre moved by
   (U(0,1) - 0.5) * sqrt(w' h') * centre_jitter (templates 0 / 0, search 3.5 / 0.5);
3. the crop itself with :func:`fartrack_ros.core.crops.sample_target`, the tracker's own crop
   function, and the ground truth mapped into it with the tracker's transform, normalised by
   the crop size; a sample whose crop (or its 1/16 token grid) is all padding is rejected;
4. per crop: a brightness factor U(0.8, 1.2) (applied with the mean / std normalisation, see
   :func:`fartrack_ros.training.loaders.normalize_crops`) and an independent horizontal flip
   (p 0.5) with the normalised box mirrored;
5. target tokens: the search box as xyxy, clamped to [-0.5, 1.5], quantised to
   floor((c + 0.5) * 299).

One deliberate difference: the joint flip mirrors boxes exactly (x' = W - x - w); pytracking's
flip uses (W - 1) - x, a one-pixel shift of every flipped label.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence as Seq

import cv2
import numpy as np

from fartrack_ros.core.boxes import xywh_to_xyxy
from fartrack_ros.core.crops import box_xywh_in_crop, sample_target
from fartrack_ros.core.tokenizer import COORD_MAX, COORD_MIN, quantize_coords
from fartrack_ros.training.sampling import ClipPick, FramePick

PATCH_STRIDE = 16


@dataclass(frozen=True)
class ProcessingConfig:
    """Crop geometry, jitter and augmentation. Defaults: the official stage-1 values."""

    template_size: int = 112
    template_factor: float = 2.0
    search_size: int = 224
    search_factor: float = 4.0
    template_center_jitter: float = 0.0
    template_scale_jitter: float = 0.0
    search_center_jitter: float = 3.5
    search_scale_jitter: float = 0.5
    grayscale_probability: float = 0.05
    joint_flip_probability: float = 0.5
    crop_flip_probability: float = 0.5
    brightness_jitter: float = 0.2

    def __post_init__(self):
        for name in ("grayscale_probability", "joint_flip_probability", "crop_flip_probability"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        for name in ("template_size", "search_size"):
            if getattr(self, name) % PATCH_STRIDE:
                raise ValueError(f"{name} {getattr(self, name)} is not a multiple of {PATCH_STRIDE}")
        if not 0.0 <= self.brightness_jitter < 1.0:
            raise ValueError(f"brightness_jitter must be in [0, 1), got {self.brightness_jitter}")


@dataclass
class FrameSample:
    """One stage-1 / 2 training sample. Crops are uint8 RGB, HWC."""

    templates: np.ndarray            # (T, t, t, 3) uint8, slot order
    search: np.ndarray               # (s, s, 3) uint8
    template_brightness: np.ndarray  # (T,) float32 factors, applied at normalisation
    search_brightness: np.float32
    search_box_xyxy: np.ndarray      # (4,) float32, normalised to the crop, clamped to [-0.5, 1.5]
    target_tokens: np.ndarray        # (4,) int64 in 0..598


@dataclass
class ClipSample:
    """One stage-3 sample: fixed template crops and the clip's full frames (rollout input)."""

    templates: np.ndarray            # (T, t, t, 3) uint8, oldest first
    frames: list                     # clip_length RGB frames (H, W, 3) uint8
    boxes_xywh: np.ndarray           # (clip_length, 4) float64 ground truth
    name: str = ""


# --------------------------------------------------------------------------- small pure steps

def jitter_box_xywh(rng: np.random.Generator, box_xywh: Seq[float], center_jitter: float,
                    scale_jitter: float) -> np.ndarray:
    """The official jitter: size * exp(N(0,1) * scale), centre + (U - 0.5) * sqrt(w'h') * centre."""
    box = np.asarray(box_xywh, dtype=np.float64)
    if center_jitter == 0 and scale_jitter == 0:
        return box.copy()
    size = box[2:] * np.exp(rng.standard_normal(2) * scale_jitter)
    max_offset = math.sqrt(max(size[0] * size[1], 0.0)) * center_jitter
    centre = box[:2] + 0.5 * box[2:] + max_offset * (rng.random(2) - 0.5)
    return np.concatenate([centre - 0.5 * size, size])


def flip_box_xywh(box_xywh: Seq[float], width: float) -> np.ndarray:
    """Mirror a box in an image (or crop) of ``width``: x' = width - x - w."""
    x, y, w, h = box_xywh
    return np.array([width - x - w, y, w, h], dtype=np.float64)


def to_grayscale_rgb(image: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return np.repeat(gray[..., None], 3, axis=2)


def crop_is_all_padding(image_shape: tuple[int, ...], box_xywh: Seq[float], factor: float,
                        out_size: int, stride: int = PATCH_STRIDE) -> bool:
    """True when the crop around ``box`` shows no image, at pixel or token resolution.

    Mirrors the official rejection (the padding mask, or its 1/16 nearest-neighbour copy, is
    all padding). The mask is separable (rows x columns), so it is checked per axis.
    """
    x, y, w, h = box_xywh
    side = math.ceil(math.sqrt(w * h) * factor)
    img_h, img_w = image_shape[:2]

    def axis_valid(origin_centre: float, length: int) -> tuple[bool, bool]:
        x1 = round(origin_centre - side * 0.5)
        lo = max(0, -x1)                                  # first window pixel inside the image
        hi = side - max(x1 + side - length + 1, 0)         # the official off-by-one at the end
        if hi <= lo:
            return False, False
        scale = side / out_size
        grid = (np.arange(0, out_size, stride) + 0.5) * scale - 0.5
        return True, bool(((grid >= lo - 0.5) & (grid <= hi - 0.5)).any())

    px, gx = axis_valid(x + 0.5 * w, img_w)
    py, gy = axis_valid(y + 0.5 * h, img_h)
    return not (px and py) or not (gx and gy)


def target_tokens_from_xywh(box_xywh_normalized: Seq[float]) -> tuple[np.ndarray, np.ndarray]:
    """Normalised crop box -> (clamped xyxy float32, quantised tokens int64)."""
    xyxy = np.clip(xywh_to_xyxy(np.asarray(box_xywh_normalized, dtype=np.float64)), COORD_MIN, COORD_MAX)
    return xyxy.astype(np.float32), quantize_coords(xyxy)


# --------------------------------------------------------------------------- stage 1 / 2

def crop_with_target(image: np.ndarray, gt_xywh: Seq[float], jittered_xywh: Seq[float],
                     factor: float, out_size: int) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """Crop around the jittered box; returns (crop, gt box normalised to the crop, xywh).

    None when the crop would be degenerate (side < 1) or shows no image.
    """
    w, h = jittered_xywh[2], jittered_xywh[3]
    if not (w > 0 and h > 0) or math.ceil(math.sqrt(w * h) * factor) < 1:
        return None
    if crop_is_all_padding(image.shape, jittered_xywh, factor, out_size):
        return None
    crop, window = sample_target(image, jittered_xywh, factor, out_size)
    box = box_xywh_in_crop(gt_xywh, jittered_xywh, window.resize_factor, out_size) / out_size
    return crop, box


def process_frame_pick(rng: np.random.Generator, pick: FramePick, cfg: ProcessingConfig,
                       frames: Optional[dict] = None) -> Optional[FrameSample]:
    """Turn sampled frames into a training sample; None when the sample must be redrawn.

    ``frames`` may map frame index -> RGB image (already read); missing ones are read.
    """
    seq = pick.sequence
    frames = dict(frames or {})
    for i in set(pick.template_ids) | set(pick.search_ids):
        if i not in frames:
            frames[i] = seq.read_frame_rgb(i)
    template_images = [frames[i] for i in pick.template_ids]
    search_images = [frames[i] for i in pick.search_ids]
    template_boxes = [seq.boxes_xywh[i] for i in pick.template_ids]
    search_boxes = [seq.boxes_xywh[i] for i in pick.search_ids]

    # 1. joint augmentation, one roll for every frame of the sample
    if rng.random() < cfg.grayscale_probability:
        template_images = [to_grayscale_rgb(im) for im in template_images]
        search_images = [to_grayscale_rgb(im) for im in search_images]
    if rng.random() < cfg.joint_flip_probability:
        template_boxes = [flip_box_xywh(b, im.shape[1]) for b, im in zip(template_boxes, template_images)]
        search_boxes = [flip_box_xywh(b, im.shape[1]) for b, im in zip(search_boxes, search_images)]
        template_images = [np.ascontiguousarray(im[:, ::-1]) for im in template_images]
        search_images = [np.ascontiguousarray(im[:, ::-1]) for im in search_images]

    # 2-3. jittered crops
    template_crops = []
    for image, box in zip(template_images, template_boxes):
        jittered = jitter_box_xywh(rng, box, cfg.template_center_jitter, cfg.template_scale_jitter)
        out = crop_with_target(image, box, jittered, cfg.template_factor, cfg.template_size)
        if out is None:
            return None
        template_crops.append(out[0])
    jittered = jitter_box_xywh(rng, search_boxes[0], cfg.search_center_jitter, cfg.search_scale_jitter)
    out = crop_with_target(search_images[0], search_boxes[0], jittered, cfg.search_factor,
                           cfg.search_size)
    if out is None:
        return None
    search_crop, search_box = out

    # 4. per-crop brightness and flip
    def brightness() -> float:
        return rng.uniform(max(0.0, 1.0 - cfg.brightness_jitter), 1.0 + cfg.brightness_jitter)

    template_brightness = []
    for k in range(len(template_crops)):
        template_brightness.append(brightness())
        if rng.random() < cfg.crop_flip_probability:
            template_crops[k] = template_crops[k][:, ::-1]
    search_brightness = brightness()
    if rng.random() < cfg.crop_flip_probability:
        search_crop = search_crop[:, ::-1]
        search_box = flip_box_xywh(search_box, 1.0)

    # 5. targets
    xyxy, tokens = target_tokens_from_xywh(search_box)
    return FrameSample(templates=np.ascontiguousarray(np.stack(template_crops)),
                       search=np.ascontiguousarray(search_crop),
                       template_brightness=np.asarray(template_brightness, dtype=np.float32),
                       search_brightness=np.float32(search_brightness),
                       search_box_xyxy=xyxy, target_tokens=tokens)


# --------------------------------------------------------------------------- stage 3

def process_clip_pick(pick: ClipPick, cfg: ProcessingConfig) -> ClipSample:
    """Template crops around their ground truth (factor 2, no jitter) and the clip's frames.

    The official rollout pads crops with the image's mean colour; this one uses the tracker's
    crop function (black padding), so training sees exactly what inference sees.
    """
    seq = pick.sequence
    cache: dict[int, np.ndarray] = {}

    def frame(i: int) -> np.ndarray:
        if i not in cache:
            cache[i] = seq.read_frame_rgb(i)
        return cache[i]

    templates = np.stack([sample_target(frame(i), seq.boxes_xywh[i], cfg.template_factor,
                                        cfg.template_size)[0] for i in pick.template_ids])
    frames = [frame(i) for i in pick.clip_ids]
    boxes = np.stack([seq.boxes_xywh[i] for i in pick.clip_ids]).astype(np.float64)
    return ClipSample(templates, frames, boxes, seq.name)
