"""Pseudo-labelled sequences from unlabelled real video: a teacher tracker run forward and back.

A teacher (any object with ``initialize(image_rgb, box_xywh)`` / ``track(image_rgb)``, e.g.
OpenCV's NanoTrack) starts on a textured box it picks itself, tracks it ``clip_length`` frames
forward, then from its last box back to the first frame. A track is kept only when the backward
pass retraces the forward one (every frame's forward and backward boxes overlap by at least
``min_pair_iou``) and returns to where it started (``min_return_iou``): a tracker that drifted
rarely drifts back along the same path. Kept tracks are written in the layout ``fartrack track``
writes (``boxes.txt`` and a ``frames/`` folder of links), which training reads as ``kind: track``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence as Seq

import cv2
import numpy as np

from fartrack_ros.core.boxes import iou_xywh


@dataclass(frozen=True)
class PseudoLabelConfig:
    clip_length: int = 60           # frames tracked forward (and back)
    starts_per_clip: int = 3        # candidate boxes tried on each clip's first frame
    clip_stride: int = 40           # frames between clip starts in one video
    min_side: int = 16              # candidate box sides in pixels ...
    max_side_fraction: float = 0.3  # ... and at most this fraction of the shorter image side
    min_pair_iou: float = 0.5       # forward vs backward box on every frame
    min_return_iou: float = 0.7     # backward pass's last box vs the start box
    min_motion: float = 0.0         # keep only tracks whose centre moves this many box sides
    seed: int = 0

    def __post_init__(self):
        if self.clip_length < 2:
            raise ValueError(f"clip_length must be >= 2, got {self.clip_length}")
        if self.starts_per_clip < 1 or self.clip_stride < 1:
            raise ValueError("starts_per_clip and clip_stride must be >= 1")
        if not 0 < self.max_side_fraction <= 1:
            raise ValueError(f"max_side_fraction must be in (0, 1], got {self.max_side_fraction}")


@dataclass(frozen=True)
class PseudoTrack:
    start: int                  # index of the first frame in the source
    boxes_xywh: np.ndarray      # (clip_length, 4), the forward pass
    return_iou: float
    min_pair_iou: float


def propose_boxes(image_rgb: np.ndarray, count: int, rng: np.random.Generator,
                  cfg: PseudoLabelConfig) -> list[tuple[float, float, float, float]]:
    """Up to ``count`` boxes centred on strong corners (textured regions a tracker can hold),
    with random sides between ``min_side`` and ``max_side_fraction`` of the shorter image side."""
    height, width = image_rgb.shape[:2]
    max_side = max(cfg.min_side, int(cfg.max_side_fraction * min(height, width)))
    gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
    corners = cv2.goodFeaturesToTrack(gray, maxCorners=200, qualityLevel=0.05,
                                      minDistance=max(4, cfg.min_side // 2))
    if corners is None:
        return []
    points = corners.reshape(-1, 2)
    rng.shuffle(points)
    boxes = []
    for cx, cy in points:
        w, h = (float(rng.uniform(cfg.min_side, max_side)) for _ in range(2))
        x, y = cx - w / 2, cy - h / 2
        if x < 0 or y < 0 or x + w > width or y + h > height:
            continue
        boxes.append((float(x), float(y), w, h))
        if len(boxes) == count:
            break
    return boxes


def forward_backward(teacher, frames: Seq[np.ndarray], box_xywh) -> PseudoTrack | None:
    """Track ``box_xywh`` over ``frames`` and back; the forward track with its consistency."""
    forward = [np.asarray(box_xywh, np.float64)]
    teacher.initialize(frames[0], box_xywh)
    for frame in frames[1:]:
        forward.append(np.asarray(teacher.track(frame).box_xywh, np.float64))
    backward = [forward[-1]]
    teacher.initialize(frames[-1], tuple(forward[-1]))
    for frame in frames[-2::-1]:
        backward.append(np.asarray(teacher.track(frame).box_xywh, np.float64))
    forward_arr, backward_arr = np.stack(forward), np.stack(backward[::-1])
    pair = iou_xywh(forward_arr, backward_arr)
    return PseudoTrack(0, forward_arr, float(pair[0]), float(pair.min()))


def pseudo_label_video(read_frames: Callable[[int, int], list[np.ndarray]], frame_count: int,
                       make_teacher: Callable[[], object], cfg: PseudoLabelConfig,
                       rng: np.random.Generator) -> Iterator[PseudoTrack]:
    """Kept tracks of one video. ``read_frames(start, count)`` returns RGB frames."""
    teacher = make_teacher()
    for start in range(0, frame_count - cfg.clip_length + 1, cfg.clip_stride):
        frames = read_frames(start, cfg.clip_length)
        for box in propose_boxes(frames[0], cfg.starts_per_clip, rng, cfg):
            track = forward_backward(teacher, frames, box)
            if track.return_iou < cfg.min_return_iou or track.min_pair_iou < cfg.min_pair_iou:
                continue
            centres = track.boxes_xywh[:, :2] + track.boxes_xywh[:, 2:] / 2
            side = float(np.sqrt(track.boxes_xywh[0, 2] * track.boxes_xywh[0, 3]))
            if np.linalg.norm(centres - centres[0], axis=1).max() < cfg.min_motion * side:
                continue
            yield PseudoTrack(start, track.boxes_xywh, track.return_iou, track.min_pair_iou)


def write_track(out_dir: Path, frame_paths: Seq[str], track: PseudoTrack) -> Path:
    """One kept track as ``out_dir/boxes.txt`` + ``out_dir/frames/`` (links to the frames)."""
    frames_dir = Path(out_dir) / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    for i, src in enumerate(frame_paths[track.start:track.start + len(track.boxes_xywh)]):
        link = frames_dir / f"{i + 1:08d}{Path(src).suffix.lower()}"
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(os.path.abspath(src), link)
    np.savetxt(Path(out_dir) / "boxes.txt", track.boxes_xywh, fmt="%.2f", delimiter=",")
    return Path(out_dir)
