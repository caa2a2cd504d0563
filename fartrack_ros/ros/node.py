"""`fartrack_node`: camera images in, the tracked target out as vision_msgs/Detection2DArray.

Two nodes share one adapter (``TrackerAdapter``): the managed (lifecycle) node
``FARTrackLifecycleNode`` in fartrack_ros.ros.lifecycle_node (the `fartrack_node` executable)
and the plain ``FARTrackNode`` here (`python -m fartrack_ros.ros.node`), which configures and
activates itself at start-up.

The node only adapts: parameters -> TrackerConfig, messages -> RGB arrays, TrackResult ->
messages. Threading (see fartrack_ros.ros.frames): the image callback stores the newest message
and returns; one worker thread owns the tracker, takes the newest frame, tracks and publishes;
services hand commands to the worker and wait for its answer, so they are answered between two
frames while the executor stays free.

Interfaces (names relative to the node; see README "ROS 2 node"):
  sub  image (sensor_msgs/Image) or image/compressed (CompressedImage, compressed:=true)
  sub  ~/target          vision_msgs/Detection2D: set the target from a detector
  pub  ~/detections      vision_msgs/Detection2DArray, one per processed frame, header copied
  pub  ~/status          fartrack_ros/TrackStatus: state + diagnostics (fps, dropped, latency)
  pub  ~/debug_image     sensor_msgs/Image bgr8 overlay, drawn only while subscribed
  sub  camera_info       sensor_msgs/CameraInfo (camera_info_topic) for the bearing
  pub  ~/target_bearing  geometry_msgs/Vector3Stamped: unit ray to the box centre, optical frame
  pub  /diagnostics      diagnostic_msgs/DiagnosticArray once a second (state, fps, drops,
                         latency, model, device, last error)
  srv  ~/set_target      fartrack_ros/SetTarget
  srv  ~/stop            std_srvs/Trigger

Run: python -m fartrack_ros.ros.node --ros-args --params-file config/cpu_drone.yaml   (plain)
     python -m fartrack_ros.ros.lifecycle_node --ros-args -p autostart:=true  (managed)
"""
from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import cv2
import rclpy
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
from rclpy.exceptions import (InvalidParameterTypeException, InvalidParameterValueException,
                              ParameterException)
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.task import Future
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Vector3Stamped
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2D, Detection2DArray

from fartrack_ros.msg import TrackStatus
from fartrack_ros.srv import SetTarget

from fartrack_ros.core.types import LOST, ON_TARGET_STATES, REACQUIRED, TRACKING, TrackResult
from fartrack_ros.runtime.visualize import draw_track_overlay
from fartrack_ros.ros.conversions import (box_xywh_from_detection, compressed_msg_problem,
                                          compressed_msg_to_rgb, detection_array_from_result,
                                          image_msg_from_array, image_msg_problem, image_msg_to_rgb,
                                          ns_to_stamp, scale_box_xywh, stamp_to_ns)
from fartrack_ros.ros.bearing import CameraModel, azimuth_elevation
from fartrack_ros.ros.dds import transport_warnings, use_shipped_profile
from fartrack_ros.ros.diagnostics import STALE_INPUT_S, diagnostic_array
from fartrack_ros.ros.diagnostics import summary as diagnostics_summary
from fartrack_ros.ros.frames import FrameExchange, ReceivedFrame
from fartrack_ros.ros.parameters import NODE_PARAMETERS, check_parameter, tracker_config_from_parameters
from fartrack_ros.ros.stats import LatencyWindow, RateMeter

NODE_NAME = "fartrack_node"
# Requests the service readers hold before the node takes them. The executor takes requests
# as they come (the callbacks are coroutines that wait for the worker without blocking it), so
# this only has to cover a burst arriving within one executor cycle; the default depth of 10
# lost most of a 200-request burst (issue 19, fault 3).
SERVICE_QUEUE_DEPTH = 1000
SUPERSEDED = "superseded by a newer request before it was applied (the newest one is applied)"
# A stamped set_target may arrive before the frame it names (request and images travel on
# different topics): the worker waits this long for a stamp newer than every frame it holds.
STAMPED_FRAME_WAIT_S = 1.0
CAMERA_INFO_HISTORY = 30
# Parameters every rclpy node accepts besides ours (and qos_overrides.* prefixes).
_ROS_OWN_PARAMETERS = {"use_sim_time", "start_type_description_service"}

