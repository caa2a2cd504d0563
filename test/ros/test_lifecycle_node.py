"""The managed (lifecycle) fartrack_node, driven from a client node through the standard
lifecycle services (<node>/change_state, <node>/get_state) over DDS: configure -> activate ->
tracking -> deactivate (no output, model kept) -> activate again -> cleanup -> a configure that
fails goes through error processing back to unconfigured with its reason; autostart.
"""
from __future__ import annotations

# First: skips this module where ROS is missing; fixtures come from here too.
from ros_harness import (DOMAIN_ID, random_weights, set_parameter,  # noqa: F401 (fixtures)
                         start_node)

import sys
import threading

from diagnostic_msgs.msg import DiagnosticArray
from std_msgs.msg import Header

from fartrack_ros.ros.conversions import image_msg_from_array, ns_to_stamp
from fartrack_ros.ros.tools.camera import SyntheticScene
from fartrack_ros.ros.tools.client import TrackerClient

LIFECYCLE_NODE = (sys.executable, "-m", "fartrack_ros.ros.lifecycle_node")
SIZE = (320, 240)


class Diagnostics:
    """The node's latest /diagnostics status (by its name), as a dict of values."""

    def __init__(self, fqn: str) -> None:
        self.name = f"{fqn}: tracker"
        self.lock = threading.Lock()
        self.latest = None

    def subscription(self):
        return (DiagnosticArray, "/diagnostics", self.on_message, 10)

    def on_message(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == self.name:
                with self.lock:
                    self.latest = status

    def matches(self, **expected) -> bool:
        with self.lock:
            status = self.latest
        if status is None:
            return False
        values = {kv.key: kv.value for kv in status.values} | {"message": status.message}
        return all(check(values.get(key, "")) if callable(check) else values.get(key) == check
                   for key, check in expected.items())


class Camera:
    """Frames of a generated scene, published by the client with fresh stamps."""

    def __init__(self, client: TrackerClient) -> None:
        self.client, self.scene, self.index = client, SyntheticScene(SIZE, seed=4), 0

    def send(self) -> int:
        stamp_ns = self.client.now_ns()
        self.client.publish_image(image_msg_from_array(
            self.scene.frame_bgr(self.index), "bgr8", Header(stamp=ns_to_stamp(stamp_ns),
                                                             frame_id="camera")))
        self.index += 1
        return stamp_ns

    def start_tracking(self) -> str:
        """set_target on a frame the node holds (best effort: send one before each try); then a
        tracked frame must come back. Returns the track id."""
        client = self.client
        assert client.wait_for(lambda: client.image_publisher.get_subscription_count() > 0, 30)
        responses = []
        assert client.wait_for(lambda: self.send() and responses.append(
            client.set_target(self.scene.box_xywh(self.index - 1), timeout=60)) is None
            and responses[-1].success, 30.0, poll=0.3), responses[-1:]
        return self.expect_detection()

    def expect_detection(self) -> str:
        stamps = []

        def tracked():
            stamps.append(self.send())
            seen = self.client.detections_by_stamp()
            return any(s in seen and len(seen[s].detections) == 1 for s in stamps)
        assert self.client.wait_for(tracked, 30.0, poll=0.2), "no tracked frame came back"
        seen = self.client.detections_by_stamp()
        return next(seen[s].detections[0].id for s in stamps if s in seen and seen[s].detections)


def test_transitions_through_the_standard_lifecycle_services(start_node, random_weights, tmp_path):
    node = start_node({"weights": random_weights, "camera_info_topic": "none"},
                      executable=LIFECYCLE_NODE)
    diagnostics = Diagnostics(node.fqn)
    client = TrackerClient(node.fqn, image_topic=f"{node.namespace}/image", domain_id=DOMAIN_ID,
                           extra_subscriptions=(diagnostics.subscription(),))
    camera = Camera(client)
    try:
        assert client.wait_for_lifecycle(60), f"{node.output()}\n{client.discovery_report()}"
        assert client.lifecycle_state() == "unconfigured"
        assert client.wait_for(lambda: diagnostics.matches(
            lifecycle_state="unconfigured", state="idle", model="not loaded"), 15), node.output()
        refused = client.set_target((10, 10, 40, 40))
        assert not refused.success and "unconfigured, not active" in refused.message

        # configure: the model is loaded; inactive: nothing subscribed yet
        assert client.change_state("configure"), node.output()
        assert client.lifecycle_state() == "inactive"
        assert client.wait_for(lambda: diagnostics.matches(
            lifecycle_state="inactive", model=lambda m: "pico" in m), 15), node.output()
        assert client.image_publisher.get_subscription_count() == 0

        # activate: subscribed, tracking works
        assert client.change_state("activate"), node.output()
        assert client.lifecycle_state() == "active"
        first_id = camera.start_tracking()
        assert client.wait_for(lambda: diagnostics.matches(lifecycle_state="active"), 15)

        # deactivate: unsubscribed, no output, services refuse with the state; model kept
        assert client.change_state("deactivate"), node.output()
        assert client.lifecycle_state() == "inactive"
        assert client.wait_for(lambda: client.image_publisher.get_subscription_count() == 0, 30)
        outputs = len(client.snapshot("detections")), len(client.snapshot("statuses"))
        unseen = [camera.send() for _ in range(5)]
        refused = client.set_target((10, 10, 40, 40))
        assert not refused.success and "inactive, not active" in refused.message
        assert client.wait_for(lambda: diagnostics.matches(
            lifecycle_state="inactive", model=lambda m: "pico" in m), 15)
        assert (len(client.snapshot("detections")), len(client.snapshot("statuses"))) == outputs
        assert not set(unseen) & set(client.detections_by_stamp())

        # activate again: no model load, tracking works with a new track id
        assert client.change_state("activate"), node.output()
        assert camera.start_tracking() != first_id

        # deactivate, cleanup: the model is freed
        assert client.change_state("deactivate") and client.change_state("cleanup"), node.output()
        assert client.lifecycle_state() == "unconfigured"
        assert client.wait_for(lambda: diagnostics.matches(
            lifecycle_state="unconfigured", model="not loaded"), 15), node.output()

        # a configure that fails: error processing, back to unconfigured, the reason everywhere
        missing = tmp_path / "no_such_weights.safetensors"
        assert set_parameter(client, "weights", str(missing)).successful     # not loaded yet
        assert not client.change_state("configure")
        assert client.lifecycle_state() == "unconfigured"
        assert client.wait_for(lambda: diagnostics.matches(
            message=lambda m: "configure failed" in m and str(missing) in m), 15), node.output()
        refused = client.set_target((10, 10, 40, 40))
        assert not refused.success and str(missing) in refused.message
        assert client.wait_for(lambda: "configure failed: model not loaded" in node.output()
                               and "error processing" in node.output(), 10), node.output()

        # a corrected parameter and configure again: working
        assert set_parameter(client, "weights", random_weights).successful
        assert client.change_state("configure") and client.change_state("activate"), node.output()
        camera.start_tracking()
        assert client.change_state("shutdown")
        assert client.lifecycle_state() == "finalized"
    finally:
        client.close()
    assert node.stop() == 0, node.output()


def test_autostart_configures_and_activates(start_node, random_weights):
    node = start_node({"weights": random_weights, "autostart": True, "camera_info_topic": "none"},
                      executable=LIFECYCLE_NODE)
    client = TrackerClient(node.fqn, image_topic=f"{node.namespace}/image", domain_id=DOMAIN_ID)
    try:
        assert client.wait_for_lifecycle(60), f"{node.output()}\n{client.discovery_report()}"
        # the node answers get_state once autostart's configure (the model load) is done
        assert client.wait_for(lambda: client.lifecycle_state(timeout=120) == "active", 120), \
            node.output()
        Camera(client).start_tracking()
    finally:
        client.close()
    assert node.stop() == 0, node.output()


def test_autostart_with_missing_weights_stays_unconfigured_and_says_why(start_node, tmp_path):
    missing = tmp_path / "missing.safetensors"
    node = start_node({"weights": str(missing), "autostart": True}, executable=LIFECYCLE_NODE)
    client = TrackerClient(node.fqn, domain_id=DOMAIN_ID)
    try:
        assert client.wait_for_lifecycle(60), f"{node.output()}\n{client.discovery_report()}"
        assert client.lifecycle_state(timeout=120) == "unconfigured"
        refused = client.set_target((10, 10, 40, 40), timeout=60)
        assert not refused.success and "configure failed" in refused.message
        assert str(missing) in refused.message
    finally:
        client.close()
    assert node.stop() == 0, node.output()


def test_a_bad_parameter_value_stops_the_managed_node_at_start(start_node):
    node = start_node({"autostart": 3}, executable=LIFECYCLE_NODE)
    assert node.wait(60) == 2
    assert "autostart" in node.output()
