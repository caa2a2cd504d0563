"""Synthetic tracking scenes made of real photographs: drawn here from a random stream,
rendered with exact ground truth by ``fartrack_ros.data.render``.

Each sequence: a real background seen by a slowly panning / zooming camera; the target, a
rectangular or elliptical patch cut from a real photograph or a cut-out object with its own mask
(soft edges), moves along a smooth random path with changes of scale, aspect ratio and
rotation, may leave the frame and come back, gets motion blur when it moves fast and changes
brightness; other patches or cut-outs pass over it (partial and full occlusion) and things of
the same look (copies of it, patches cut next to it from the same photograph, cut-outs of its
folder) move around it as distractors; the whole frame changes illumination and has
sensor noise. The pictures come from ``fartrack_ros.data.photos``.

Ground truth (exact, computed from the rendered geometry, before blur), per frame:

* the box of the **visible part** of the target: the tight axis-aligned box ``x,y,w,h`` of the
  target pixels that are inside the frame and not covered by a patch drawn in front of it (a
  pixel is target when its rendered coverage is at least one half: for a cut-out, its warped
  alpha mask; a patch in front hides what its own mask covers). A target partly outside the
  frame gets the box of its part inside; a partly occluded target the box of what remains
  visible (for a rotated target, the box of its rotated visible pixels). When no target pixel
  is visible the box is ``0,0,0,0``.
* absence: 1 when no target pixel is visible (fully occluded or out of the frame).
* cover: the visible fraction of the whole target (as if the frame were unbounded and nothing
  were in front) in GOT-10k's 9 levels: 0 = none, 1 = (0, 15%], 2 = (15, 30%], ...,
  6 = (75, 90%], 7 = (90, 100%), 8 = all of it.

Reproducibility: sequence ``i`` of split ``s`` with seed ``k`` is drawn from its own random
stream ``SeedSequence([k, s, i])`` (``sequence_rng``), so the same seed gives identical ground
truth and frames, and drawing more sequences leaves the first ones unchanged. Without cut-outs
and backgrounds no extra random draw is made, so sets made before they existed regenerate
identically. Training sequences use only the training pool (targets, backgrounds, occluders,
distractors); test sequences take their targets (and the distractors, which share the target's
look) only from the held-out pool, so no test target is ever seen in training. Test backgrounds
and occluders may come from either pool.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence as Seq

import cv2
import numpy as np

from fartrack_ros.data.photos import SourceImage, load_cutout, source_rgb
from fartrack_ros.data.render import Scene, Sprite, render_scene

SPLITS = {"train": 0, "test": 1}


# --------------------------------------------------------------------------- configuration

@dataclass(frozen=True)
class GeneratorConfig:
    """What the sequences look like. Sizes are fractions of the frame's shorter side."""

    width: int = 320
    height: int = 240
    num_frames: int = 100
    target_size: tuple[float, float] = (0.09, 0.30)     # side of the target's square-equivalent
    max_distractors: int = 2
    max_occluders: int = 3
    exit_probability: float = 0.12                       # per path knot: goes outside the frame
    rotation_probability: float = 0.35
    ellipse_probability: float = 0.4
    blur_probability: float = 0.5
    illumination_probability: float = 0.6
    jpeg_quality: int = 92
    cutout_probability: float = 0.6        # target is a cut-out (when the pool has both kinds)
    cutout_occluder_probability: float = 0.5   # an occluder is a cut-out (when there are any)
    background_probability: float = 0.5    # the scene is a background photograph (wallpaper)

    def __post_init__(self):
        if self.width < 64 or self.height < 64:
            raise ValueError(f"frame size {self.width}x{self.height} is too small (min 64x64)")
        if self.num_frames < 2:
            raise ValueError(f"num_frames must be >= 2, got {self.num_frames}")
        lo, hi = self.target_size
        if not 0 < lo <= hi < 1:
            raise ValueError(f"target_size {self.target_size} must satisfy 0 < low <= high < 1")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1..100, got {self.jpeg_quality}")
        for name in ("cutout_probability", "cutout_occluder_probability", "background_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


# --------------------------------------------------------------------------- smooth paths

def catmull_rom_path(knot_values: np.ndarray, spacing: float, num_frames: int) -> np.ndarray:
    """Interpolate knots placed at t = (k - 1) * spacing (k = 0..K-1) at t = 0..num_frames-1.

    ``knot_values`` (K, D). The curve passes through every knot; K must cover the range with
    one extra knot on each side.
    """
    t = np.arange(num_frames, dtype=np.float64) / spacing + 1.0
    i = np.floor(t).astype(np.int64)
    u = (t - i)[:, None]
    p0, p1, p2, p3 = (knot_values[i + o] for o in (-1, 0, 1, 2))
    return 0.5 * (2 * p1 + (p2 - p0) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u ** 2
                  + (3 * p1 - p0 - 3 * p2 + p3) * u ** 3)


def knot_count(spacing: float, num_frames: int) -> int:
    return int(math.ceil((num_frames - 1) / spacing)) + 3


# --------------------------------------------------------------------------- one sequence

@dataclass
class SequenceAnnotation:
    boxes_xywh: np.ndarray      # (F, 4) visible-part boxes; zeros when absent
    absence: np.ndarray         # (F,) int
    cover: np.ndarray           # (F,) int 0..8
    visible_fraction: np.ndarray
    meta: dict = field(default_factory=dict)


def cover_level(fraction: float, fully_visible: bool) -> int:
    """GOT-10k's 9 visibility levels: 0 none, 1..7 in steps of 15 %, 8 when nothing is hidden."""
    if fraction <= 0:
        return 0
    if fully_visible:
        return 8
    return int(min(7, max(1, math.ceil(fraction / 0.15 - 1e-9))))


class SequenceGenerator:
    """Draws and renders one sequence from a random stream."""

    def __init__(self, cfg: GeneratorConfig, target_pool: Seq[SourceImage],
                 scene_pool: Seq[SourceImage]):
        if not target_pool:
            raise ValueError("no target images in the pool")
        if not scene_pool:
            raise ValueError("no background images in the pool")
        self.cfg = cfg
        self.target_pool = list(target_pool)
        self.scene_pool = list(scene_pool)
        # photographs and cut-outs are drawn apart, so that without cut-outs the random stream
        # (and the sequences) stay what they were before cut-outs existed
        self.target_photos = [im for im in self.target_pool if im.kind != "cutout"]
        self.target_cutouts = [im for im in self.target_pool if im.kind == "cutout"]
        self.scene_photos = [im for im in self.scene_pool if im.kind != "cutout"]
        self.scene_cutouts = [im for im in self.scene_pool if im.kind == "cutout"]
        if not (self.target_photos or self.target_cutouts) or not self.scene_photos:
            raise ValueError("the generator needs at least one target source and one photograph "
                             "or background")

    # ---------------------------------------------------------------- drawing the scene
    def _textured_patch(self, rng: np.random.Generator, image: np.ndarray, width: int, height: int,
                        near: Optional[tuple[int, int]] = None, tries: int = 12):
        """Top-left of a ``width`` x ``height`` patch with texture (not a flat area)."""
        ih, iw = image.shape[:2]
        best, best_std = (0, 0), -1.0
        for _ in range(tries):
            if near is None:
                x = int(rng.integers(0, iw - width + 1))
                y = int(rng.integers(0, ih - height + 1))
            else:
                x = int(np.clip(near[0] + rng.integers(-width, width + 1), 0, iw - width))
                y = int(np.clip(near[1] + rng.integers(-height, height + 1), 0, ih - height))
            std = float(image[y:y + height:2, x:x + width:2].std())
            if std > best_std:
                best, best_std = (x, y), std
            if std > 28:
                break
        return best

    def _cut(self, image: np.ndarray, x: int, y: int, w: int, h: int, ellipse: bool) -> np.ndarray:
        rgba = np.empty((h, w, 4), np.uint8)
        rgba[..., :3] = image[y:y + h, x:x + w]
        if ellipse:
            alpha = np.zeros((h, w), np.uint8)
            cv2.ellipse(alpha, (((w - 1) / 2.0, (h - 1) / 2.0), (float(w), float(h)), 0.0), 255, -1)
            rgba[..., 3] = alpha
        else:
            rgba[..., 3] = 255
        return rgba

    def _patch_shape(self, rng: np.random.Generator, image: np.ndarray, aspect: float):
        ih, iw = image.shape[:2]
        side = rng.uniform(0.12, 0.4) * min(ih, iw)
        w = int(np.clip(round(side * math.sqrt(aspect)), 12, iw))
        h = int(np.clip(round(side / math.sqrt(aspect)), 12, ih))
        return w, h

    def _path(self, rng, spacing, low, high, n, knots=None):
        k = knot_count(spacing, n)
        values = rng.uniform(low, high, size=(k, len(low))) if knots is None else knots
        return catmull_rom_path(values, spacing, n), values

    def _position_knots(self, rng, spacing, size_px, allow_exit: bool):
        cfg = self.cfg
        k = knot_count(spacing, cfg.num_frames)
        knots = np.column_stack([rng.uniform(0.12, 0.88, k) * cfg.width,
                                 rng.uniform(0.12, 0.88, k) * cfg.height])
        if allow_exit:
            for j in range(2, k):                 # never at the start (knot 1 is frame 0)
                if rng.random() < cfg.exit_probability:
                    side = rng.integers(4)
                    beyond = rng.uniform(0.3, 1.6) * size_px
                    if side == 0:
                        knots[j, 0] = -beyond
                    elif side == 1:
                        knots[j, 0] = cfg.width + beyond
                    elif side == 2:
                        knots[j, 1] = -beyond
                    else:
                        knots[j, 1] = cfg.height + beyond
        return knots

    def _make_sprite(self, rng, rgba, base_size, spacing, role, z, centre=None, blur=False,
                     rotate=False, allow_exit=True, scale_spread=0.35, aspect_spread=0.2):
        cfg = self.cfg
        n = cfg.num_frames
        if centre is None:
            centre, _ = self._path(rng, spacing, None, None, n,
                                   knots=self._position_knots(rng, spacing, base_size, allow_exit))
        log_scale, _ = self._path(rng, spacing * 1.5, (-scale_spread,), (scale_spread,), n)
        log_aspect, _ = self._path(rng, spacing * 1.5, (-aspect_spread,), (aspect_spread,), n)
        h, w = rgba.shape[:2]
        side = base_size * np.exp(log_scale[:, 0])
        patch_aspect = w / h
        aspect = patch_aspect * np.exp(log_aspect[:, 0])
        size = np.column_stack([side * np.sqrt(aspect), side / np.sqrt(aspect)])
        if rotate:
            spin = rng.uniform(-60, 60)
            angle_knots = np.cumsum(rng.normal(0, 20, knot_count(spacing, n))) * rng.choice((0.5, 1.0))
            angle = catmull_rom_path(angle_knots[:, None], spacing, n)[:, 0]
            angle = angle - angle[0] + np.linspace(0, spin, n) * rng.choice((0.0, 1.0))
        else:
            angle = np.zeros(n)
        gain_knots = np.exp(rng.normal(0, 0.12, (knot_count(spacing, n), 1)))
        gain = catmull_rom_path(gain_knots, spacing, n)[:, 0]
        return Sprite(rgba, centre, size, angle, np.clip(gain, 0.6, 1.5), z, blur, role)

    def _crossing_centre(self, rng, target: Sprite, spacing: float, offset_scale: float,
                         first_frame: int):
        """A path that passes (near) the target's position at a random frame."""
        n = self.cfg.num_frames
        k = knot_count(spacing, n)
        knots = self._position_knots(rng, spacing, float(target.size[0].mean()), True)
        # knot j sits at frame (j - 1) * spacing; pick one at or after first_frame
        candidates = [j for j in range(1, k - 1) if first_frame <= (j - 1) * spacing < n]
        if candidates:
            j = int(rng.choice(candidates))
            t = min(n - 1, int(round((j - 1) * spacing)))
            offset = rng.normal(0, offset_scale, 2) * target.size[t]
            knots[j] = target.centre[t] + offset
        return catmull_rom_path(knots, spacing, n)

    def _pick_target(self, rng: np.random.Generator) -> SourceImage:
        if not self.target_cutouts:
            return self.target_photos[int(rng.integers(len(self.target_photos)))]
        if self.target_photos and rng.random() >= self.cfg.cutout_probability:
            return self.target_photos[int(rng.integers(len(self.target_photos)))]
        return self.target_cutouts[int(rng.integers(len(self.target_cutouts)))]

    @staticmethod
    def _cutout_rgba(rng: np.random.Generator, src: SourceImage) -> np.ndarray:
        """A cut-out with its mask, mirrored left-right half of the time."""
        rgba = load_cutout(src.path)
        return np.ascontiguousarray(rgba[:, ::-1]) if rng.random() < 0.5 else rgba.copy()

    def draw(self, rng: np.random.Generator) -> tuple[list[Sprite], dict]:
        cfg = self.cfg
        short = min(cfg.width, cfg.height)
        target_src = self._pick_target(rng)
        if target_src.kind == "cutout":
            return self._draw_cutout_target(rng, target_src)
        target_img = source_rgb(target_src)
        ellipse = bool(rng.random() < cfg.ellipse_probability)
        aspect = math.exp(rng.uniform(-0.7, 0.7))
        pw, ph = self._patch_shape(rng, target_img, aspect)
        px, py = self._textured_patch(rng, target_img, pw, ph)
        target_rgba = self._cut(target_img, px, py, pw, ph, ellipse)
        base = rng.uniform(*cfg.target_size) * short
        spacing = float(rng.uniform(10, 40))
        fast_blur = bool(rng.random() < cfg.blur_probability)
        target = self._make_sprite(rng, target_rgba, base, spacing, "target", 0.0, blur=fast_blur,
                                   rotate=bool(rng.random() < cfg.rotation_probability))
        sprites = [target]

        n_distractors = int(rng.integers(0, cfg.max_distractors + 1))
        for d in range(n_distractors):
            if rng.random() < 0.5:                       # a copy, slightly recoloured
                rgba = self._recoloured(rng, target_rgba)
            else:                                        # cut next to it in the same photograph
                qx, qy = self._textured_patch(rng, target_img, pw, ph, near=(px, py))
                rgba = self._cut(target_img, qx, qy, pw, ph, ellipse)
            sprites.append(self._distractor(rng, rgba, target, base, fast_blur, d))

        n_occluders, occluder_sources = self._add_occluders(rng, sprites, target, base, fast_blur)
        meta = {"target_image": target_src.name, "target_patch_xywh": f"{px},{py},{pw},{ph}",
                "target_shape": "ellipse" if ellipse else "rectangle",
                "distractors": n_distractors, "occluders": n_occluders,
                "occluder_images": " ".join(occluder_sources),
                "motion_blur": int(fast_blur)}
        return sprites, meta

    @staticmethod
    def _recoloured(rng: np.random.Generator, rgba: np.ndarray, sigma: float = 10.0) -> np.ndarray:
        out = rgba.copy()
        shift = rng.normal(0, sigma, 3)
        out[..., :3] = np.clip(out[..., :3] + shift, 0, 255).astype(np.uint8)
        return out

    def _distractor(self, rng, rgba, target: Sprite, base: float, fast_blur: bool, d: int,
                    aspect_spread: float = 0.2) -> Sprite:
        sp = float(rng.uniform(10, 40))
        centre = self._crossing_centre(rng, target, sp, 0.8, 10) if rng.random() < 0.6 else None
        return self._make_sprite(rng, rgba, base * rng.uniform(0.8, 1.2), sp, "distractor",
                                 float(rng.choice((-1.0, 1.0)) * (d + 1)), centre=centre,
                                 blur=fast_blur, aspect_spread=aspect_spread)

    def _add_occluders(self, rng, sprites: list[Sprite], target: Sprite, base: float,
                       fast_blur: bool) -> tuple[int, list[str]]:
        """Patches of photographs, or cut-out objects, that cross the target in front of it."""
        cfg = self.cfg
        n_occluders = int(rng.integers(0, cfg.max_occluders + 1))
        occluder_sources = []
        for o in range(n_occluders):
            if self.scene_cutouts and rng.random() < cfg.cutout_occluder_probability:
                src = self.scene_cutouts[int(rng.integers(len(self.scene_cutouts)))]
                rgba = self._cutout_rgba(rng, src)
            else:
                src = self.scene_photos[int(rng.integers(len(self.scene_photos)))]
                img = source_rgb(src)
                ow, oh = self._patch_shape(rng, img, math.exp(rng.uniform(-0.8, 0.8)))
                ox, oy = self._textured_patch(rng, img, ow, oh)
                rgba = self._cut(img, ox, oy, ow, oh, bool(rng.random() < 0.5))
            occluder_sources.append(src.name)
            sp = float(rng.uniform(15, 50))
            centre = self._crossing_centre(rng, target, sp, 0.25, 12)
            sprites.append(self._make_sprite(rng, rgba, base * rng.uniform(0.6, 2.4), sp, "occluder",
                                             10.0 + o, centre=centre, blur=fast_blur,
                                             rotate=bool(rng.random() < 0.3)))
        return n_occluders, occluder_sources

    def _draw_cutout_target(self, rng: np.random.Generator, target_src: SourceImage):
        """The target is a cut-out object, drawn with its own mask (soft edges); its distractors
        are recoloured copies of it or other cut-outs of its folder (birds beside a bird)."""
        cfg = self.cfg
        short = min(cfg.width, cfg.height)
        target_rgba = self._cutout_rgba(rng, target_src)
        base = rng.uniform(*cfg.target_size) * short
        spacing = float(rng.uniform(10, 40))
        fast_blur = bool(rng.random() < cfg.blur_probability)
        target = self._make_sprite(rng, target_rgba, base, spacing, "target", 0.0, blur=fast_blur,
                                   rotate=bool(rng.random() < cfg.rotation_probability),
                                   aspect_spread=0.1)
        sprites = [target]
        kin = [im for im in self.target_cutouts
               if im.group == target_src.group and im.name != target_src.name]
        n_distractors = int(rng.integers(0, cfg.max_distractors + 1))
        distractor_sources = []
        for d in range(n_distractors):
            if kin and rng.random() < 0.5:
                src = kin[int(rng.integers(len(kin)))]
                rgba = self._cutout_rgba(rng, src)
                distractor_sources.append(src.name)
            else:
                rgba = self._recoloured(rng, target_rgba, 14.0)
                distractor_sources.append("copy")
            sprites.append(self._distractor(rng, rgba, target, base, fast_blur, d, 0.1))
        n_occluders, occluder_sources = self._add_occluders(rng, sprites, target, base, fast_blur)
        mh, mw = target_rgba.shape[:2]
        meta = {"target_image": target_src.name, "target_patch_xywh": f"0,0,{mw},{mh}",
                "target_shape": "cutout", "distractors": n_distractors,
                "distractor_images": " ".join(distractor_sources), "occluders": n_occluders,
                "occluder_images": " ".join(occluder_sources), "motion_blur": int(fast_blur)}
        return sprites, meta

    def _camera(self, rng: np.random.Generator, avoid: str = ""):
        """Background photograph (not ``avoid``, the target's) and its per-frame view."""
        cfg = self.cfg
        n = cfg.num_frames
        choices = [im for im in self.scene_photos if im.name != avoid] or self.scene_photos
        backgrounds = [im for im in choices if im.kind == "background"]
        if backgrounds and len(backgrounds) < len(choices):
            # background photographs (wallpapers) get their own share, however many photos
            # there are; no draw without them, so older sets regenerate unchanged
            if rng.random() < cfg.background_probability:
                choices = backgrounds
            else:
                choices = [im for im in choices if im.kind != "background"]
        src = choices[int(rng.integers(len(choices)))]
        image = source_rgb(src)
        ih, iw = image.shape[:2]
        cover = max(cfg.width / iw, cfg.height / ih)             # image pixels -> frame pixels
        zoom0 = cover * rng.uniform(1.25, 2.0)
        spacing = float(rng.uniform(20, 60))
        zoom = zoom0 * np.exp(self._path(rng, spacing, (-0.12,), (0.12,), n)[0][:, 0])
        zoom = np.maximum(zoom, cover * 1.02)
        # view centre in image pixels, kept where the view stays inside the image
        pan = self._path(rng, spacing, (0.0, 0.0), (1.0, 1.0), n)[0]
        half_w = cfg.width / (2 * zoom)
        half_h = cfg.height / (2 * zoom)
        cx = half_w + pan[:, 0] * np.maximum(iw - 2 * half_w, 0)
        cy = half_h + pan[:, 1] * np.maximum(ih - 2 * half_h, 0)
        shake = rng.normal(0, rng.uniform(0, 0.8), (n, 2))
        mats = np.zeros((n, 2, 3))
        mats[:, 0, 0] = zoom
        mats[:, 1, 1] = zoom
        mats[:, 0, 2] = cfg.width / 2 - zoom * cx + shake[:, 0]
        mats[:, 1, 2] = cfg.height / 2 - zoom * cy + shake[:, 1]
        return src, image, mats

    def _illumination(self, rng: np.random.Generator):
        """Per-frame gain and horizontal / vertical gradient of the light, shape (F, 3)."""
        cfg = self.cfg
        n = cfg.num_frames
        if rng.random() >= cfg.illumination_probability:
            return np.tile([1.0, 0.0, 0.0], (n, 1))
        spacing = float(rng.uniform(15, 50))
        gain = np.exp(self._path(rng, spacing, (-0.45,), (0.35,), n)[0][:, 0])
        if rng.random() < 0.3:                               # a light switched on or off
            t = int(rng.integers(n // 4, n))
            gain[t:] *= math.exp(rng.uniform(-0.5, 0.4))
        grad = self._path(rng, spacing, (-0.35, -0.35), (0.35, 0.35), n)[0]
        return np.column_stack([np.clip(gain, 0.35, 1.8), grad])

    def draw_scene(self, rng: np.random.Generator) -> "Scene":
        sprites, meta = self.draw(rng)
        bg_src, bg_image, bg_mats = self._camera(rng, avoid=meta["target_image"])
        light = self._illumination(rng)
        noise_sigma = float(rng.uniform(0, 3.5))
        meta.update(background_image=bg_src.name, noise_sigma=round(noise_sigma, 3))
        return Scene(sprites, bg_image, bg_mats, light, noise_sigma, int(rng.integers(2 ** 63)), meta)


# --------------------------------------------------------------------------- one sequence of a split

def sequence_rng(seed: int, split: str, index: int) -> np.random.Generator:
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of {sorted(SPLITS)}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.default_rng(np.random.SeedSequence([seed, SPLITS[split], index]))


def pools_for_split(images: Seq[SourceImage], split: str) -> tuple[list[SourceImage], list[SourceImage]]:
    """(target pool, scene pool) for a split; see the module docstring for the rule.

    Backgrounds are never targets: they stay out of the target pool.
    """
    train = [im for im in images if im.pool == "train"]
    test = [im for im in images if im.pool == "test"]
    if split == "train":
        return [im for im in train if im.kind != "background"], train
    if split == "test":
        return [im for im in test if im.kind != "background"], train + test
    raise ValueError(f"split {split!r} is not one of {sorted(SPLITS)}")


def generate_sequence(cfg: GeneratorConfig, images: Seq[SourceImage], seed: int, split: str,
                      index: int, max_attempts: int = 20):
    """Render sequence ``index`` of ``split``: (frames list, SequenceAnnotation).

    The first frame always shows the whole target (it initialises trackers); a draw that does
    not is redrawn from the same stream.
    """
    target_pool, scene_pool = pools_for_split(images, split)
    gen = SequenceGenerator(cfg, target_pool, scene_pool)
    rng = sequence_rng(seed, split, index)
    for attempt in range(max_attempts):
        frames, boxes, fractions, full = [], [], [], []
        ok = True
        scene = gen.draw_scene(rng)
        for t, (image, box, fraction, fully) in enumerate(render_scene(scene, cfg.width, cfg.height)):
            if t == 0 and not (fully and box[2] >= 4 and box[3] >= 4):
                ok = False
                break
            frames.append(image)
            boxes.append(box)
            fractions.append(fraction)
            full.append(fully)
        if ok:
            break
    else:
        raise ValueError(f"could not draw a sequence with a visible first frame "
                         f"(seed {seed}, split {split}, index {index})")
    fractions_arr = np.asarray(fractions)
    ann = SequenceAnnotation(
        boxes_xywh=np.asarray(boxes, dtype=np.float64),
        absence=(fractions_arr <= 0).astype(np.int64),
        cover=np.array([cover_level(f, v) for f, v in zip(fractions, full)], dtype=np.int64),
        visible_fraction=fractions_arr,
        meta={**scene.meta, "attempts": attempt + 1})
    return frames, ann
