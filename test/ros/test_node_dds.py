"""fartrack_node in its own process, driven over DDS from this process: images in, services,
Detection2DArray / status / debug image out; every bad input gets its error and the node keeps
answering. Random weights with lost_threshold 0, so every tracked frame yields a detection
(the boxes are meaningless; test_node_follows.py checks tracking quality with real weights).
"""
from __future__ import annotations

# First: skips this module where ROS is missing; fixtures come from here too.
from ros_harness import (DOMAIN_ID, NodeProcess, random_weights,  # noqa: F401 (fixtures)
                         set_parameter, unique_namespace)

import math
import threading
import time

import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D

from fartrack_ros.msg import TrackStatus
from fartrack_ros.ros.tools.camera import SyntheticScene
from fartrack_ros.ros.tools.client import TrackerClient
from fartrack_ros.ros.conversions import image_msg_from_array, ns_to_stamp, stamp_to_ns


SIZE = (320, 240)
RATE_HZ = 15.0


@pytest.fixture(scope="module")
def scene():
    return SyntheticScene(SIZE, seed=3)


@pytest.fixture(scope="module")
def running(random_weights, tmp_path_factory):
    namespace = unique_namespace()
    node = NodeProcess(namespace, {"weights": random_weights, "lost_threshold": 0.0,
                                   "threads": 1, "frame_history": 10},
                       tmp_path_factory.mktemp("node") / "node.log")
    client = TrackerClient(node.fqn, image_topic=f"{namespace}/image", domain_id=DOMAIN_ID,
                           subscribe_debug_image=True)
    try:
        assert client.wait_for_node(60), \
            f"node did not come up:\n{node.output()}\n{client.discovery_report()}"
        yield node, client
    finally:
        client.close()
        node.stop()


class Publisher:
    """Publishes scene frames with fresh stamps at a fixed rate; remembers index -> stamp."""

    def __init__(self, client: TrackerClient, scene: SyntheticScene) -> None:
        self.client, self.scene = client, scene
        self.next_index = 0
        self.stamps: dict[int, int] = {}

    def publish(self, count: int, rate: float = RATE_HZ) -> list[int]:
        stamps = []
        for _ in range(count):
            i = self.next_index
            stamp_ns = self.client.now_ns()
            header = Header(stamp=ns_to_stamp(stamp_ns), frame_id="camera")
            self.client.publish_image(image_msg_from_array(self.scene.frame_bgr(i), "bgr8", header))
            self.stamps[i] = stamp_ns
            stamps.append(stamp_ns)
            self.next_index += 1
            time.sleep(1.0 / rate)
        return stamps


def start_tracking(client: TrackerClient, scene: SyntheticScene) -> Publisher:
    """Publish one frame and set the target on it; returns the publisher for more frames."""
    pub = Publisher(client, scene)
    pub.publish(1)
    time.sleep(0.1)
    assert client.set_target(scene.box_xywh(pub.next_index - 1)).success
    return pub


def publish_raw(client: TrackerClient, **fields) -> int:
    stamp_ns = client.now_ns()
    msg = Image(header=Header(stamp=ns_to_stamp(stamp_ns), frame_id="camera"), **fields)
    client.publish_image(msg)
    return stamp_ns


def latest_status_after(client: TrackerClient, since_ns: int, timeout: float = 5.0) -> TrackStatus:
    def fresh():
        return [r.message for r in client.snapshot("statuses") if r.received_ns > since_ns]
    assert client.wait_for(lambda: fresh(), timeout), "no status message"
    return fresh()[-1]


def wait_for_detection(client: TrackerClient, stamp_ns: int, timeout: float = 10.0):
    assert client.wait_for(lambda: stamp_ns in client.detections_by_stamp(), timeout), \
        f"no Detection2DArray for the image stamped {stamp_ns}"
    return client.detections_by_stamp()[stamp_ns]


# ---------------------------------------------------------------------------------- tests
# The module's tests share one node and run in file order; each one leaves it answering.

