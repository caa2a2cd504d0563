"""OpenCV's CSRT, KCF and MIL trackers (opencv-contrib) behind the FARTrack tracker interface.

Like the FARTrack tracker they take **RGB** images (the project convention) and hand OpenCV the
BGR image it expects. ``initialize`` builds a fresh OpenCV tracker, so one object serves a whole
evaluation run. When OpenCV reports a failure the previous box is kept with state "lost" and
score 0 (OpenCV returns a meaningless box then), so result files always hold usable boxes.
"""
from __future__ import annotations

import cv2
import numpy as np

from fartrack_ros.core.types import LOST, TRACKING, TrackResult

PEER_NAMES = ("csrt", "kcf", "mil")
_OPENCV_CLASS = {"csrt": "TrackerCSRT", "kcf": "TrackerKCF", "mil": "TrackerMIL"}


def opencv_tracker_factory(name: str):
    """The ``cv2.Tracker<Name>_create`` function, falling back to ``cv2.legacy`` builds."""
    if name not in _OPENCV_CLASS:
        raise ValueError(f"unknown OpenCV tracker {name!r}; expected one of {PEER_NAMES}")
    class_name = _OPENCV_CLASS[name]
    for module in (cv2, getattr(cv2, "legacy", None)):
        if module is None:
            continue
        factory = getattr(module, f"{class_name}_create", None)
        if factory is None and hasattr(module, class_name):
            factory = getattr(getattr(module, class_name), "create", None)
        if factory is not None:
            return factory
    raise ValueError(f"OpenCV {cv2.__version__} has no {class_name}: install opencv-contrib-python-headless")


def _check_image_rgb(image_rgb: np.ndarray) -> np.ndarray:
    image = np.asarray(image_rgb)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} {image.shape}")
    return image


class OpenCvPeerTracker:
    """One of OpenCV's classic trackers with ``initialize(image_rgb, box_xywh)`` / ``track``."""

    def __init__(self, name: str):
        self.name = name
        self._factory = opencv_tracker_factory(name)
        self._tracker = None
        self._box_xywh: tuple[float, float, float, float] | None = None
        self._frame_index = 0

    @property
    def is_initialized(self) -> bool:
        return self._tracker is not None

    def reset(self) -> None:
        self._tracker = None
        self._box_xywh = None
        self._frame_index = 0

    def initialize(self, image_rgb: np.ndarray, box_xywh) -> None:
        image = _check_image_rgb(image_rgb)
        height, width = image.shape[:2]
        x, y, w, h = (float(v) for v in box_xywh)
        if not (w > 0 and h > 0) or x >= width or y >= height or x + w <= 0 or y + h <= 0:
            raise ValueError(f"initial box {tuple(box_xywh)} is empty or outside the {width}x{height} image")
        # OpenCV wants an integer rectangle of at least one pixel.
        rect = (int(round(x)), int(round(y)), max(1, int(round(w))), max(1, int(round(h))))
        self._tracker = self._factory()
        self._tracker.init(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), rect)
        self._box_xywh = (x, y, w, h)
        self._frame_index = 0

    def track(self, image_rgb: np.ndarray) -> TrackResult:
        if self._tracker is None:
            raise ValueError("track() called before initialize()")
        image = _check_image_rgb(image_rgb)
        ok, rect = self._tracker.update(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        self._frame_index += 1
        if ok and rect[2] > 0 and rect[3] > 0:
            self._box_xywh = tuple(float(v) for v in rect)
            return TrackResult(self._box_xywh, 1.0, TRACKING, self._frame_index)
        return TrackResult(self._box_xywh, 0.0, LOST, self._frame_index)