# a re-acquired frame is a tracked frame for subscribers; state_name tells the two apart
STATE_CODES = {"idle": TrackStatus.STATE_IDLE, TRACKING: TrackStatus.STATE_TRACKING,
               REACQUIRED: TrackStatus.STATE_TRACKING, LOST: TrackStatus.STATE_LOST,
               "error": TrackStatus.STATE_ERROR}


@dataclass
class WorkerCommand:
    """A request for the worker thread. ``future`` (an rclpy Future, set by service callbacks)
    completes when the worker has handled it; the service coroutine awaits it."""
    future: Optional[Future] = field(default=None, init=False)

    def finish(self) -> None:
        if self.future is not None and not self.future.done():
            self.future.set_result(True)


@dataclass
class TargetCommand(WorkerCommand):
    box_xywh: tuple = ()
    image_wh: tuple = (0, 0)      # (0, 0) = the camera image size
    stamp_ns: int = 0             # 0 = newest frame
    source: str = "service"       # "service" or "topic"
    outcome: dict = field(default_factory=dict)


@dataclass
class StopCommand(WorkerCommand):
    message: str = ""


@dataclass
class SwapTrackerCommand(WorkerCommand):
    tracker: Any = None
    description: str = ""
    device: str = ""


class TrackerAdapter:
    """The node's work, shared by the plain and the managed node (mixed into an rclpy Node).

    Three steps, which the plain node takes at start-up and the managed node in its lifecycle
    transitions: ``_load_model`` (configure: the tracker from the parameters), ``_start_tracking``
    (activate: subscriptions and the worker thread) and ``_stop_tracking`` (deactivate: the
    worker stopped, the subscriptions gone, the model kept); ``_unload_model`` frees the model
    (cleanup). ``_create_interfaces`` makes the publishers, services and timers, which then
    exist in every state (the plain node after loading the model, the managed node at
    construction): while not tracking, requests are answered with the reason.
    """

    # Parameters besides NODE_PARAMETERS that a subclass declares (name -> NodeParameter).
    EXTRA_PARAMETERS: dict = {}

    def _init_adapter(self) -> None:
        """Declare and check the parameters; the state every step works on."""
        self._model_configured = False        # a model parameter change loads the model now
        self._pending_tracker = None          # built by the parameter callback, swapped in later
        self._worker: Optional[threading.Thread] = None
        self._tracking_entities: list = []    # subscriptions created by _start_tracking
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.add_post_set_parameters_callback(self._after_set_parameters)
        self._declare_parameters()
        self._reject_unknown_overrides()
        p = {name: self.get_parameter(name).value for name in NODE_PARAMETERS}
        self._lost_threshold = p["lost_threshold"]
        self._debug_enabled = p["debug_image"]
        self._class_id = p["class_id"]

        # worker-owned state
        self._tracker = None
        self._model_error = ""
        self._last_error = ""
        self._track_id = ""
        self._track_counter = 0
        self._init_stamp_ns: Optional[int] = None
        self._init_box: Optional[tuple] = None
        self._frame_size: Optional[tuple] = None
        self._last_result: Optional[TrackResult] = None
        self._last_header = Header()
        self._processed = 0
        self._rejected = 0
        self._rate = RateMeter()
        self._latency = LatencyWindow()
        self._last_status_ns = 0
        self._last_frame_ns: Optional[int] = None     # arrival of the latest frame, any kind
        self._model_summary = "not loaded"
        self._device = p["device"]
        self._processing_ms = 0.0
        self._status_lock = threading.Lock()

        self._exchange = FrameExchange(p["frame_history"])
        self._compressed = p["compressed"]
        self._image_topic = self._input_topic_name(p["image_topic"])
        self._input_topic = self.resolve_topic_name(self._image_topic)   # remaps applied
        self._camera_infos: OrderedDict[int, CameraInfo] = OrderedDict()   # by stamp, newest last
        self._camera_info_lock = threading.Lock()
        self._bearing: Optional[tuple] = None          # (azimuth, elevation) of the last frame
        self._bearing_problem = ""
        self._camera_info_topic = self._camera_info_topic_name(p["camera_info_topic"])

    def _create_interfaces(self) -> None:
        """Publishers, services and timers; they exist in every state of the node."""
        self._bearing_pub = self._publisher(Vector3Stamped, "~/target_bearing", 10)
        self._detections_pub = self._publisher(Detection2DArray, "~/detections", 10)
        self._debug_pub = self._publisher(Image, "~/debug_image", 1)
        self._status_pub = self._publisher(TrackStatus, "~/status", 10)
        service_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=SERVICE_QUEUE_DEPTH,
                                 reliability=ReliabilityPolicy.RELIABLE,
                                 durability=DurabilityPolicy.VOLATILE)
        self.create_service(SetTarget, "~/set_target", self._on_set_target, qos_profile=service_qos)
        self.create_service(Trigger, "~/stop", self._on_stop, qos_profile=service_qos)
        self.create_timer(1.0, self._publish_idle_status)
        # the standard diagnostics topic (absolute: one per robot, whatever the namespace)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self._publish_diagnostics)

    def _publisher(self, msg_type, topic: str, qos):
        """An output publisher (the managed node makes lifecycle publishers)."""
        return self.create_publisher(msg_type, topic, qos)

    @property
    def tracking_active(self) -> bool:
        """True while the worker runs: frames are taken and requests are served."""
        return self._worker is not None

    def _inactive_reason(self) -> str:
        return "the node is not active"

    def _lifecycle_diagnostics(self) -> Optional[tuple]:
        """(lifecycle state, (level, message) replacing the tracker's or None); the managed
        node's, None for the plain node."""
        return None

    def _start_tracking(self) -> None:
        """Subscribe to the inputs and start the worker thread (a fresh frame exchange)."""
        if self._worker is not None:
            return
        p = {name: self.get_parameter(name).value for name in NODE_PARAMETERS}
        with self._status_lock:            # counters and rates count from this activation
            self._exchange = FrameExchange(p["frame_history"])
            self._processed = self._rejected = 0
            self._rate, self._latency = RateMeter(), LatencyWindow()
            self._last_frame_ns = None
        qos = QoSProfile(depth=p["qos_depth"], history=HistoryPolicy.KEEP_LAST,
                         reliability=(ReliabilityPolicy.BEST_EFFORT
                                      if p["qos_reliability"] == "best_effort"
                                      else ReliabilityPolicy.RELIABLE))
        subscriptions = [
            self.create_subscription(CompressedImage if self._compressed else Image,
                                     self._image_topic, self._on_image, qos),
            self.create_subscription(Detection2D, "~/target", self._on_target, 10)]
        self._input_topic = subscriptions[0].topic_name
        if self._camera_info_topic:
            # best effort matches reliable and best-effort camera drivers alike
            subscriptions.append(self.create_subscription(
                CameraInfo, self._camera_info_topic, self._on_camera_info,
                QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)))
        self._tracking_entities = subscriptions
        self._worker = threading.Thread(target=self._worker_loop, args=(self._exchange,),
                                        name="fartrack_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"listening on {self._input_topic} ({'CompressedImage' if self._compressed else 'Image'}, "
            f"{p['qos_reliability']} depth {p['qos_depth']}); model: "
            f"{self._model_summary if self._tracker else 'NOT LOADED'}")

    def _stop_tracking(self, reason: str = "") -> None:
        """Unsubscribe, stop the worker (requests it never took are answered with ``reason``,
        by default why the node is not active), drop the target; the model stays loaded."""
        for entity in self._tracking_entities:
            self.destroy_subscription(entity)
        self._tracking_entities = []
        worker, self._worker = self._worker, None
        if worker is not None:
            self._exchange.close()
            worker.join(timeout=10.0)
            for command in self._exchange.wait(timeout=0.0)[0]:   # never handled: answer them
                if isinstance(command, TargetCommand):
                    command.outcome = {"success": False,
                                       "message": reason or self._inactive_reason()}
                command.finish()
        self._drop_target()

    def _load_model(self) -> str:
        """Check every parameter and build the tracker; '' on success, else the reason (also
        kept as the model error, shown in ~/status, /diagnostics and set_target answers)."""
        values = {name: self.get_parameter(name).value for name in NODE_PARAMETERS}
        problems = [reason for name, value in values.items()
                    if (reason := check_parameter(name, value))]
        if problems:
            self._model_error = "; ".join(problems)
            return self._model_error
        if values["device"] == "cuda":
            import torch
            if not torch.cuda.is_available():
                self.get_logger().warning("device 'cuda' requested but CUDA is not available; "
                                          "falling back to cpu")
                values["device"] = "cpu"
        self._device = values["device"]
        try:
            self._tracker = self._build_tracker(values)
        except (OSError, ValueError, RuntimeError) as exc:
            self._tracker = None
            self._model_error = f"model not loaded: {exc}"
            return self._model_error
        self._model_error = ""
        self._model_summary = self._model_description(values)
        self._model_configured = True
        return ""

    def _unload_model(self) -> None:
        self._drop_target()
        self._tracker = None
        self._model_configured = False
        self._model_summary = "not loaded"

    # ------------------------------------------------------------------ parameters
    def _declare_parameters(self) -> None:
        for spec in (*NODE_PARAMETERS.values(), *self.EXTRA_PARAMETERS.values()):
            constraints = f"one of {list(spec.choices)}" if spec.choices else ""
            descriptor = ParameterDescriptor(name=spec.name, description=spec.description,
                                             read_only=spec.read_only,
                                             additional_constraints=constraints)
            if spec.int_range:
                descriptor.integer_range = [IntegerRange(from_value=spec.int_range[0],
                                                         to_value=spec.int_range[1], step=1)]
            if spec.float_range:
                descriptor.floating_point_range = [FloatingPointRange(
                    from_value=spec.float_range[0], to_value=spec.float_range[1], step=0.0)]
            self.declare_parameter(spec.name, spec.default, descriptor)

    def _reject_unknown_overrides(self) -> None:
        """A misspelt key in a params file is an error, not a silently ignored value."""
        overrides = getattr(self, "_parameter_overrides", {}) or {}
        unknown = sorted(name for name in overrides if name not in NODE_PARAMETERS
                         and name not in self.EXTRA_PARAMETERS and name not in _ROS_OWN_PARAMETERS
                         and not name.startswith("qos_overrides."))
        if unknown:
            raise InvalidParameterValueException(
                unknown[0], overrides[unknown[0]].value,
                f"unknown parameter(s) {unknown}; known: {sorted(NODE_PARAMETERS)}")

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        values = {p.name: p.value for p in parameters}
        for name, value in values.items():
            if name in _ROS_OWN_PARAMETERS or name.startswith("qos_overrides."):
                continue
            reason = check_parameter(name, value, self.EXTRA_PARAMETERS)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
        # After start-up, a model parameter change loads the model now, so that a missing or
        # corrupt file is refused with its reason instead of leaving the node without a model.
        if self._model_configured and any(NODE_PARAMETERS[n].rebuilds_tracker for n in values
                                 if n in NODE_PARAMETERS):
            merged = {n: self.get_parameter(n).value for n in NODE_PARAMETERS}
            merged.update(values)
            try:
                self._pending_tracker = (self._build_tracker(merged), self._model_description(merged),
                                         merged["device"])
            except (OSError, ValueError, RuntimeError) as exc:
                return SetParametersResult(successful=False, reason=f"model not loaded: {exc}")
        return SetParametersResult(successful=True)

    def _after_set_parameters(self, parameters) -> None:
        for p in parameters:
            if p.name == "lost_threshold":
                self._lost_threshold = p.value
            elif p.name == "debug_image":
                self._debug_enabled = p.value
            elif p.name == "class_id":
                self._class_id = p.value
        if self._pending_tracker is not None:
            tracker, description, device = self._pending_tracker
            self._pending_tracker = None
            command = SwapTrackerCommand(tracker=tracker, description=description, device=device)
            if self.tracking_active:
                self._exchange.put_command(command)
            else:                                  # no worker owns the tracker now
                self._run_command(command)

    def _input_topic_name(self, image_topic: str) -> str:
        """The image topic; with compressed input, image_transport's convention: the base topic
        resolved with the remapping rules applied, then '/compressed' (so `-r image:=/cam/raw`
        gives /cam/raw/compressed). An explicit remap of '<image_topic>/compressed' wins."""
        if not self._compressed:
            return image_topic
        sub_topic = image_topic.rstrip("/") + "/compressed"
        if self.resolve_topic_name(sub_topic) != self.resolve_topic_name(sub_topic, only_expand=True):
            return sub_topic                     # remapped explicitly: create_subscription does it
        return self.resolve_topic_name(image_topic).rstrip("/") + "/compressed"

    def _camera_info_topic_name(self, parameter: str) -> str:
        """'' = image_transport's convention: camera_info beside the (remapped) image topic."""
        if parameter.strip().lower() == "none":
            return ""
        if parameter.strip():
            return parameter
        image = self.resolve_topic_name(self.get_parameter("image_topic").value)
        return image.rsplit("/", 1)[0] + "/camera_info"

    @staticmethod
    def _model_description(values) -> str:
        return (f"{values['variant']} on {values['device']}, weights "
                f"{values['weights'] or '(shipped default)'}")

    def _build_tracker(self, values):
        from fartrack_ros.runtime.tracker import build_tracker
        return build_tracker(tracker_config_from_parameters(values))

    # ------------------------------------------------------------------ callbacks (executor)
    def _on_image(self, msg) -> None:
        stamp_ns = stamp_to_ns(msg.header.stamp)
        self._last_frame_ns = self.get_clock().now().nanoseconds
        # Header checks only (no pixel work): a rejected frame never reaches the slot or the
        # frame history, so a stamped set_target can never pick it.
        problem = (compressed_msg_problem if self._compressed else image_msg_problem)(msg)
        if problem:
            self._exchange.count_rejected()
            self._reject_frame(stamp_ns, problem)
            return
        self._exchange.put_frame(ReceivedFrame(msg, stamp_ns, self.get_clock().now().nanoseconds))

    def _on_camera_info(self, msg: CameraInfo) -> None:
        with self._camera_info_lock:
            stamp_ns = stamp_to_ns(msg.header.stamp)
            self._camera_infos.pop(stamp_ns, None)
            self._camera_infos[stamp_ns] = msg
            while len(self._camera_infos) > CAMERA_INFO_HISTORY:
                self._camera_infos.popitem(last=False)

    def _camera_info_for(self, header) -> Optional[CameraInfo]:
        """The CameraInfo with the image's stamp, else the newest one (calibration rarely
        changes; drivers stamp both alike, but not every driver)."""
        with self._camera_info_lock:
            info = self._camera_infos.get(stamp_to_ns(header.stamp))
            if info is None and self._camera_infos:
                info = next(reversed(self._camera_infos.values()))
            return info

    def _reject_frame(self, stamp_ns: int, reason: str) -> None:
        with self._status_lock:
            self._rejected += 1
        self._set_error(f"image rejected: {reason} (frame stamped {stamp_ns} ns)")
        self._publish_status(self.get_clock().now().nanoseconds)

    async def _to_worker(self, command: WorkerCommand) -> bool:
        """Hand ``command`` to the worker and wait for it without blocking the executor, so that
        every request of a burst is taken from DDS at once and answered in order. False (not
        handed over) while the node is not active."""
        if not self.tracking_active:
            return False
        command.future = Future(executor=self.executor)
        # a done callback makes set_result (worker thread) wake the executor to resume us
        command.future.add_done_callback(lambda _: None)
        self._exchange.put_command(command)
        await command.future
        return True

    async def _on_set_target(self, request: SetTarget.Request, response: SetTarget.Response):
        command = TargetCommand(box_xywh=(request.x, request.y, request.width, request.height),
                                image_wh=(int(request.image_width), int(request.image_height)),
                                stamp_ns=stamp_to_ns(request.stamp), source="service")
        if not await self._to_worker(command):
            command.outcome = {"success": False, "message": self._inactive_reason()}
        o = command.outcome or {"success": False, "message": "the node is shutting down"}
        response.success = o["success"]
        response.message = o["message"]
        if o["success"]:
            response.x, response.y, response.width, response.height = o["box_xywh"]
            response.initialized_on_stamped_frame = o["exact"]
            response.frame_stamp = ns_to_stamp(o["frame_stamp_ns"])
            response.track_id = o["track_id"]
        return response

    async def _on_stop(self, request: Trigger.Request, response: Trigger.Response):
        command = StopCommand()
        handed_over = await self._to_worker(command)
        response.success = bool(command.message)
        response.message = command.message or (
            "the node is shutting down" if handed_over else self._inactive_reason())
        return response

    def _on_target(self, msg: Detection2D) -> None:
        self._exchange.put_command(TargetCommand(box_xywh=box_xywh_from_detection(msg),
                                                 stamp_ns=stamp_to_ns(msg.header.stamp),
                                                 source="topic"))

    # ------------------------------------------------------------------ worker thread
    def _worker_loop(self, exchange: FrameExchange) -> None:
        while not exchange.closed:
            commands, frame = exchange.wait(timeout=0.5)
            for index, command in enumerate(commands):
                try:
                    if self._superseded(command, commands[index + 1:]):
                        command.outcome = {"success": False, "message": SUPERSEDED}
                    else:
                        self._run_command(command)
                except Exception as exc:     # the worker must survive anything a command does
                    self._set_error(f"{type(command).__name__} failed: {exc!r}")
                    if isinstance(command, TargetCommand) and not command.outcome:
                        command.outcome = {"success": False, "message": f"failed: {exc!r}"}
                finally:
                    command.finish()
            if frame is not None:
                try:
                    self._process_frame(frame)
                except Exception as exc:     # one bad frame must not stop tracking for good
                    self._drop_target()
                    self._set_error(f"frame stamped {frame.stamp_ns} ns failed: {exc!r}; "
                                    "target dropped")

    @staticmethod
    def _superseded(command, later: list) -> bool:
        """A target request followed, in the same batch, by another target or a stop is
        answered as superseded: only the newest one is applied (a burst costs one
        initialisation, and every request still gets its answer, in order)."""
        return isinstance(command, TargetCommand) and any(
            isinstance(c, (TargetCommand, StopCommand)) for c in later)

    def _run_command(self, command) -> None:
        if isinstance(command, TargetCommand):
            command.outcome = self._apply_target(command)
            if command.source == "topic":
                log = self.get_logger().info if command.outcome["success"] else self.get_logger().warning
                log(f"target from ~/target: {command.outcome['message']}")
                if not command.outcome["success"]:
                    self._set_error(command.outcome["message"])
        elif isinstance(command, StopCommand):
            if self._tracker is not None and self._tracker.is_initialized:
                command.message = f"stopped tracking target {self._track_id}"
            else:
                command.message = "no target was being tracked"
            self._drop_target()
        elif isinstance(command, SwapTrackerCommand):
            had_target = self._tracker is not None and self._tracker.is_initialized
            self._tracker, self._model_error = command.tracker, ""
            self._model_summary, self._device = command.description, command.device
            self._drop_target()
            self.get_logger().info(f"model loaded: {command.description}"
                                   + ("; target dropped, set it again" if had_target else ""))

    def _decode(self, message):
        return compressed_msg_to_rgb(message) if self._compressed else image_msg_to_rgb(message)

    def _apply_target(self, command: TargetCommand) -> dict:
        def fail(message):
            return {"success": False, "message": message}

        if self._tracker is None:
            return fail(self._model_error)
        frame, exact = self._exchange.find(command.stamp_ns, wait_s=STAMPED_FRAME_WAIT_S)
        if frame is None:
            if self._rejected:
                return fail(f"no usable image received yet on {self._input_topic} "
                            f"({self._rejected} rejected; last: {self._last_error})")
            return fail(f"no image received yet on {self._input_topic}")
        try:
            rgb = self._decode(frame.message)
        except ValueError as exc:      # a compressed frame that does not decode
            self._exchange.forget(frame.stamp_ns)
            return fail(f"the frame stamped {frame.stamp_ns} ns cannot be used: {exc}")
        height, width = rgb.shape[:2]
        box = command.box_xywh
        if any(command.image_wh):
            if not all(command.image_wh):
                return fail(f"image_width and image_height must both be 0 (camera size) or both "
                            f"> 0, got {command.image_wh[0]}x{command.image_wh[1]}")
            if tuple(command.image_wh) != (width, height):
                box = scale_box_xywh(box, command.image_wh, (width, height))
        try:
            self._tracker.initialize(rgb, box)
        except ValueError as exc:
            return fail(f"box rejected: {exc}")
        self._track_counter += 1
        self._track_id = str(self._track_counter)
        self._init_stamp_ns, self._init_box = frame.stamp_ns, tuple(float(v) for v in box)
        self._frame_size = (width, height)
        if exact:
            where = f"the requested frame stamped {frame.stamp_ns} ns"
        elif command.stamp_ns:
            where = (f"the newest frame stamped {frame.stamp_ns} ns: the requested frame stamped "
                     f"{command.stamp_ns} ns is not among the last {self._exchange.history.capacity}")
        else:
            where = f"the newest frame stamped {frame.stamp_ns} ns"
        return {"success": True, "message": f"tracking target {self._track_id}, initialised on {where}",
                "box_xywh": self._init_box, "exact": exact, "frame_stamp_ns": frame.stamp_ns,
                "track_id": self._track_id}

    def _publish_bearing(self, header, box_xywh, image_wh) -> None:
        """Unit ray through the box centre on ~/target_bearing (header of the image: its stamp
        and optical frame); azimuth/elevation for ~/status. A missing or unusable CameraInfo
        is reported once in last_error; the node keeps tracking."""
        info = self._camera_info_for(header)
        if info is None:         # no camera info published: no bearing, nothing to report
            self._bearing_problem = f"no CameraInfo received on {self._camera_info_topic}"
            return
        problem = ""
        if info is not None:
            if info.header.frame_id and header.frame_id and info.header.frame_id != header.frame_id:
                problem = (f"CameraInfo frame_id {info.header.frame_id!r} does not match the "
                           f"image frame_id {header.frame_id!r}")
            else:
                model = CameraModel(k=tuple(info.k), d=tuple(info.d),
                                    distortion_model=info.distortion_model, width=info.width,
                                    height=info.height, binning=(info.binning_x, info.binning_y),
                                    roi=(info.roi.x_offset, info.roi.y_offset, info.roi.width,
                                         info.roi.height))
                problem = model.problem() or model.matches_image(*image_wh) or ""
        if problem:
            if problem != self._bearing_problem:
                self._set_error(f"no bearing: {problem}")
            self._bearing_problem = problem
            return
        self._bearing_problem = ""
        x, y, w, h = box_xywh
        ray = model.ray(x + w / 2.0, y + h / 2.0)
        msg = Vector3Stamped(header=header)
        msg.vector.x, msg.vector.y, msg.vector.z = ray
        self._bearing_pub.publish(msg)
        self._bearing = azimuth_elevation(ray)

    def _drop_target(self) -> None:
        if self._tracker is not None:
            self._tracker.reset()
        self._init_stamp_ns = self._init_box = None
        self._last_result = None
        self._bearing = None

    def _set_error(self, message: str) -> None:
        self._last_error = message
        self.get_logger().warning(message, throttle_duration_sec=1.0)

    def _process_frame(self, frame: ReceivedFrame) -> None:
        started = time.perf_counter()
        header = frame.message.header
        try:
            rgb = self._decode(frame.message)
        except ValueError as exc:      # passed the arrival checks, failed to decode
            self._exchange.forget(frame.stamp_ns)
            self._reject_frame(frame.stamp_ns, str(exc))
            return
        height, width = rgb.shape[:2]
        tracking = self._tracker is not None and self._tracker.is_initialized
        if tracking and self._frame_size and self._frame_size != (width, height):
            self._drop_target()
            tracking = False
            self._set_error(f"image size changed from {self._frame_size[0]}x{self._frame_size[1]} "
                            f"to {width}x{height}; target dropped, set it again")
        self._frame_size = (width, height)

        result = None
        if tracking:
            if frame.stamp_ns == self._init_stamp_ns:       # the frame the target was set on
                result = TrackResult(self._init_box, 1.0, TRACKING, 0)
            elif self._init_stamp_ns is not None and frame.stamp_ns < self._init_stamp_ns:
                return                                        # older than the target itself
            else:
                self._tracker.lost_threshold = self._lost_threshold
                result = self._tracker.track(rgb)
        self._last_result = result
        self._detections_pub.publish(
            detection_array_from_result(header, result, self._track_id, self._class_id))
        self._bearing = None
        if result is not None and result.state in ON_TARGET_STATES and self._camera_info_topic:
            self._publish_bearing(header, result.box_xywh, (width, height))

        now_ns = self.get_clock().now().nanoseconds
        reference_ns = frame.stamp_ns or frame.received_ns
        self._latency.add((now_ns - reference_ns) / 1e6)
        self._rate.tick(now_ns)
        self._processed += 1
        self._last_header = header
        self._processing_ms = (time.perf_counter() - started) * 1e3
        self._publish_status(now_ns)
        if self._debug_enabled and self._debug_pub.get_subscription_count() > 0:
            bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            label = f"id {self._track_id}" if result is not None else ""
            overlay = draw_track_overlay(bgr, result, self._rate.rate() or None, label)
            self._debug_pub.publish(image_msg_from_array(overlay, "bgr8", header))

    # ------------------------------------------------------------------ status
    def _state_name(self) -> str:
        if self._tracker is None:
            return "error"
        if not self._tracker.is_initialized:
            return "idle"
        return self._last_result.state if self._last_result is not None else TRACKING

    def _publish_status(self, now_ns: int) -> None:
        if not self.tracking_active:
            return
        with self._status_lock:
            received, dropped = self._exchange.counts()
            name = self._state_name()
            msg = TrackStatus(header=self._last_header, state=STATE_CODES[name], state_name=name,
                              frames_received=received, frames_processed=self._processed,
                              frames_dropped=dropped, frames_rejected=self._rejected,
                              processed_fps=float(self._rate.rate()),
                              latency_ms=float(self._latency.last_ms),
                              processing_ms=float(self._processing_ms),
                              last_error=self._model_error or self._last_error)
            if name in ON_TARGET_STATES or name == LOST:
                msg.track_id = self._track_id
                result = self._last_result
                box = result.box_xywh if result is not None else self._init_box
                msg.score = float(result.score) if result is not None else 1.0
                msg.x, msg.y, msg.width, msg.height = (float(v) for v in box)
            if self._bearing is not None and name in ON_TARGET_STATES:
                msg.bearing_valid = True
                msg.azimuth, msg.elevation = self._bearing
            p50, p95 = self._latency.percentiles()
            msg.latency_ms_p50 = float(p50 or 0.0)
            msg.latency_ms_p95 = float(p95 or 0.0)
            self._status_pub.publish(msg)
            self._last_status_ns = now_ns

    def _publish_diagnostics(self) -> None:
        now = self.get_clock().now()
        with self._status_lock:
            received, dropped = self._exchange.counts()
            state = self._state_name()
            p50, p95 = self._latency.percentiles()
            last_error = self._model_error or self._last_error
            since = (None if self._last_frame_ns is None
                     else (now.nanoseconds - self._last_frame_ns) / 1e9)
            fps = float(self._rate.rate()) if since is not None and since <= STALE_INPUT_S else 0.0
            level, message = diagnostics_summary(state, since, fps, self._input_topic, last_error,
                                                 self._track_id)
            result = self._last_result
            values = {
                "state": state, "track_id": self._track_id if state in ON_TARGET_STATES or state == LOST else "",
                "score": float(result.score) if result is not None else 0.0,
                "processed_fps": fps, "frames_received": received,
                "frames_processed": self._processed, "frames_dropped": dropped,
                "frames_rejected": self._rejected,
                "latency_ms_p50": float(p50 or 0.0), "latency_ms_p95": float(p95 or 0.0),
                "processing_ms": float(self._processing_ms), "input_topic": self._input_topic,
                "model": self._model_summary if self._tracker is not None else "not loaded",
                "device": self._device, "last_error": last_error,
                "bearing": ("" if not self._camera_info_topic else
                            self._bearing_problem or (f"azimuth {math.degrees(self._bearing[0]):.2f} deg, "
                                                      f"elevation {math.degrees(self._bearing[1]):.2f} deg"
                                                      if self._bearing else "")),
            }
            lifecycle = self._lifecycle_diagnostics()
            if lifecycle is not None:
                values["lifecycle_state"] = lifecycle[0]
                level, message = lifecycle[1] or (level, message)
        self._diagnostics_pub.publish(diagnostic_array(
            now.to_msg(), f"{self.get_fully_qualified_name()}: tracker",
            self.get_fully_qualified_name(), level, message, values))

    def _publish_idle_status(self) -> None:
        now_ns = self.get_clock().now().nanoseconds
        if now_ns - self._last_status_ns > 900_000_000:
            self._publish_status(now_ns)

    def report_transport_settings(self, user_environment: dict, profile: Optional[str]) -> None:
        if profile:
            self.get_logger().info(f"Fast DDS profile: {profile} (set FASTDDS_DEFAULT_PROFILES_FILE "
                                   "to use another)")
        for warning in transport_warnings(user_environment, self._compressed):
            self.get_logger().warning(warning)

    def destroy_node(self) -> None:
        if hasattr(self, "_exchange"):        # absent when __init__ failed (bad parameters)
            self._stop_tracking("the node is shutting down")
        super().destroy_node()


class FARTrackNode(TrackerAdapter, Node):
    """The plain node: loads the model and starts tracking at construction. A model that does
    not load leaves it up in state error; setting a usable ``weights`` file recovers."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs) -> None:
        Node.__init__(self, node_name, **kwargs)
        self._init_adapter()
        error = self._load_model()
        # after the model: a client that sees the services finds the node ready
        self._create_interfaces()
        self._model_configured = True         # a later weights change loads the model
        if error:
            self.get_logger().error(f"{error} (set the 'weights' parameter to a valid file to "
                                    "recover)")
        self._start_tracking()


def run_node(create: Callable[[], Node], argv: Optional[list] = None,
             started: Optional[Callable[[Node], None]] = None) -> int:
    """Create the node, spin it until SIGINT or shutdown, destroy it; exit code 2 with the
    reason when its parameters are refused. ``started(node)`` runs before spinning."""
    # Before rclpy.init creates the participant: the shipped Fast DDS profile unless the user
    # named one (fartrack_ros.ros.dds); the warnings judge the environment as the user set it.
    user_environment = dict(os.environ)
    profile = use_shipped_profile()
    rclpy.init(args=sys.argv if argv is None else argv)
    try:
        node = create()
    except (ParameterException, InvalidParameterTypeException, InvalidParameterValueException,
            ValueError) as exc:
        print(f"{NODE_NAME}: error: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    node.report_transport_settings(user_environment, profile)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        if started is not None:
            started(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def main(argv: Optional[list] = None) -> int:
    """The plain node (`python -m fartrack_ros.ros.node`)."""
    return run_node(FARTrackNode, argv)


if __name__ == "__main__":
    sys.exit(main())
