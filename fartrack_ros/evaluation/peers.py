"""OpenCV's trackers behind the FARTrack tracker interface: CSRT, KCF and MIL (opencv-contrib)
and NanoTrack v2 (``cv2.TrackerNano``, a small Siamese network run by OpenCV's DNN module).

Like the FARTrack tracker they take **RGB** images (the project convention) and hand OpenCV the
BGR image it expects. ``initialize`` builds a fresh OpenCV tracker, so one object serves a whole
evaluation run. When OpenCV reports a failure the previous box is kept with state "lost" and
score 0 (OpenCV returns a meaningless box then), so result files always hold usable boxes.
CSRT, KCF and MIL have no confidence (score 1 while tracking); NanoTrack's own score
(``getTrackingScore``) is passed through.

NanoTrack needs its two ONNX files (backbone and neck/head; about 1.8 MB, Apache-2.0, from the
SiamTrackers repository's ``NanoTrack/models/nanotrackv2``). Users bring them, as with the
official FARTrack checkpoints; nothing is downloaded. ``resolve_nanotrack_files`` finds them
from explicit paths, a folder, or the ``FARTRACK_NANOTRACK_DIR`` environment variable.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import cv2
import numpy as np

from fartrack_ros.core.types import LOST, TRACKING, TrackResult

CLASSIC_PEER_NAMES = ("csrt", "kcf", "mil")
NANOTRACK = "nanotrack"
PEER_NAMES = CLASSIC_PEER_NAMES + (NANOTRACK,)
NANOTRACK_ENV = "FARTRACK_NANOTRACK_DIR"
NANOTRACK_FILES = {"backbone": "nanotrack_backbone_sim.onnx", "head": "nanotrack_head_sim.onnx"}
_OPENCV_CLASS = {"csrt": "TrackerCSRT", "kcf": "TrackerKCF", "mil": "TrackerMIL"}


def opencv_tracker_factory(name: str):
    """The ``cv2.Tracker<Name>_create`` function, falling back to ``cv2.legacy`` builds."""
    if name not in _OPENCV_CLASS:
        raise ValueError(f"unknown OpenCV tracker {name!r}; expected one of {CLASSIC_PEER_NAMES}")
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
    """One of OpenCV's trackers with ``initialize(image_rgb, box_xywh)`` / ``track``.

    ``factory`` builds a fresh OpenCV tracker (default: the classic tracker called ``name``).
    """

    def __init__(self, name: str, factory=None):
        self.name = name
        self._factory = factory or opencv_tracker_factory(name)
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
            return TrackResult(self._box_xywh, self._score(), TRACKING, self._frame_index)
        return TrackResult(self._box_xywh, 0.0, LOST, self._frame_index)

    def _score(self) -> float:
        return 1.0                    # CSRT, KCF and MIL report no confidence


def resolve_nanotrack_files(backbone: str | Path | None = None, head: str | Path | None = None,
                            directory: str | Path | None = None,
                            environ: Mapping[str, str] = os.environ) -> tuple[str, str]:
    """The (backbone, head) ONNX paths of NanoTrack v2, checked to exist.

    Each file comes from its explicit path, else from ``directory``, else from the folder in the
    ``FARTRACK_NANOTRACK_DIR`` environment variable (both holding the files under their released
    names). FileNotFoundError with one line naming what is missing.
    """
    env_dir = environ.get(NANOTRACK_ENV) or None
    if backbone is None and head is None and directory is None and env_dir is None:
        raise FileNotFoundError(
            f"nanotrack needs its two model files: give --nanotrack-dir DIR (holding "
            f"{NANOTRACK_FILES['backbone']} and {NANOTRACK_FILES['head']}), or --nanotrack-backbone FILE "
            f"and --nanotrack-head FILE, or set {NANOTRACK_ENV}=DIR (nothing is downloaded)")
    found = []
    for part, explicit in (("backbone", backbone), ("head", head)):
        if explicit is not None:
            path, source = Path(explicit), f"--nanotrack-{part}"
        elif directory is not None or env_dir is not None:
            folder, source = ((Path(directory), "--nanotrack-dir") if directory is not None
                              else (Path(env_dir), NANOTRACK_ENV))
            if not folder.is_dir():
                raise FileNotFoundError(f"nanotrack model folder not found: {folder} (from {source})")
            path = folder / NANOTRACK_FILES[part]
        else:
            raise FileNotFoundError(f"nanotrack {part} file not given: add --nanotrack-{part} FILE "
                                    f"or --nanotrack-dir DIR (or set {NANOTRACK_ENV})")
        if not path.is_file():
            raise FileNotFoundError(f"nanotrack {part} file not found: {path} (from {source})")
        found.append(str(path))
    return found[0], found[1]


def nanotrack_factory(backbone: str | Path, head: str | Path):
    """A function building a fresh ``cv2.TrackerNano`` from the two ONNX files; the files are
    loaded once here so a bad file fails now, with a ValueError naming it."""
    if not hasattr(cv2, "TrackerNano_Params"):
        raise ValueError(f"OpenCV {cv2.__version__} has no TrackerNano (needs OpenCV >= 4.7)")
    params = cv2.TrackerNano_Params()
    params.backbone, params.neckhead = str(backbone), str(head)
    try:
        cv2.TrackerNano_create(params)
    except cv2.error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"cannot load the NanoTrack model files (backbone {backbone}, head {head}): "
                         f"{reason}") from None
    return lambda: cv2.TrackerNano_create(params)


class NanoTrackTracker(OpenCvPeerTracker):
    """NanoTrack v2 (``cv2.TrackerNano``); ``score`` is NanoTrack's own tracking score. That
    score stays high (about 0.9) whether or not the target is there, so it is no lost signal."""

    def __init__(self, backbone: str | Path, head: str | Path):
        super().__init__(NANOTRACK, nanotrack_factory(backbone, head))

    def _score(self) -> float:
        return float(self._tracker.getTrackingScore())

