"""Rendering of a drawn scene (``fartrack_ros.data.scenes``): patches and cut-outs (sprites)
over a moving background photograph, and the exact ground truth of the target's visible part.

A sprite is warped onto its own canvas (its bounding box, not clipped to the frame), so the
coverage counts of a target partly outside the frame are exact; sprites drawn after the target
hide the target pixels their masks cover. Motion blur, illumination and sensor noise come after
the geometry, so the ground truth is that of the unblurred frame.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import cv2
import numpy as np


@dataclass
class Sprite:
    """A patch (RGBA, uint8) and where it is on each frame."""

    rgba: np.ndarray            # (h, w, 4); alpha 0 or 255 for patches, soft for cut-outs
    centre: np.ndarray          # (F, 2) frame pixels
    size: np.ndarray            # (F, 2) rendered width, height in pixels (before rotation)
    angle: np.ndarray           # (F,) degrees
    gain: np.ndarray            # (F,) brightness factor of the patch
    z: float                    # drawing order; the target has z = 0
    blur: bool
    role: str                   # target | distractor | occluder
    full_area: Optional[np.ndarray] = None   # (F,) target pixels on an unbounded canvas


def affine_for(sprite: Sprite, t: int) -> np.ndarray:
    """2x3 matrix mapping patch pixel coordinates to frame coordinates at frame ``t``."""
    h, w = sprite.rgba.shape[:2]
    sx, sy = sprite.size[t, 0] / w, sprite.size[t, 1] / h
    a = math.radians(sprite.angle[t])
    c, s = math.cos(a), math.sin(a)
    lin = np.array([[c * sx, -s * sy], [s * sx, c * sy]])
    centre_src = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    offset = sprite.centre[t] - lin @ centre_src
    return np.hstack([lin, offset[:, None]])


def warp_sprite(rgba: np.ndarray, matrix: np.ndarray, margin: int = 1):
    """Render the patch on its own canvas: returns (x0, y0, rgba_roi) in frame coordinates.

    The canvas is the patch's bounding box (not clipped to the frame), so coverage counts of
    targets partly outside the frame are exact.
    """
    h, w = rgba.shape[:2]
    corners = np.array([[-0.5, -0.5, 1], [w - 0.5, -0.5, 1], [-0.5, h - 0.5, 1], [w - 0.5, h - 0.5, 1]])
    pts = corners @ matrix.T
    x0 = int(math.floor(pts[:, 0].min())) - margin
    y0 = int(math.floor(pts[:, 1].min())) - margin
    x1 = int(math.ceil(pts[:, 0].max())) + margin
    y1 = int(math.ceil(pts[:, 1].max())) + margin
    shifted = matrix.copy()
    shifted[:, 2] -= (x0, y0)
    roi = cv2.warpAffine(rgba, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    return x0, y0, roi


def motion_blur_kernel(dx: float, dy: float) -> Optional[np.ndarray]:
    """A normalised line kernel along the displacement (dx, dy) in pixels; None if too short."""
    length = math.hypot(dx, dy)
    if length < 2.0:
        return None
    size = int(math.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    ux, uy = dx / length, dy / length
    for k in np.linspace(-length / 2, length / 2, max(2, int(length * 2))):
        kernel[int(round(c + k * uy)), int(round(c + k * ux))] = 1.0
    return kernel / kernel.sum()


def clip_to_frame(x0: int, y0: int, roi: np.ndarray, width: int, height: int):
    """Slices (frame_y, frame_x, roi_y, roi_x) of the part of ``roi`` at (x0, y0) inside the frame."""
    rh, rw = roi.shape[:2]
    fx0, fy0 = max(0, x0), max(0, y0)
    fx1, fy1 = min(width, x0 + rw), min(height, y0 + rh)
    if fx0 >= fx1 or fy0 >= fy1:
        return None
    return (slice(fy0, fy1), slice(fx0, fx1), slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))


# --------------------------------------------------------------------------- rendering

@dataclass
class Scene:
    """Everything needed to render a sequence; ``render_scene`` turns it into frames + truth."""

    sprites: list[Sprite]
    background: np.ndarray      # RGB photograph
    camera: np.ndarray          # (F, 2, 3) affine background image -> frame
    light: np.ndarray           # (F, 3) gain, horizontal and vertical gradient
    noise_sigma: float
    noise_seed: int
    meta: dict = field(default_factory=dict)


def render_scene(scene: Scene, width: int, height: int):
    """Yield ``(frame_rgb, visible_box_xywh, visible_fraction, fully_visible)`` per frame.

    Exactly one sprite must have the role ``target``. Sprites are drawn in increasing ``z``;
    those drawn after the target hide the target pixels they cover.
    """
    if sum(s.role == "target" for s in scene.sprites) != 1:
        raise ValueError("a scene needs exactly one sprite with role 'target'")
    order = sorted(scene.sprites, key=lambda s: s.z)
    xs = (np.arange(width, dtype=np.float32) / width - 0.5)[None, :]
    ys = (np.arange(height, dtype=np.float32) / height - 0.5)[:, None]
    # a few noise fields reused in turn: sensor noise looks the same, at a fraction of the cost
    noise_rng = np.random.default_rng(scene.noise_seed)
    noise_bank = [noise_rng.standard_normal((height, width, 3), dtype=np.float32) * scene.noise_sigma
                  for _ in range(5)] if scene.noise_sigma > 0 else []
    for t in range(len(scene.camera)):
        frame = cv2.warpAffine(scene.background, scene.camera[t], (width, height),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        frame = frame.astype(np.float32)
        visible = None              # target coverage on the target's own (unclipped) canvas
        target_origin = (0, 0)
        full_count = 0
        for sprite in order:
            x0, y0, roi = warp_sprite(sprite.rgba, affine_for(sprite, t), margin=2)
            solid = roi[..., 3] >= 128
            if sprite.role == "target":
                full_count = int(solid.sum())
                visible = solid.copy()
                target_origin = (x0, y0)
            elif visible is not None:
                # a patch in front of the target hides the target pixels it covers
                tx, ty = target_origin
                ox0, oy0 = max(x0, tx), max(y0, ty)
                ox1 = min(x0 + roi.shape[1], tx + visible.shape[1])
                oy1 = min(y0 + roi.shape[0], ty + visible.shape[0])
                if ox0 < ox1 and oy0 < oy1:
                    visible[oy0 - ty:oy1 - ty, ox0 - tx:ox1 - tx] &= \
                        ~solid[oy0 - y0:oy1 - y0, ox0 - x0:ox1 - x0]
            composite_sprite(frame, sprite, t, x0, y0, roi)
        gain, gx, gy = scene.light[t]
        frame *= (gain + (gain * gx) * xs + (gain * gy) * ys)[..., None]
        if noise_bank:
            frame += noise_bank[t % len(noise_bank)]
        image = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
        box, count = visible_box_xywh(visible, target_origin, width, height)
        fraction = count / full_count if full_count else 0.0
        yield image, box, fraction, count == full_count and count > 0


def composite_sprite(frame: np.ndarray, sprite: Sprite, t: int, x0: int, y0: int,
                     roi: np.ndarray) -> None:
    """Blend the warped patch into ``frame`` (float32), with motion blur when it moves fast."""
    height, width = frame.shape[:2]
    kernel = None
    if sprite.blur and 0 < t:
        d = sprite.centre[t] - sprite.centre[t - 1]
        kernel = motion_blur_kernel(float(d[0]), float(d[1]))
    if kernel is not None:
        pad = kernel.shape[0] // 2 + 1
        roi = cv2.copyMakeBorder(roi, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0, 0))
        x0, y0 = x0 - pad, y0 - pad
    rgba = roi.astype(np.float32)
    rgba[..., :3] *= rgba[..., 3:4] / 255.0            # premultiplied, so blurred edges stay clean
    if kernel is not None:
        rgba = cv2.filter2D(rgba, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    where = clip_to_frame(x0, y0, rgba, width, height)
    if where is None:
        return
    fy, fx, ry, rx = where
    part = rgba[ry, rx]
    alpha = part[..., 3:4] / 255.0
    frame[fy, fx] = frame[fy, fx] * (1.0 - alpha) + part[..., :3] * sprite.gain[t]


def visible_box_xywh(visible: np.ndarray, origin: tuple[int, int], width: int, height: int):
    """Tight box of the visible target pixels inside the frame, and their count."""
    x0, y0 = origin
    where = clip_to_frame(x0, y0, visible, width, height)
    if where is None:
        return (0.0, 0.0, 0.0, 0.0), 0
    _, _, ry, rx = where
    inside = visible[ry, rx]
    count = int(inside.sum())
    if count == 0:
        return (0.0, 0.0, 0.0, 0.0), 0
    rows = np.flatnonzero(inside.any(axis=1))
    cols = np.flatnonzero(inside.any(axis=0))
    bx = x0 + rx.start + cols[0]
    by = y0 + ry.start + rows[0]
    return (float(bx), float(by), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1)), count
