"""fartrack_follow (fartrack_ros.ros.follow): Twist from the tracker's bearing and box size.
The command law on its own, then the follower and the tracker as two processes with a
simulated camera whose target moves from the right of the image to the left."""
from __future__ import annotations

# First: skips this module where ROS is missing; fixtures come from here too.
from ros_harness import DOMAIN_ID, NodeProcess, default_weights, start_node  # noqa: F401 (fixtures)

import sys
import threading
import time

import pytest
from geometry_msgs.msg import Twist
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from fartrack_ros.ros.tools.camera import SyntheticScene
from fartrack_ros.ros.tools.client import TrackerClient
from fartrack_ros.ros.conversions import image_msg_from_array, ns_to_stamp
from fartrack_ros.ros.follow import FollowLimits, follow_command

LIMITS = FollowLimits(yaw_gain=2.0, max_yaw_rate=0.8, target_box_height=100.0, forward_gain=1.0,
                      max_forward=0.4, max_backward=0.1, timeout=0.5)


@pytest.mark.parametrize("state, valid, azimuth, height, age, expected", [
    ("tracking", True, 0.1, 100.0, 0.1, (0.0, -0.2)),       # right of the axis: turn right
    ("tracking", True, -0.1, 50.0, 0.1, (0.4, 0.2)),        # far (half size): forward, clamped
    ("tracking", True, 1.0, 200.0, 0.1, (-0.1, -0.8)),      # too close: back off, both clamped
    ("tracking", True, 0.0, 75.0, 0.1, (0.25, 0.0)),
    ("reacquired", True, 0.1, 100.0, 0.1, (0.0, -0.2)),     # re-locked this frame: steer as tracking
    ("lost", True, 0.1, 100.0, 0.1, (0.0, 0.0)),
    ("idle", False, 0.0, 0.0, 0.1, (0.0, 0.0)),
    ("tracking", False, 0.1, 100.0, 0.1, (0.0, 0.0)),       # no bearing (no CameraInfo)
    ("tracking", True, 0.1, 100.0, 0.6, (0.0, 0.0)),        # stale
    ("tracking", True, 0.1, 100.0, None, (0.0, 0.0)),
])
def test_follow_command(state, valid, azimuth, height, age, expected):
    forward, yaw = follow_command(state, valid, azimuth, height, age, LIMITS)
    assert (forward, yaw) == (pytest.approx(expected[0]), pytest.approx(expected[1]))


def test_follower_turns_towards_the_moving_target_and_stops(start_node, default_weights, tmp_path):
    size = (320, 240)
    tracker = start_node({"threads": 1})
    follower = NodeProcess(tracker.namespace, {"target_box_height": 80.0, "timeout": 1.0},
                           tmp_path / "follow.log",
                           executable=(sys.executable, "-m", "fartrack_ros.ros.follow"))
    lock, twists = threading.Lock(), []

    def on_twist(msg: Twist) -> None:
        with lock:
            twists.append((time.monotonic(), msg.linear.x, msg.angular.z))

    client = TrackerClient(tracker.fqn, image_topic=f"{tracker.namespace}/image", domain_id=DOMAIN_ID,
                           extra_subscriptions=[(Twist, f"{tracker.namespace}/cmd_vel", on_twist, 50)])
    statuses = []                      # (arrival, azimuth, bearing_valid)
    client.add_listener(lambda kind, msg: statuses.append(
        (time.monotonic(), msg.azimuth, msg.bearing_valid)) if kind == "statuses" else None)
    info_pub = client.node.create_publisher(CameraInfo, f"{tracker.namespace}/camera_info", 10)
    scene = SyntheticScene(size, seed=11)
    k = [250.0, 0.0, 160.0, 0.0, 250.0, 120.0, 0.0, 0.0, 1.0]
    try:
        assert client.wait_for_node(60), f"{tracker.output()}\n{client.discovery_report()}"
        assert client.wait_for(lambda: len(twists) > 0, 30), follower.output()
        assert all(t[1:] == (0.0, 0.0) for t in twists), "moving before a target is set"

        def publish(index):
            stamp_ns = client.now_ns()
            header = Header(stamp=ns_to_stamp(stamp_ns), frame_id="camera_optical")
            info_pub.publish(CameraInfo(header=header, width=size[0], height=size[1], k=k,
                                        distortion_model="plumb_bob", d=[0.0] * 5))
            client.publish_image(image_msg_from_array(scene.frame_bgr(index), "bgr8", header))
            return stamp_ns

        start = 60                       # right of the centre, moving left (period 150 frames)
        publish(start)
        time.sleep(0.3)
        first = publish(start)
        response = client.set_target(scene.box_xywh(start), stamp_ns=first)
        assert response.success, response.message
        streamed_from = time.monotonic()
        for index in range(start + 1, start + 71):
            publish(index)
            time.sleep(0.1)
        streamed_until = time.monotonic()
        time.sleep(2.5)                  # past the follower's timeout without frames
        with lock:
            seen = list(twists)
        agree = disagree = 0
        signs = set()
        for arrival, forward, yaw in seen:
            if not streamed_from + 0.5 < arrival < streamed_until:
                continue
            before = [s for s in statuses if s[0] < arrival - 0.05 and s[2]]
            if not before or abs(before[-1][1]) < 0.08 or yaw == 0.0:
                continue
            signs.add(yaw > 0)
            if (yaw < 0) == (before[-1][1] > 0):
                agree += 1
            else:
                disagree += 1
            assert abs(yaw) <= 1.0 + 1e-9 and 0.0 <= forward <= 0.5 + 1e-9
        assert agree >= 10 and disagree <= 0.2 * agree, (
            agree, disagree, sum(1 for s in statuses if s[2]), len(statuses),
            [t for t in seen if t[1:] != (0.0, 0.0)][:5], client.latest_status(), follower.output())
        assert signs == {True, False}, "the target crossed the image: both turn directions expected"
        assert any(f > 0 for _, f, _ in seen), "box smaller than target_box_height: forward expected"
        # stale: frames stopped -> zero
        tail = [t for t in seen if t[0] > streamed_until + 2.0]
        assert tail and all(t[1:] == (0.0, 0.0) for t in tail), tail[-5:]
        assert f"following {tracker.fqn}/status -> {tracker.namespace}/cmd_vel" in follower.output()
    finally:
        client.close()
        assert follower.stop() == 0


def test_cmake_installed_follow_launcher_refuses_bad_limits(start_node):
    from ament_index_python.packages import get_package_prefix

    from pathlib import Path

    launcher = Path(get_package_prefix("fartrack_ros")) / "lib" / "fartrack_ros" / "fartrack_follow"
    assert launcher.is_file(), f"{launcher} missing: run `make env`"
    node = start_node({"max_forward": -1.0}, executable=(str(launcher),))
    assert node.wait(60) == 2
    assert "max_forward must be >= 0, got -1.0" in node.output()
