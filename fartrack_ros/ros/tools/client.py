"""A client of a running fartrack_node in another process: calls its services (the lifecycle
services of the managed node too), collects its detections and status, optionally publishes
images. Used by the demo, the node benchmark and
the tests; it uses only the node's public interfaces.

rclpy runs on a private context with its own executor thread, so the caller's thread can block
in ``wait_for`` / service calls.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2DArray

from fartrack_ros.msg import TrackStatus
from fartrack_ros.srv import SetTarget

from fartrack_ros.ros.conversions import ns_to_stamp, stamp_to_ns


@dataclass
class Received:
    message: object
    received_ns: int     # client clock (ROS time) at arrival


class TrackerClient:
    def __init__(self, node_fqn: str, image_topic: Optional[str] = None,
                 domain_id: Optional[int] = None, client_name: str = "fartrack_client",
                 subscribe_debug_image: bool = False, extra_subscriptions: tuple = ()) -> None:
        """``node_fqn``: the node's full name, e.g. ``/demo/fartrack_node``.
        ``extra_subscriptions``: (type, topic, callback, qos) created before spinning starts."""
        self.node_fqn = node_fqn.rstrip("/")
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(client_name, context=self.context)
        self._lock = threading.Lock()
        self.detections: list[Received] = []
        self.statuses: list[Received] = []
        self.debug_images: list[Received] = []
        self._listeners: list[Callable[[str, object], None]] = []
        self.node.create_subscription(Detection2DArray, f"{self.node_fqn}/detections",
                                      self._store("detections"), 100)
        self.node.create_subscription(TrackStatus, f"{self.node_fqn}/status",
                                      self._store("statuses"), 100)
        if subscribe_debug_image:
            self.node.create_subscription(Image, f"{self.node_fqn}/debug_image",
                                          self._store("debug_images"), 10)
        for msg_type, topic, callback, qos in extra_subscriptions:
            self.node.create_subscription(msg_type, topic, callback, qos)
        self._set_target = self.node.create_client(SetTarget, f"{self.node_fqn}/set_target")
        self._stop = self.node.create_client(Trigger, f"{self.node_fqn}/stop")
        # the managed node's standard lifecycle services (absent on the plain node)
        self._change_state = self.node.create_client(ChangeState, f"{self.node_fqn}/change_state")
        self._get_state = self.node.create_client(GetState, f"{self.node_fqn}/get_state")
        self.image_publisher = None
        if image_topic:
            self.image_publisher = self.node.create_publisher(
                Image, image_topic,
                QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                           reliability=ReliabilityPolicy.BEST_EFFORT))
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stopping = threading.Event()
        self._spinner = threading.Thread(target=self._spin, name="fartrack_client", daemon=True)
        self._spinner.start()

    # ------------------------------------------------------------------ plumbing
    def _spin(self) -> None:
        # Bounded waits, not executor.spin(): under load the executor's shutdown did not always
        # wake a wait that had no work, the spinner kept the node's entities in use, and
        # destroy_node then waited for them for ever (seen with py-spy on CI).
        try:
            while not self._stopping.is_set() and self.context.ok():
                self.executor.spin_once(timeout_sec=0.1)
        except (ExternalShutdownException, rclpy.executors.ShutdownException):
            pass
        except Exception as exc:      # a dead spinner would look like a silent node
            self.node.get_logger().error(f"client executor stopped: {exc!r}")
            raise

    def _store(self, kind: str):
        def callback(msg) -> None:
            item = Received(msg, self.now_ns())
            with self._lock:
                getattr(self, kind).append(item)
                listeners = list(self._listeners)
            for listener in listeners:
                listener(kind, msg)
        return callback

    def add_listener(self, listener: Callable[[str, object], None]) -> None:
        """``listener(kind, msg)`` runs on the executor thread for every message received."""
        with self._lock:
            self._listeners.append(listener)

    def now_ns(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def snapshot(self, kind: str) -> list:
        with self._lock:
            return list(getattr(self, kind))

    def wait_for(self, predicate: Callable[[], bool], timeout: float, poll: float = 0.02) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(poll)
        return predicate()

    def wait_for_node(self, timeout: float = 30.0) -> bool:
        """True once both services are up and, if this client publishes images, the node's
        image subscription has matched the publisher."""
        def ready():
            if not (self._set_target.service_is_ready() and self._stop.service_is_ready()):
                return False
            return self.image_publisher is None or self.image_publisher.get_subscription_count() > 0
        return self.wait_for(ready, timeout, poll=0.05)

    def discovery_report(self) -> str:
        """What this client sees of the ROS graph: for a failed ``wait_for_node``, tells a node
        that is not discovered at all from one whose services or subscription are missing."""
        nodes = sorted(ns.rstrip("/") + "/" + name
                       for name, ns in self.node.get_node_names_and_namespaces())
        namespace, _, name = self.node_fqn.rpartition("/")
        try:
            services = sorted(s for s, _ in self.node.get_service_names_and_types_by_node(
                name, namespace or "/"))
        except Exception as exc:       # rclpy raises when the node is not in the graph
            services = f"none ({exc})"
        lines = [f"nodes seen: {nodes}", f"services served by {self.node_fqn}: {services}",
                 f"set_target ready: {self._set_target.service_is_ready()}, "
                 f"stop ready: {self._stop.service_is_ready()}"]
        if self.image_publisher is not None:
            lines.append(f"image subscribers matched: {self.image_publisher.get_subscription_count()}")
        return "\n".join(lines)

    def _call(self, client, request, timeout: float):
        future = client.call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout):
            client.remove_pending_request(future)
            raise TimeoutError(f"no answer from {client.srv_name} within {timeout} s")
        return future.result()

    # ------------------------------------------------------------------ public interface
    def set_target(self, box_xywh, stamp_ns: int = 0, image_wh=(0, 0),
                   timeout: float = 20.0) -> SetTarget.Response:
        x, y, w, h = (float(v) for v in box_xywh)
        request = SetTarget.Request(x=x, y=y, width=w, height=h, image_width=int(image_wh[0]),
                                    image_height=int(image_wh[1]), stamp=ns_to_stamp(stamp_ns))
        return self._call(self._set_target, request, timeout)

    def stop(self, timeout: float = 20.0) -> Trigger.Response:
        return self._call(self._stop, Trigger.Request(), timeout)

    def wait_for_lifecycle(self, timeout: float = 30.0) -> bool:
        """True once the managed node's change_state and get_state services are up."""
        return self.wait_for(lambda: self._change_state.service_is_ready()
                             and self._get_state.service_is_ready(), timeout, poll=0.05)

    def change_state(self, transition: str, timeout: float = 120.0) -> bool:
        """Trigger a lifecycle transition by its label (configure, activate, deactivate,
        cleanup, shutdown); the node's answer (False: refused or failed)."""
        ids = {"configure": Transition.TRANSITION_CONFIGURE, "activate": Transition.TRANSITION_ACTIVATE,
               "deactivate": Transition.TRANSITION_DEACTIVATE, "cleanup": Transition.TRANSITION_CLEANUP}
        request = ChangeState.Request()
        if transition in ids:
            request.transition.id = ids[transition]
        else:                      # e.g. "shutdown": one label, three ids (by start state)
            request.transition.label = transition
        return self._call(self._change_state, request, timeout).success

    def lifecycle_state(self, timeout: float = 20.0) -> str:
        """The managed node's current state label (unconfigured, inactive, active, ...)."""
        return self._call(self._get_state, GetState.Request(), timeout).current_state.label

    def publish_image(self, msg: Image) -> None:
        self.image_publisher.publish(msg)

    def detections_by_stamp(self) -> dict[int, Detection2DArray]:
        return {stamp_to_ns(r.message.header.stamp): r.message for r in self.snapshot("detections")}

    def latest_status(self) -> Optional[TrackStatus]:
        statuses = self.snapshot("statuses")
        return statuses[-1].message if statuses else None

    def close(self) -> None:
        """Stop the spinner thread first, then destroy the node (every publisher, subscription
        and client on it, a caller's own included), then the context. Destroying the node while
        the spinner still waited on its entities has hung inside rclpy's destroy_node."""
        self._stopping.set()
        self._spinner.join(timeout=5.0)
        self.executor.shutdown(timeout_sec=5.0)
        if self._spinner.is_alive():
            self.node.get_logger().warning("client executor still spinning after shutdown")
        self.node.destroy_node()
        self.context.try_shutdown()
