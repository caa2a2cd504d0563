"""Messages <-> arrays for the node, the demo and the tests (replaces cv_bridge, which has
no PyPI wheel and would pull in a ROS distribution). Every decoder raises ValueError naming the problem.
"""
from __future__ import annotations

import array
from typing import Optional, Sequence

import cv2
import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

from fartrack_ros.core.boxes import cxcywh_to_xywh, xywh_to_cxcywh
from fartrack_ros.core.types import ON_TARGET_STATES, TrackResult

# encoding -> (channels, cv2 conversion to RGB or None when already RGB)
IMAGE_ENCODINGS = {
    "rgb8": (3, None),
    "bgr8": (3, cv2.COLOR_BGR2RGB),
    "mono8": (1, cv2.COLOR_GRAY2RGB),
    "rgba8": (4, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, cv2.COLOR_BGRA2RGB),
    "8UC1": (1, cv2.COLOR_GRAY2RGB),     # OpenCV type names: OpenCV channel order (BGR)
    "8UC3": (3, cv2.COLOR_BGR2RGB),
    "8UC4": (4, cv2.COLOR_BGRA2RGB),
}


def stamp_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    return Time(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def image_msg_problem(msg: Image) -> Optional[str]:
    """Why ``msg`` cannot be converted (encoding, size, step, data length), or None. Cheap: reads
    the header fields only, so the node checks every frame on arrival with it."""
    if msg.encoding not in IMAGE_ENCODINGS:
        return (f"unsupported image encoding {msg.encoding!r}; "
                f"supported: {sorted(IMAGE_ENCODINGS)}")
    channels = IMAGE_ENCODINGS[msg.encoding][0]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        return f"image has no pixels: {width}x{height}"
    if step < width * channels:
        return (f"image step {step} is smaller than width*channels = {width * channels} "
                f"({msg.encoding}, {width}x{height})")
    size = len(msg.data)
    if size != step * height:
        return (f"image data has {size} bytes, but step*height = {step}*{height} = "
                f"{step * height} ({msg.encoding}, {width}x{height})")
    return None


def compressed_msg_problem(msg: CompressedImage) -> Optional[str]:
    """What can be told wrong about a compressed image without decoding it, or None."""
    if len(msg.data) == 0:
        return f"compressed image (format {msg.format!r}) has no data"
    return None


def image_msg_to_rgb(msg: Image) -> np.ndarray:
    """sensor_msgs/Image -> RGB uint8 (H, W, 3), C-contiguous."""
    problem = image_msg_problem(msg)
    if problem:
        raise ValueError(problem)
    channels, to_rgb = IMAGE_ENCODINGS[msg.encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    rows = np.frombuffer(msg.data, np.uint8).reshape(height, step)[:, :width * channels]
    pixels = rows.reshape(height, width, channels) if channels > 1 else rows
    if to_rgb is None:
        return np.ascontiguousarray(pixels)
    return cv2.cvtColor(np.ascontiguousarray(pixels), to_rgb)


def compressed_msg_to_rgb(msg: CompressedImage) -> np.ndarray:
    """sensor_msgs/CompressedImage (jpeg, png, ...) -> RGB uint8 (H, W, 3)."""
    problem = compressed_msg_problem(msg)
    if problem:
        raise ValueError(problem)
    bgr = cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot decode compressed image (format {msg.format!r}, "
                         f"{len(msg.data)} bytes)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def image_msg_from_array(pixels: np.ndarray, encoding: str,
                         header: Optional[Header] = None) -> Image:
    """uint8 (H, W[, C]) array -> sensor_msgs/Image with the given encoding (one copy)."""
    if encoding not in IMAGE_ENCODINGS:
        raise ValueError(f"unsupported image encoding {encoding!r}")
    channels = IMAGE_ENCODINGS[encoding][0]
    if pixels.dtype != np.uint8 or pixels.shape[2:] != ((channels,) if channels > 1 else ()):
        raise ValueError(f"{encoding} needs uint8 with {channels} channel(s), got "
                         f"{pixels.dtype} {pixels.shape}")
    pixels = np.ascontiguousarray(pixels)
    msg = Image(header=header or Header(), height=pixels.shape[0], width=pixels.shape[1],
                encoding=encoding, is_bigendian=0, step=pixels.strides[0])
    data = array.array("B")
    data.frombytes(pixels.data)
    msg.data = data
    return msg


def compressed_msg_from_bgr(bgr: np.ndarray, header: Optional[Header] = None,
                            quality: int = 90) -> CompressedImage:
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot JPEG-encode an image of shape {bgr.shape}")
    return CompressedImage(header=header or Header(), format="jpeg", data=encoded.tobytes())


def scale_box_xywh(box_xywh: Sequence[float], from_wh: tuple[int, int],
                   to_wh: tuple[int, int]) -> tuple[float, float, float, float]:
    """A box drawn on an image of size ``from_wh`` expressed in pixels of one of ``to_wh``."""
    sx, sy = to_wh[0] / from_wh[0], to_wh[1] / from_wh[1]
    x, y, w, h = (float(v) for v in box_xywh)
    return x * sx, y * sy, w * sx, h * sy


def detection_from_box_xywh(header: Header, box_xywh: Sequence[float], score: float,
                            track_id: str, class_id: str) -> Detection2D:
    cx, cy, w, h = (float(v) for v in xywh_to_cxcywh(box_xywh))
    det = Detection2D(header=header, id=track_id)
    det.bbox.center.position.x, det.bbox.center.position.y = cx, cy
    det.bbox.size_x, det.bbox.size_y = w, h
    hypothesis = ObjectHypothesisWithPose()
    hypothesis.hypothesis.class_id = class_id
    hypothesis.hypothesis.score = float(score)
    det.results.append(hypothesis)
    return det


def detection_array_from_result(header: Header, result: Optional[TrackResult], track_id: str,
                                class_id: str) -> Detection2DArray:
    """Detections of one image: the target while it is tracked, otherwise none."""
    out = Detection2DArray(header=header)
    if result is not None and result.state in ON_TARGET_STATES:
        out.detections.append(detection_from_box_xywh(header, result.box_xywh, result.score,
                                                      track_id, class_id))
    return out


def box_xywh_from_detection(det: Detection2D) -> tuple[float, float, float, float]:
    b = det.bbox
    x, y, w, h = (float(v) for v in cxcywh_to_xywh(
        [b.center.position.x, b.center.position.y, b.size_x, b.size_y]))
    return x, y, w, h