def test_discovery_report_names_the_node_and_its_services(running):
    node, client = running
    report = client.discovery_report()
    assert node.fqn in report.splitlines()[0]
    served = report.splitlines()[1]
    assert f"{node.fqn}/set_target" in served and f"{node.fqn}/stop" in served
    assert "set_target ready: True, stop ready: True" in report


def test_set_target_before_any_image_is_refused(running):
    node, client = running
    response = client.set_target((10, 10, 40, 30))
    assert not response.success
    assert "no image received yet" in response.message and node.namespace in response.message


def test_detections_carry_image_stamps_and_the_target(running, scene):
    node, client = running
    pub = Publisher(client, scene)
    pub.publish(1)          # warm-up: a best-effort reader can miss the first frame after matching
    time.sleep(0.3)
    first = pub.publish(3)
    response = client.set_target(scene.box_xywh(1), stamp_ns=first[0])
    assert response.success, response.message
    assert response.initialized_on_stamped_frame
    assert stamp_to_ns(response.frame_stamp) == first[0]
    assert (response.x, response.y, response.width, response.height) == scene.box_xywh(1)
    track_id = response.track_id
    assert track_id

    later = pub.publish(30)
    wait_for_detection(client, later[-1])
    by_stamp = client.detections_by_stamp()
    published = set(pub.stamps.values())
    assert set(by_stamp) <= published, "a detection carries a stamp no image had"
    after_init = [by_stamp[s] for s in later if s in by_stamp]
    # throughput depends on load (the node drops, never queues); a few must be answered
    assert len(after_init) >= 3, f"only {len(after_init)} of {len(later)} processed"
    width, height = SIZE
    for array in after_init:
        assert array.header.frame_id == "camera"
        assert len(array.detections) == 1
        det = array.detections[0]
        assert det.id == track_id and stamp_to_ns(det.header.stamp) == stamp_to_ns(array.header.stamp)
        assert det.results[0].hypothesis.class_id == "target"
        assert 0.0 <= det.results[0].hypothesis.score <= 1.0
        cx, cy = det.bbox.center.position.x, det.bbox.center.position.y
        assert 0 <= cx <= width and 0 <= cy <= height and det.bbox.size_x >= 10

    status = latest_status_after(client, 0)
    assert status.state == TrackStatus.STATE_TRACKING and status.state_name == "tracking"
    assert status.track_id == track_id
    assert status.frames_processed >= len(after_init)
    assert status.processed_fps > 0 and 0 < status.latency_ms_p50 <= status.latency_ms_p95


def test_stamp_no_longer_held_falls_back_to_newest_frame(running, scene):
    node, client = running
    pub = Publisher(client, scene)
    stamps = pub.publish(12)          # frame_history is 10: the first two are gone
    time.sleep(0.2)
    response = client.set_target((50, 60, 40, 30), stamp_ns=stamps[0])
    assert response.success, response.message
    assert not response.initialized_on_stamped_frame
    assert stamp_to_ns(response.frame_stamp) == stamps[-1]
    assert "not among the last 10" in response.message


def test_box_in_other_image_size_is_scaled(running, scene):
    node, client = running
    Publisher(client, scene).publish(1)
    time.sleep(0.2)
    response = client.set_target((20, 30, 40, 50), image_wh=(SIZE[0] * 2, SIZE[1] * 2))
    assert response.success, response.message
    assert (response.x, response.y, response.width, response.height) == (10, 15, 20, 25)
    bad = client.set_target((20, 30, 40, 50), image_wh=(SIZE[0], 0))
    assert not bad.success and "both be 0" in bad.message


