"""Frame sources and overlay writers.

Sources: a video file (anything OpenCV reads), a folder of images sorted by name, a camera index
(``"0"``), a stream URL (anything ``cv2.VideoCapture`` opens, e.g. ``rtsp://...``), or an image
topic of a recorded rosbag2 (SQLite3 or MCAP storage, ``sensor_msgs/Image`` or
``sensor_msgs/CompressedImage``, read with the ``rosbags`` library; no ROS installation needed).

Every source yields BGR uint8 frames; :meth:`FrameSource.frames` also gives each frame's index in
the source and its time stamp in nanoseconds where the source has one (the message's
``header.stamp`` for bags, the position in the file for videos, the capture time for cameras and
streams, none for image folders).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

from fartrack_ros.data.images import read_image_bgr

FOLDER_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}

# overlay file suffix -> fourcc that this OpenCV build writes with it
OVERLAY_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v", ".avi": "MJPG"}

IMAGE_MSG = "sensor_msgs/msg/Image"
COMPRESSED_MSG = "sensor_msgs/msg/CompressedImage"
# sensor_msgs/Image encoding -> (channels, conversion to BGR or None when already BGR)
RAW_ENCODINGS = {
    "bgr8": (3, None), "8UC3": (3, None),
    "rgb8": (3, cv2.COLOR_RGB2BGR),
    "mono8": (1, cv2.COLOR_GRAY2BGR), "8UC1": (1, cv2.COLOR_GRAY2BGR),
    "bgra8": (4, cv2.COLOR_BGRA2BGR), "8UC4": (4, cv2.COLOR_BGRA2BGR),
    "rgba8": (4, cv2.COLOR_RGBA2BGR),
}


@dataclass(frozen=True)
class Frame:
    index: int                 # position in the source (0 = its first frame)
    image: np.ndarray          # BGR uint8 (H, W, 3)
    stamp_ns: Optional[int]    # time stamp, None when the source has none


class FrameSource:
    """Iterates BGR uint8 frames; ``fps`` (nominal rate) and ``count`` (0 = unknown)."""

    kind = "source"

    def __init__(self, path, fps: float, count: int):
        self.path = path
        self.fps = fps
        self.count = count

    def frames(self, start: int = 0) -> Iterator[Frame]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame in self.frames():
            yield frame.image

    def describe(self) -> str:
        return f"{self.kind} {self.path}"


class FolderSource(FrameSource):
    kind = "frame folder"

    def __init__(self, path: Path, frame_paths: list, fps: float):
        super().__init__(path, fps, len(frame_paths))
        self.frame_paths = frame_paths

    def frames(self, start: int = 0) -> Iterator[Frame]:
        for index in range(start, len(self.frame_paths)):
            yield Frame(index, read_image_bgr(self.frame_paths[index]), None)


class CaptureSource(FrameSource):
    """A video file, a camera or a stream through cv2.VideoCapture.

    Files are reopened for every pass; cameras and streams keep the capture opened by
    :func:`open_frames` (and the frame read there to check it) and can be read once.
    """

    def __init__(self, target, kind: str, cap, first: np.ndarray, fps: float, count: int):
        super().__init__(target, fps, count)
        self.kind = kind
        self._cap, self._first = cap, first

    @property
    def live(self) -> bool:
        return self.kind != "video"

    def frames(self, start: int = 0) -> Iterator[Frame]:
        if self.live:
            if self._cap is None:
                raise ValueError(f"{self.describe()} can be read only once")
            cap, pending = self._cap, [self._first]
            self._cap = self._first = None
        else:
            cap, pending = cv2.VideoCapture(str(self.path)), []
        index = 0
        try:
            while True:
                if pending:
                    frame = pending.pop()
                    ok = True
                elif index < start and not self.live:
                    ok, frame = cap.grab(), None      # skip without decoding
                else:
                    ok, frame = cap.read()
                if not ok:
                    break
                if index >= start:
                    if self.live:
                        stamp = time.time_ns()
                    else:
                        stamp = int(round(cap.get(cv2.CAP_PROP_POS_MSEC) * 1e6))
                    yield Frame(index, frame, stamp)
                index += 1
        finally:
            cap.release()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = self._first = None


def _capture_target(spec: str):
    """A camera index ('0', '1', ...) or a URL ('rtsp://...', 'http://...'), else None."""
    if spec.isdigit():
        return int(spec), "camera"
    if "://" in spec:
        return spec, "stream"
    return None


def open_frames(path: str | Path, folder_fps: float = 30.0) -> FrameSource:
    """Open a video file, a folder of frames, a camera index or a stream URL; errors name it."""
    spec = str(path)
    target = None if Path(spec).exists() else _capture_target(spec)
    if target is None:
        path = Path(spec)
        if not path.exists():
            raise FileNotFoundError(f"video or frame folder not found: {path} (a camera is "
                                    "given by its index, e.g. 0; a stream by its URL)")
        if path.is_dir():
            frames = sorted(p for p in path.iterdir() if p.suffix.lower() in FOLDER_IMAGE_SUFFIXES)
            if not frames:
                raise ValueError(f"no image files ({sorted(FOLDER_IMAGE_SUFFIXES)}) in folder {path}")
            return FolderSource(path, frames, folder_fps)
        target = (path, "video")
    what, kind = target
    level = cv2.getLogLevel()
    cv2.setLogLevel(0)           # silent: the error below says what failed, in one line
    try:
        cap = cv2.VideoCapture(what if kind == "camera" else str(what))
    finally:
        cv2.setLogLevel(level)
    if not cap.isOpened():
        cap.release()
        raise ValueError(f"OpenCV cannot open {kind} {what}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if kind == "video" else 0
    ok, first = cap.read()
    if not ok:
        cap.release()
        raise ValueError(f"{kind} {what} has no readable frames")
    fps = float(fps) if 0 < fps < 1000 else folder_fps
    if kind == "video":
        cap.release()
        cap, first = None, None
    return CaptureSource(what, kind, cap, first, fps, max(count, 0))


# --------------------------------------------------------------------------- rosbag2
class BagSource(FrameSource):
    """One image topic of a rosbag2 (a bag folder, or its .db3 / .mcap file)."""

    kind = "bag"

    def __init__(self, path: Path, topic: str, msgtype: str, count: int, fps: float):
        super().__init__(path, fps, count)
        self.topic, self.msgtype = topic, msgtype

    def describe(self) -> str:
        return f"bag {self.path} topic {self.topic} ({self.msgtype}, {self.count} messages)"

    def frames(self, start: int = 0) -> Iterator[Frame]:
        from rosbags.rosbag2 import Reader
        from rosbags.typesys import Stores, get_typestore

        typestore = get_typestore(Stores.LATEST)
        with Reader(self.path) as reader:
            connections = [c for c in reader.connections if c.topic == self.topic]
            for index, (conn, bag_ns, raw) in enumerate(reader.messages(connections=connections)):
                if index < start:
                    continue
                msg = typestore.deserialize_cdr(raw, conn.msgtype)
                stamp = int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)
                try:
                    image = (compressed_to_bgr(msg.data, msg.format) if conn.msgtype == COMPRESSED_MSG
                             else raw_image_to_bgr(msg.encoding, int(msg.height), int(msg.width),
                                                   int(msg.step), msg.data))
                except ValueError as exc:
                    raise ValueError(f"bag {self.path} topic {self.topic} message {index}: {exc}") from None
                yield Frame(index, image, stamp or int(bag_ns))


def raw_image_to_bgr(encoding: str, height: int, width: int, step: int, data) -> np.ndarray:
    """The pixels of a sensor_msgs/Image -> BGR uint8 (H, W, 3)."""
    if encoding not in RAW_ENCODINGS:
        raise ValueError(f"unsupported image encoding {encoding!r}; supported: {sorted(RAW_ENCODINGS)}")
    channels, to_bgr = RAW_ENCODINGS[encoding]
    if height <= 0 or width <= 0 or step < width * channels:
        raise ValueError(f"bad image geometry {width}x{height}, step {step} ({encoding})")
    data = np.frombuffer(data, np.uint8)
    if data.size != step * height:
        raise ValueError(f"image data has {data.size} bytes, expected step*height = {step * height}")
    pixels = data.reshape(height, step)[:, :width * channels].reshape(height, width, channels)
    pixels = np.ascontiguousarray(pixels)
    return pixels if to_bgr is None else cv2.cvtColor(pixels, to_bgr)


def compressed_to_bgr(data, fmt: str) -> np.ndarray:
    """The bytes of a sensor_msgs/CompressedImage (JPEG, PNG, ...) -> BGR uint8 (H, W, 3)."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot decode compressed image (format {fmt!r}, {len(data)} bytes)")
    return image


