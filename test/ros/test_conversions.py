"""Message <-> array conversions, the frame hand-off, the running figures, the interfaces'
type hashes. In-process, no DDS."""
from __future__ import annotations

# First: skips this module where ROS is missing; fixtures come from here too.
import ros_harness  # noqa: F401

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from fartrack_ros.core.types import LOST, REACQUIRED, TRACKING, TrackResult
from fartrack_ros.ros.conversions import (IMAGE_ENCODINGS, box_xywh_from_detection,
                                          compressed_msg_from_bgr, compressed_msg_to_rgb,
                                          detection_array_from_result, image_msg_from_array,
                                          image_msg_to_rgb, ns_to_stamp, scale_box_xywh,
                                          stamp_to_ns)
from fartrack_ros.ros.frames import FrameExchange, FrameHistory, LatestFrameSlot, ReceivedFrame
from fartrack_ros.ros.stats import LatencyWindow, RateMeter, percentiles_ms


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)


def encoded(rgb: np.ndarray, encoding: str) -> np.ndarray:
    return {"rgb8": rgb, "bgr8": rgb[..., ::-1], "8UC3": rgb[..., ::-1],
            "rgba8": np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)]),
            "bgra8": np.dstack([rgb[..., ::-1], np.full(rgb.shape[:2], 7, np.uint8)]),
            "8UC4": np.dstack([rgb[..., ::-1], np.full(rgb.shape[:2], 7, np.uint8)])}[encoding]


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "8UC3", "8UC4"])
def test_colour_encodings_decode_to_the_same_rgb(rgb, encoding):
    out = image_msg_to_rgb(image_msg_from_array(encoded(rgb, encoding), encoding))
    assert out.dtype == np.uint8 and out.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_mono_decodes_to_grey_rgb(encoding):
    grey = np.arange(35, dtype=np.uint8).reshape(7, 5)
    out = image_msg_to_rgb(image_msg_from_array(grey, encoding))
    assert out.shape == (7, 5, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)


def test_row_padding_is_ignored(rgb):
    padded = np.zeros((7, 5 * 3 + 4), np.uint8)
    padded[:, :15] = rgb.reshape(7, 15)
    msg = Image(height=7, width=5, encoding="rgb8", step=19, data=padded.tobytes())
    np.testing.assert_array_equal(image_msg_to_rgb(msg), rgb)


def test_every_listed_encoding_has_a_decoder():
    assert {"bgr8", "rgb8", "mono8", "bgra8", "rgba8"} <= set(IMAGE_ENCODINGS)


@pytest.mark.parametrize("msg, message", [
    (Image(height=2, width=2, encoding="16UC1", step=4, data=bytes(8)), "unsupported image encoding '16UC1'"),
    (Image(height=2, width=2, encoding="bgr8", step=6, data=bytes(11)), "11 bytes, but step*height = 6*2 = 12"),
    (Image(height=2, width=2, encoding="bgr8", step=6, data=bytes(13)), "13 bytes"),
    (Image(height=2, width=3, encoding="bgr8", step=6, data=bytes(12)), "smaller than width*channels = 9"),
    (Image(height=0, width=3, encoding="bgr8", step=9, data=b""), "no pixels"),
])
def test_bad_images_raise_value_error_naming_the_problem(msg, message):
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        image_msg_to_rgb(msg)


def test_compressed_round_trip_and_errors():
    yy, xx = np.mgrid[0:48, 0:64]
    bgr = np.dstack([xx * 4, yy * 5, np.full_like(xx, 200)]).astype(np.uint8)   # smooth, B != R
    out = compressed_msg_to_rgb(compressed_msg_from_bgr(bgr, quality=95))
    assert out.shape == (48, 64, 3)
    assert np.abs(out.astype(int) - bgr[..., ::-1].astype(int)).mean() < 3   # JPEG loss only
    with pytest.raises(ValueError, match="cannot decode compressed image"):
        compressed_msg_to_rgb(CompressedImage(format="jpeg", data=b"nope"))
    with pytest.raises(ValueError, match="has no data"):
        compressed_msg_to_rgb(CompressedImage(format="png"))


def test_stamp_conversion_round_trips():
    for ns in (0, 1, 999_999_999, 1_700_000_000_123_456_789):
        assert stamp_to_ns(ns_to_stamp(ns)) == ns
    assert ns_to_stamp(1_500_000_000).sec == 1 and ns_to_stamp(1_500_000_000).nanosec == 500_000_000


def test_detection_array_holds_center_size_score_id_and_header():
    header = Header(stamp=ns_to_stamp(123_000_000_456), frame_id="cam")
    array = detection_array_from_result(header, TrackResult((10.0, 20.0, 30.0, 40.0), 0.75, TRACKING, 3),
                                        "7", "person")
    assert array.header.frame_id == "cam" and stamp_to_ns(array.header.stamp) == 123_000_000_456
    (det,) = array.detections
    assert (det.bbox.center.position.x, det.bbox.center.position.y) == (25.0, 40.0)
    assert (det.bbox.size_x, det.bbox.size_y) == (30.0, 40.0)
    assert det.id == "7" and det.header.frame_id == "cam"
    assert det.results[0].hypothesis.class_id == "person" and det.results[0].hypothesis.score == 0.75
    assert box_xywh_from_detection(det) == (10.0, 20.0, 30.0, 40.0)