@pytest.mark.parametrize("box, reason", [
    ((1000, 1000, 20, 20), "outside"),
    ((-50, -50, 20, 20), "outside"),
    ((10, 10, 0, 20), "zero or negative size"),
    ((10, 10, 20, -5), "zero or negative size"),
    ((math.nan, 10, 20, 20), "non-finite"),
])
def test_bad_boxes_are_refused_and_the_node_keeps_answering(running, scene, box, reason):
    node, client = running
    Publisher(client, scene).publish(1)
    time.sleep(0.1)
    response = client.set_target(box)
    assert not response.success and reason in response.message, response.message
    good = client.set_target(scene.box_xywh(0))
    assert good.success, good.message
    assert node.is_running()


@pytest.mark.parametrize("fields, reason", [
    (dict(height=24, width=32, encoding="yuv422", step=64, data=bytes(64 * 24)),
     "unsupported image encoding 'yuv422'"),
    (dict(height=24, width=32, encoding="bgr8", step=96, data=bytes(96 * 24 - 5)),
     "image data has 2299 bytes, but step*height = 96*24 = 2304"),
    (dict(height=24, width=32, encoding="rgb8", step=50, data=bytes(50 * 24)),
     "step 50 is smaller than width*channels = 96"),
    (dict(height=0, width=0, encoding="mono8", step=0, data=b""), "no pixels"),
])
def test_bad_images_are_rejected_with_their_reason(running, scene, fields, reason):
    node, client = running
    before = client.now_ns()
    bad_stamp = publish_raw(client, **fields)
    assert client.wait_for(lambda: any(reason in r.message.last_error for r in client.snapshot("statuses")
                                       if r.received_ns > before), 5.0), \
        f"no status naming {reason!r}"
    assert bad_stamp not in client.detections_by_stamp()
    status = latest_status_after(client, before)
    assert status.frames_rejected >= 1
    good = Publisher(client, scene).publish(1)
    wait_for_detection(client, good[0])                       # still processing frames


def test_all_supported_encodings_are_tracked(running, scene):
    node, client = running
    import cv2
    assert client.set_target(scene.box_xywh(0)).success
    bgr = scene.frame_bgr(1)
    variants = {"rgb8": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), "mono8": cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY),
                "bgra8": cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA), "rgba8": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA)}
    for encoding, pixels in variants.items():
        stamp_ns = client.now_ns()
        client.publish_image(image_msg_from_array(pixels, encoding,
                                                  Header(stamp=ns_to_stamp(stamp_ns), frame_id="camera")))
        array = wait_for_detection(client, stamp_ns)
        assert len(array.detections) == 1, encoding


def test_frame_size_change_mid_stream_drops_the_target(running, scene):
    node, client = running
    _camera = start_tracking(client, scene)     # held: the publisher lives as long as the test
    before = client.now_ns()
    small = SyntheticScene((160, 120), seed=1).frame_bgr(0)
    stamp_ns = client.now_ns()
    client.publish_image(image_msg_from_array(small, "bgr8", Header(stamp=ns_to_stamp(stamp_ns))))
    array = wait_for_detection(client, stamp_ns)
    assert array.detections == []
    status = latest_status_after(client, before)
    assert "image size changed from 320x240 to 160x120" in status.last_error
    assert status.state == TrackStatus.STATE_IDLE


def test_stop_service_ends_tracking(running, scene):
    node, client = running
    pub = start_tracking(client, scene)
    response = client.stop()
    assert response.success and "stopped tracking target" in response.message
    stamps = pub.publish(3)
    assert wait_for_detection(client, stamps[-1]).detections == []
    assert client.stop().message == "no target was being tracked"


