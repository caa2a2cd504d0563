"""Frame sources: any video OpenCV reads, or a folder of images sorted by name."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass
class FrameSource:
    """Iterates BGR uint8 frames of a video file or an image folder."""

    path: Path
    fps: float
    count: int          # number of frames (0 if unknown)
    frame_paths: list   # for folders

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.frame_paths:
            for p in self.frame_paths:
                img = cv2.imread(str(p), cv2.IMREAD_COLOR)
                if img is None:
                    raise ValueError(f"cannot read image {p}")
                yield img
            return
        cap = cv2.VideoCapture(str(self.path))
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                yield frame
        finally:
            cap.release()


def open_frames(path: str | Path, folder_fps: float = 30.0) -> FrameSource:
    """Open a video file or a folder of frames; errors name the path."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"video or frame folder not found: {path}")
    if path.is_dir():
        frames = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not frames:
            raise ValueError(f"no image files ({sorted(IMAGE_SUFFIXES)}) in folder {path}")
        return FrameSource(path, folder_fps, len(frames), frames)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"OpenCV cannot open video {path}")
    fps = cap.get(cv2.CAP_PROP_FPS) or folder_fps
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    ok, _ = cap.read()
    cap.release()
    if not ok:
        raise ValueError(f"video {path} has no readable frames")
    return FrameSource(path, float(fps) if fps > 0 else folder_fps, max(count, 0), [])


def parse_box_xywh(text: str) -> tuple[float, float, float, float]:
    """'x,y,w,h' -> 4 floats (ValueError naming the text otherwise)."""
    parts = [p for p in text.replace(" ", ",").split(",") if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"box must be 'x,y,w,h' numbers, got {text!r}") from None
    if len(values) != 4:
        raise ValueError(f"box must have 4 values x,y,w,h, got {text!r}")
    return values
