"""Start-up of fartrack_node: bad weights keep it alive with a clear error (and a parameter
change recovers it), bad parameter files stop it with a message naming the problem, CUDA
requested without CUDA falls back to cpu, CompressedImage input, the CMake-installed launcher.
"""
from __future__ import annotations

# First: skips this module where ROS is missing; fixtures come from here too.
from ros_harness import (DOMAIN_ID, random_weights, set_parameter,  # noqa: F401 (fixtures)
                         start_node)

from pathlib import Path

import pytest
from std_msgs.msg import Header

from fartrack_ros.msg import TrackStatus
from fartrack_ros.ros.tools.camera import SyntheticScene
from fartrack_ros.ros.tools.client import TrackerClient
from fartrack_ros.ros.conversions import compressed_msg_from_bgr, ns_to_stamp, stamp_to_ns


def error_status(client: TrackerClient) -> TrackStatus:
    assert client.wait_for(lambda: client.latest_status() is not None, 15.0), "no status"
    return client.latest_status()


def test_missing_weights_keep_the_node_alive_and_a_parameter_change_recovers(
        start_node, random_weights, tmp_path):
    missing = tmp_path / "no_such_weights.safetensors"
    node = start_node({"weights": str(missing), "compressed": True, "lost_threshold": 0.0,
                       "threads": 1})
    client = TrackerClient(node.fqn, domain_id=DOMAIN_ID)
    try:
        assert client.wait_for_node(60), f"{node.output()}\n{client.discovery_report()}"
        status = error_status(client)
        assert status.state == TrackStatus.STATE_ERROR and status.state_name == "error"
        assert str(missing) in status.last_error and "not found" in status.last_error
        response = client.set_target((10, 10, 30, 30))
        assert not response.success and str(missing) in response.message
        assert str(missing) in node.output()                        # logged at start-up

        assert set_parameter(client, "weights", random_weights).successful
        scene = SyntheticScene((320, 240), seed=2)
        publisher = client.node.create_publisher(
            type(compressed_msg_from_bgr(scene.frame_bgr(0))), f"{node.namespace}/image/compressed", 1)
        assert client.wait_for(lambda: publisher.get_subscription_count() > 0, 10)

        def send(index):
            stamp_ns = client.now_ns()
            publisher.publish(compressed_msg_from_bgr(scene.frame_bgr(index),
                                                      Header(stamp=ns_to_stamp(stamp_ns))))
            return stamp_ns

        # best effort: the first frame after matching can be missed, so send one before each try
        assert client.wait_for(lambda: send(0) and client.set_target(scene.box_xywh(0)).success,
                               10.0, poll=0.2)
        stamp_ns = send(1)
        assert client.wait_for(lambda: stamp_ns in client.detections_by_stamp(), 10.0)
        array = client.detections_by_stamp()[stamp_ns]
        assert len(array.detections) == 1 and stamp_to_ns(array.header.stamp) == stamp_ns

        publisher.publish(type(compressed_msg_from_bgr(scene.frame_bgr(0)))(
            format="jpeg", data=b"not a jpeg"))
        assert client.wait_for(lambda: "cannot decode compressed image" in
                               client.latest_status().last_error, 5.0)
    finally:
        client.close()
    assert node.stop() == 0


def test_corrupt_weights_are_reported_naming_the_file(start_node, tmp_path):
    import torch

    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"garbage" * 10)
    node = start_node({"weights": str(corrupt), "device": "cuda"})
    client = TrackerClient(node.fqn, domain_id=DOMAIN_ID)
    try:
        assert client.wait_for_node(60), f"{node.output()}\n{client.discovery_report()}"
        status = error_status(client)
        assert str(corrupt) in status.last_error and "corrupt" in status.last_error
        if not torch.cuda.is_available():
            assert "CUDA is not available; falling back to cpu" in node.output()
    finally:
        client.close()


@pytest.mark.parametrize("yaml_text, message", [
    ("/**:\n  ros__parameters:\n    varient: nano\n", "unknown parameter(s) ['varient']"),
    ("/**:\n  ros__parameters:\n    variant: huge\n", "'huge' is not one of"),
    ("/**:\n  ros__parameters:\n    qos_reliability: sometimes\n", "'sometimes' is not one of"),
    ("/**:\n  ros__parameters:\n    lost_threshold: 3.5\n", "lost_threshold"),
])
def test_bad_parameter_files_stop_the_node_with_the_reason(start_node, tmp_path, yaml_text, message):
    params = tmp_path / "params.yaml"
    params.write_text(yaml_text)
    node = start_node({}, extra_args=("--params-file", str(params)))
    assert node.wait(60) == 2
    assert message in node.output()


def test_cmake_installed_launcher_runs_the_node(start_node):
    from ament_index_python.packages import get_package_prefix

    launcher = Path(get_package_prefix("fartrack_ros")) / "lib" / "fartrack_ros" / "fartrack_node"
    assert launcher.is_file(), f"{launcher} missing: run `make env`"
    node = start_node({"variant": "huge"}, executable=(str(launcher),))
    assert node.wait(60) == 2
    assert "'huge' is not one of" in node.output()