def test_target_topic_sets_a_new_target(running, scene):
    node, client = running
    pub = Publisher(client, scene)
    stamps = pub.publish(2)
    x, y, w, h = scene.box_xywh(pub.next_index - 1)
    det = Detection2D(header=Header(stamp=ns_to_stamp(stamps[-1])))
    det.bbox.center.position.x, det.bbox.center.position.y = x + w / 2, y + h / 2
    det.bbox.size_x, det.bbox.size_y = float(w), float(h)
    publisher = client.node.create_publisher(Detection2D, f"{node.fqn}/target", 10)
    assert client.wait_for(lambda: publisher.get_subscription_count() > 0, 10)
    previous = latest_status_after(client, 0).track_id
    publisher.publish(det)
    # the target and the images travel on different topics, so the next image may reach the
    # node before the target does: publish until a frame is tracked (or give up after 20)
    for _ in range(20):
        stamp = pub.publish(1)[-1]
        if wait_for_detection(client, stamp).detections:
            break
    status = latest_status_after(client, client.now_ns() - 10**8)
    assert status.state == TrackStatus.STATE_TRACKING
    assert status.track_id not in ("", previous)


def test_debug_image_is_the_annotated_frame(running, scene):
    node, client = running
    stamps = Publisher(client, scene).publish(3)
    assert client.wait_for(lambda: any(stamp_to_ns(r.message.header.stamp) in stamps
                                       for r in client.snapshot("debug_images")), 5.0)
    image = [r.message for r in client.snapshot("debug_images")
             if stamp_to_ns(r.message.header.stamp) in stamps][-1]
    assert (image.width, image.height, image.encoding) == (SIZE[0], SIZE[1], "bgr8")
    pixels = np.frombuffer(image.data, np.uint8).reshape(SIZE[1], SIZE[0], 3)
    assert not np.array_equal(pixels, scene.frame_bgr(0))      # text / box drawn on it


@pytest.mark.parametrize("name, value, reason", [
    ("lost_threshold", 2.0, "lost_threshold"),
    ("variant", "huge", "'huge' is not one of ['tiny', 'nano', 'pico']"),
    ("device", "tpu", "'tpu' is not one of"),
    ("backend", "magic", "'magic' is not 'auto' or one of"),
    ("threads", -1, "threads"),
    ("qos_depth", 5, "read-only"),
    ("image_topic", "other", "read-only"),
    ("weights", "/nonexistent/w.safetensors", "/nonexistent/w.safetensors"),
])
def test_bad_parameter_values_are_rejected_with_a_reason(running, name, value, reason):
    node, client = running
    result = set_parameter(client, name, value)
    assert not result.successful
    assert reason in result.reason, result.reason
    assert node.is_running()


def test_corrupt_weights_parameter_is_rejected_naming_the_file(running, tmp_path):
    node, client = running
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00" * 100)
    result = set_parameter(client, "weights", str(corrupt))
    assert not result.successful
    assert str(corrupt) in result.reason and "corrupt" in result.reason


def test_runtime_parameters_apply(running, scene):
    node, client = running
    assert set_parameter(client, "class_id", "person").successful
    assert client.set_target(scene.box_xywh(0)).success
    stamps = Publisher(client, scene).publish(2)
    array = wait_for_detection(client, stamps[-1])
    assert array.detections[0].results[0].hypothesis.class_id == "person"
    assert set_parameter(client, "lost_threshold", 1.0).successful   # every score counts as lost
    # the tracker may wait a few frames below the threshold before it says lost (hysteresis)
    pub = Publisher(client, scene)
    for _ in range(20):
        stamps = pub.publish(1)
        if wait_for_detection(client, stamps[-1]).detections == []:
            break
    assert wait_for_detection(client, stamps[-1]).detections == []
    assert latest_status_after(client, client.now_ns() - 10**8).state_name == "lost"
    assert set_parameter(client, "lost_threshold", 0.0).successful


def test_services_answer_while_frames_stream(running, scene):
    """The executor stays free while the worker tracks: service calls answer mid-stream."""
    node, client = running
    assert client.set_target(scene.box_xywh(0)).success
    pub = Publisher(client, scene)
    streamer = threading.Thread(target=pub.publish, args=(30, 30.0))
    streamer.start()
    try:
        for _ in range(3):
            started = time.monotonic()
            response = client.set_target(scene.box_xywh(0))
            assert response.success
            assert time.monotonic() - started < 2.0
    finally:
        streamer.join()
    assert node.is_running()