def open_bag(path: str | Path, topic: Optional[str] = None) -> BagSource:
    """Open an image topic of a rosbag2; without ``topic`` the bag's only image topic.

    A raw topic name whose bag holds only ``<topic>/compressed`` takes that one.
    """
    try:
        from rosbags.rosbag2 import Reader, ReaderError
    except ImportError:
        raise ValueError("reading bags needs the rosbags package: pip install rosbags") from None
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"bag not found: {path}")
    if path.is_dir() and not (path / "metadata.yaml").is_file():
        raise ValueError(f"{path} is not a rosbag2 folder (no metadata.yaml); give the bag folder "
                         "or its .db3 / .mcap file")
    try:
        with Reader(path) as reader:
            topics = {}
            for conn in reader.connections:
                count, msgtype = topics.get(conn.topic, (0, conn.msgtype))
                topics[conn.topic] = (count + conn.msgcount, msgtype)
            duration_ns = reader.duration
    except (ReaderError, FileNotFoundError, OSError, ValueError, KeyError) as exc:
        raise ValueError(f"cannot read bag {path} (expected a rosbag2 folder or its .db3 / .mcap "
                         f"file): {exc}") from None
    images = {t: v for t, v in topics.items() if v[1] in (IMAGE_MSG, COMPRESSED_MSG)}
    listing = ", ".join(f"{t} ({v[1].rsplit('/', 1)[-1]})" for t, v in sorted(images.items())) or "none"
    if topic is None:
        if len(images) != 1:
            raise ValueError(f"give --topic: image topics in {path}: {listing}")
        topic = next(iter(images))
    elif topic not in topics and f"{topic.rstrip('/')}/compressed" in images:
        topic = f"{topic.rstrip('/')}/compressed"
    if topic not in topics:
        raise ValueError(f"topic {topic} is not in bag {path}; image topics: {listing}")
    if topic not in images:
        raise ValueError(f"topic {topic} in bag {path} has type {topics[topic][1]}, not "
                         f"sensor_msgs/Image or CompressedImage; image topics: {listing}")
    count, msgtype = images[topic]
    if count == 0:
        raise ValueError(f"topic {topic} in bag {path} has no messages")
    fps = (count - 1) / (duration_ns / 1e9) if count > 1 and duration_ns > 0 else 30.0
    return BagSource(path, topic, msgtype, count, fps)


# --------------------------------------------------------------------------- outputs
def check_overlay_path(path: str | Path) -> str:
    """The fourcc for an overlay file name, or ValueError naming the supported suffixes."""
    path = Path(path)
    fourcc = OVERLAY_FOURCC.get(path.suffix.lower())
    if fourcc is None:
        raise ValueError(f"overlay {path}: unsupported video file extension {path.suffix!r}; "
                         f"use one of {', '.join(OVERLAY_FOURCC)}")
    if path.is_dir():
        raise ValueError(f"overlay {path} is a folder; give a video file name")
    return fourcc


def open_overlay_writer(path: str | Path, fps: float, size_wh: tuple[int, int]) -> cv2.VideoWriter:
    """Create the folder and open a video writer; ValueError when OpenCV cannot write it."""
    fourcc = check_overlay_path(path)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, tuple(size_wh))
    if not writer.isOpened():
        writer.release()
        raise ValueError(f"OpenCV cannot write the overlay video {path} ({fourcc})")
    return writer


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
