"""/diagnostics (diagnostic_msgs/DiagnosticArray) from the node in its own process: the
standard status beside ~/status, with fps, drops, latency, model, device, state and last error."""
from __future__ import annotations

# First: skips this module where ROS is missing; fixtures come from here too.
from ros_harness import DOMAIN_ID, random_weights, start_node  # noqa: F401 (fixtures)

import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from std_msgs.msg import Header

from fartrack_ros.ros.tools.camera import SyntheticScene
from fartrack_ros.ros.tools.client import TrackerClient
from fartrack_ros.ros.conversions import image_msg_from_array, ns_to_stamp

KEYS = {"state", "track_id", "score", "processed_fps", "frames_received", "frames_processed",
        "frames_dropped", "frames_rejected", "latency_ms_p50", "latency_ms_p95", "processing_ms",
        "input_topic", "model", "device", "last_error"}


class DiagnosticsListener:
    def __init__(self, node_fqn: str) -> None:
        self.name = f"{node_fqn}: tracker"
        self.lock, self.statuses = threading.Lock(), []

    def subscription(self):
        return (DiagnosticArray, "/diagnostics", self._on_array, 50)

    def _on_array(self, array: DiagnosticArray) -> None:
        with self.lock:
            self.statuses += [s for s in array.status if s.name == self.name]

    def latest(self):
        with self.lock:
            return self.statuses[-1] if self.statuses else None

    def wait(self, client: TrackerClient, predicate, timeout: float = 15.0):
        assert client.wait_for(lambda: self.latest() is not None and predicate(self.latest()),
                               timeout), f"no such diagnostic status; last: {self.latest()}"
        return self.latest()


def values_of(status: DiagnosticStatus) -> dict:
    return {kv.key: kv.value for kv in status.values}


def test_diagnostics_report_state_rates_model_and_device(start_node, random_weights):
    node = start_node({"weights": random_weights, "lost_threshold": 0.0, "threads": 1})
    listener = DiagnosticsListener(node.fqn)
    client = TrackerClient(node.fqn, image_topic=f"{node.namespace}/image", domain_id=DOMAIN_ID,
                           extra_subscriptions=[listener.subscription()])
    try:
        assert client.wait_for_node(60), f"{node.output()}\n{client.discovery_report()}"
        status = listener.wait(client, lambda s: True)
        assert status.level == DiagnosticStatus.WARN
        assert status.message == f"no frame received yet on {node.namespace}/image"
        assert status.hardware_id == node.fqn
        values = values_of(status)
        assert KEYS <= set(values), sorted(KEYS - set(values))
        assert values["state"] == "idle" and values["device"] == "cpu"
        assert values["model"].startswith("pico on cpu, weights ") and random_weights in values["model"]

        scene = SyntheticScene((320, 240), seed=4)

        def publish(index):
            stamp_ns = client.now_ns()
            client.publish_image(image_msg_from_array(scene.frame_bgr(index), "bgr8",
                                                      Header(stamp=ns_to_stamp(stamp_ns))))
            return stamp_ns

        publish(0)
        assert client.wait_for(lambda: publish(0) and client.set_target(scene.box_xywh(0)).success,
                               10.0, poll=0.2)
        stop = threading.Event()

        def stream():
            index = 1
            while not stop.is_set():
                publish(index)
                index += 1
                time.sleep(1 / 15)
        streamer = threading.Thread(target=stream)
        streamer.start()
        try:
            status = listener.wait(client, lambda s: s.level == DiagnosticStatus.OK
                                   and values_of(s)["state"] == "tracking"
                                   and float(values_of(s)["latency_ms_p50"]) > 0)
        finally:
            stop.set()
            streamer.join()
        values = values_of(status)
        assert status.message.startswith("tracking target ") and " fps" in status.message
        assert int(values["frames_received"]) > 0 and int(values["frames_processed"]) > 0
        assert float(values["processed_fps"]) > 0 and values["track_id"]
        assert float(values["latency_ms_p95"]) >= float(values["latency_ms_p50"])
        # frames stopped: WARN once the input is stale
        status = listener.wait(client, lambda s: "no frame on" in s.message, timeout=10.0)
        assert status.level == DiagnosticStatus.WARN
    finally:
        client.close()


def test_diagnostics_report_a_missing_model_as_an_error(start_node, tmp_path):
    missing = tmp_path / "missing.safetensors"
    node = start_node({"weights": str(missing)})
    listener = DiagnosticsListener(node.fqn)
    client = TrackerClient(node.fqn, domain_id=DOMAIN_ID, extra_subscriptions=[listener.subscription()])
    try:
        assert client.wait_for_node(60), f"{node.output()}\n{client.discovery_report()}"
        status = listener.wait(client, lambda s: True)
        assert status.level == DiagnosticStatus.ERROR
        assert str(missing) in status.message
        values = values_of(status)
        assert values["state"] == "error" and values["model"] == "not loaded"
        assert str(missing) in values["last_error"]
    finally:
        client.close()
