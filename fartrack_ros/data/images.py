"""Image and video readers: every frame handed on is RGB uint8 (H, W, 3).

``read_image_rgb`` reads one image file (``read_image_bgr``: in OpenCV's channel order).
``NumberedFrames``, ``ImageFiles`` and ``VideoFrames`` are the frame holders of a sequence (a
numbered pattern, a list of files, a video file), each with ``len``, ``path(i)`` and
``read_rgb(i)``; ``video_frame_count`` counts a video's frames.
``IMAGENET_MEAN`` / ``IMAGENET_STD`` are the statistics the network's inputs are normalised
with (RGB, in [0, 1] units), shared by the tracker's preprocessing and training's loaders.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def read_image_bgr(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as OpenCV's BGR uint8 (H, W, 3); FileNotFoundError naming the path if
    unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return image


def read_image_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3); FileNotFoundError naming the path if unreadable."""
    return cv2.cvtColor(read_image_bgr(path), cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class NumberedFrames:
    """Frames ``directory / pattern.format(first + i)`` for i in 0..count-1."""

    directory: str
    pattern: str
    first: int
    count: int

    def __len__(self) -> int:
        return self.count

    def path(self, index: int) -> str:
        _check_index(index, self.count)
        return os.path.join(self.directory, self.pattern.format(self.first + index))

    def read_rgb(self, index: int) -> np.ndarray:
        return read_image_rgb(self.path(index))


@dataclass(frozen=True)
class ImageFiles:
    """An explicit list of image files (one per frame)."""

    paths: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.paths)

    def path(self, index: int) -> str:
        _check_index(index, len(self.paths))
        return self.paths[index]

    def read_rgb(self, index: int) -> np.ndarray:
        return read_image_rgb(self.path(index))


class VideoFrames:
    """Frames of a video file, decoded with OpenCV.

    Reading frames in increasing order decodes each frame once; a jump backwards (or far
    forwards) seeks. The capture is opened lazily so the object can be sent to worker processes.
    """

    def __init__(self, path: str, count: int):
        self.video_path = str(path)
        self.count = count
        self._capture = None
        self._next = 0

    def __len__(self) -> int:
        return self.count

    def __getstate__(self):
        return {"video_path": self.video_path, "count": self.count}

    def __setstate__(self, state):
        self.__init__(state["video_path"], state["count"])

    def path(self, index: int) -> str:
        _check_index(index, self.count)
        return f"{self.video_path}#{index}"

    def read_rgb(self, index: int) -> np.ndarray:
        _check_index(index, self.count)
        if self._capture is None:
            self._capture = cv2.VideoCapture(self.video_path)
            if not self._capture.isOpened():
                self._capture = None
                raise FileNotFoundError(f"cannot open video {self.video_path}")
            self._next = 0
        if index != self._next:
            if index < self._next or index > self._next + 30:
                self._capture.set(cv2.CAP_PROP_POS_FRAMES, index)
                self._next = index
            while self._next < index:           # short forward gap: decode through it
                self._capture.grab()
                self._next += 1
        ok, frame = self._capture.read()
        if not ok:
            raise ValueError(f"video {self.video_path} has no frame {index}")
        self._next = index + 1
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def video_frame_count(path: str | os.PathLike) -> int:
    """Number of frames of a video, counted by decoding (container headers can be wrong)."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open video {path}")
    count = 0
    while capture.grab():
        count += 1
    capture.release()
    return count


def _check_index(index: int, count: int) -> None:
    if not 0 <= index < count:
        raise IndexError(f"frame index {index} outside 0..{count - 1}")