def test_a_reacquired_frame_is_published_like_a_tracked_one():
    header = Header(frame_id="cam")
    array = detection_array_from_result(header, TrackResult((1, 2, 3, 4), 0.6, REACQUIRED, 9), "2", "t")
    (det,) = array.detections
    assert det.id == "2" and det.results[0].hypothesis.score == pytest.approx(0.6)


def test_no_detection_when_lost_or_idle():
    header = Header(frame_id="cam")
    assert detection_array_from_result(header, TrackResult((1, 2, 3, 4), 0.1, LOST, 1), "1", "t").detections == []
    assert detection_array_from_result(header, None, "", "t").detections == []


def test_scale_box_between_image_sizes():
    assert scale_box_xywh((10, 20, 30, 40), (200, 100), (100, 50)) == (5, 10, 15, 20)
    assert scale_box_xywh((10, 20, 30, 40), (640, 480), (640, 480)) == (10, 20, 30, 40)


# ------------------------------------------------------------------------------ frame hand-off

def frame(stamp_ns: int) -> ReceivedFrame:
    return ReceivedFrame(message=stamp_ns, stamp_ns=stamp_ns, received_ns=stamp_ns + 1)


def test_latest_slot_keeps_the_newest_and_counts_the_replaced():
    slot = LatestFrameSlot()
    for s in (1, 2, 3):
        slot.put(frame(s))
    assert slot.take().stamp_ns == 3 and slot.take() is None
    assert (slot.received, slot.dropped) == (3, 2)
    slot.put(frame(4))
    assert slot.take().stamp_ns == 4 and slot.dropped == 2


def test_history_keeps_the_last_frames_by_stamp():
    history = FrameHistory(3)
    for s in range(1, 6):
        history.add(frame(s))
    assert len(history) == 3 and history.find(2) is None and history.find(3).stamp_ns == 3
    assert history.newest().stamp_ns == 5
    with pytest.raises(ValueError, match="capacity must be >= 1, got 0"):
        FrameHistory(0)


def test_exchange_finds_the_stamped_frame_or_falls_back_to_the_newest():
    exchange = FrameExchange(history=2)
    assert exchange.find(5) == (None, False)
    for s in (10, 20, 30):
        exchange.put_frame(frame(s))
    assert exchange.find(20)[0].stamp_ns == 20 and exchange.find(20)[1]
    assert exchange.find(10) == (exchange.find(0)[0], False)
    assert exchange.find(0)[0].stamp_ns == 30
    exchange.put_command("c1")
    commands, newest = exchange.wait(timeout=0.0)
    assert commands == ["c1"] and newest.stamp_ns == 30
    assert exchange.wait(timeout=0.01) == ([], None)
    assert exchange.counts() == (3, 2)


# ------------------------------------------------------------------------------ figures

def test_rate_meter_over_its_window():
    meter = RateMeter(window_s=1.0)
    assert meter.rate() == 0.0
    for i in range(31):                       # 30 intervals of 1/30 s
        meter.tick(int(i * 1e9 / 30))
    assert meter.rate() == pytest.approx(30.0)
    meter.tick(int(10e9))                     # a long pause empties the window
    assert meter.rate() == 0.0


def test_latency_percentiles():
    window = LatencyWindow(size=4)
    assert window.percentiles() == [None, None]
    for v in (100.0, 1.0, 2.0, 3.0, 4.0):     # 100 falls out of the window
        window.add(v)
    assert window.last_ms == 4.0
    assert window.percentiles() == pytest.approx([2.5, 3.85])
    assert percentiles_ms([5.0], (50, 95)) == [5.0, 5.0]
    assert not any(math.isnan(v) for v in percentiles_ms(range(100)))


# ------------------------------------------------------------------------------ interfaces

def share_dir(package: str) -> Path:
    from ament_index_python.packages import get_package_share_directory
    return Path(get_package_share_directory(package))


@pytest.mark.parametrize("name, expected", [
    ("Detection2D", "RIHS01_0d12b69df5c593b3455b7346fac8205437a7d4bcb09b9e0e0b2dde787ded38ea"),
    ("Detection2DArray", "RIHS01_214274120007f4a683866481336b70310268cfa107aebe9d594a6acf75bda968"),
])
def test_vision_msgs_type_hashes_equal_upstream(name, expected):
    """Same hash = the same wire type as upstream vision_msgs 4.1.1."""
    description = json.loads((share_dir("vision_msgs") / "msg" / f"{name}.json").read_text())
    assert description["type_hashes"][0]["hash_string"] == expected


def test_own_interfaces_are_generated():
    from fartrack_ros.msg import TrackStatus
    from fartrack_ros.srv import SetTarget

    request = SetTarget.Request()
    assert {"x", "y", "width", "height", "image_width", "image_height", "stamp"} <= set(
        request.get_fields_and_field_types())
    response_fields = set(SetTarget.Response.get_fields_and_field_types())
    assert {"success", "message", "initialized_on_stamped_frame", "frame_stamp", "track_id"} <= response_fields
    assert TrackStatus.STATE_LOST == 2
    assert (share_dir("fartrack_ros") / "srv" / "SetTarget.json").is_file()
