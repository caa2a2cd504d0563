"""The node's parameters: one table, used to declare them (with descriptors), to validate every
change, to build the tracker config, and by the tests that check launch files and YAML configs.

Pure Python (no rclpy), so the tables can be checked without a ROS installation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

from ..config import DEVICES, VARIANT_DEPTHS, TrackerConfig

ParameterValue = Union[bool, int, float, str]


@dataclass(frozen=True)
class NodeParameter:
    name: str
    default: ParameterValue
    description: str
    read_only: bool = False             # fixed at start-up (topics, QoS)
    choices: tuple[str, ...] = ()
    int_range: Optional[tuple[int, int]] = None
    float_range: Optional[tuple[float, float]] = None
    rebuilds_tracker: bool = False      # a change loads the model again (and drops the target)


QOS_RELIABILITIES = ("best_effort", "reliable")

# The managed node's own parameter (the plain node starts tracking at once).
LIFECYCLE_PARAMETERS: dict[str, NodeParameter] = {p.name: p for p in (
    NodeParameter("autostart", False, "managed node only: configure and activate at start-up "
                  "(the launch file sets it); false = wait for the lifecycle services",
                  read_only=True),
)}

NODE_PARAMETERS: dict[str, NodeParameter] = {p.name: p for p in (
    NodeParameter("weights", "", "official .pth.tar or own .safetensors weights file; "
                  "empty = the weights shipped with the package", rebuilds_tracker=True),
    NodeParameter("variant", "pico", "model depth: tiny (15 blocks), nano (10) or pico (6)",
                  choices=tuple(VARIANT_DEPTHS), rebuilds_tracker=True),
    NodeParameter("backend", "auto", "inference backend ('auto' = fastest exact one)",
                  rebuilds_tracker=True),
    NodeParameter("device", "cpu", "cpu or cuda (at start-up, cuda falls back to cpu with a "
                  "warning when CUDA is absent)", choices=DEVICES, rebuilds_tracker=True),
    NodeParameter("threads", 0, "CPU threads for inference; 0 = the library default",
                  int_range=(0, 256), rebuilds_tracker=True),
    NodeParameter("lost_threshold", TrackerConfig().lost_threshold,
                  "confidence below which the target counts as lost (no detection published)",
                  float_range=(0.0, 1.0)),
    NodeParameter("lost_enter_frames", TrackerConfig().lost_enter_frames,
                  "consecutive frames below lost_threshold before the state turns lost",
                  int_range=(1, 1000), rebuilds_tracker=True),
    NodeParameter("lost_exit_frames", TrackerConfig().lost_exit_frames,
                  "consecutive frames at or above lost_threshold before lost turns tracking",
                  int_range=(1, 1000), rebuilds_tracker=True),
    NodeParameter("reacquire", TrackerConfig().reacquire,
                  "while lost, search wider and re-lock (needs weights with a score head)",
                  rebuilds_tracker=True),
    NodeParameter("reacquire_crops", TrackerConfig().reacquire_crops,
                  "extra search crops per lost frame", int_range=(0, 64), rebuilds_tracker=True),
    NodeParameter("reacquire_threshold", TrackerConfig().reacquire_threshold,
                  "confidence a wider-search candidate needs to re-lock",
                  float_range=(0.0, 1.0), rebuilds_tracker=True),
    NodeParameter("image_topic", "image", "input image topic (remappable); with compressed:=true "
                  "the node subscribes to <image_topic, remapped>/compressed", read_only=True),
    NodeParameter("compressed", False, "subscribe to sensor_msgs/CompressedImage instead of "
                  "sensor_msgs/Image", read_only=True),
    NodeParameter("qos_depth", 1, "image subscription history depth (keep last)",
                  read_only=True, int_range=(1, 100)),
    NodeParameter("qos_reliability", "best_effort", "image subscription reliability",
                  read_only=True, choices=QOS_RELIABILITIES),
    NodeParameter("frame_history", 30, "recent frames kept so that set_target can initialise "
                  "on the frame the box was drawn on", read_only=True, int_range=(1, 300)),
    NodeParameter("camera_info_topic", "", "sensor_msgs/CameraInfo topic for the target's "
                  "bearing (~/target_bearing, azimuth/elevation in ~/status); empty = "
                  "camera_info beside the remapped image topic (image_transport's convention), "
                  "'none' = no bearing", read_only=True),
    NodeParameter("debug_image", True, "publish ~/debug_image (box, score, state, FPS) while "
                  "someone subscribes to it"),
    NodeParameter("class_id", "target", "class_id of the published hypothesis"),
)}


def check_parameter(name: str, value: Any,
                    extra: Optional[Mapping[str, NodeParameter]] = None) -> Optional[str]:
    """The reason ``value`` is not acceptable for parameter ``name``, or None when it is.
    ``extra``: parameters a node declares besides NODE_PARAMETERS (the managed node's)."""
    spec = NODE_PARAMETERS.get(name) or (extra or {}).get(name)
    if spec is None:
        return f"unknown parameter {name!r}; known: {sorted({*NODE_PARAMETERS, *(extra or {})})}"
    expected = type(spec.default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not expected:
        return (f"parameter {name!r} must be a {expected.__name__}, "
                f"got {type(value).__name__} {value!r}")
    if spec.choices and value not in spec.choices:
        return f"parameter {name!r}: {value!r} is not one of {list(spec.choices)}"
    if spec.int_range and not spec.int_range[0] <= value <= spec.int_range[1]:
        return f"parameter {name!r}: {value} is outside {spec.int_range[0]}..{spec.int_range[1]}"
    if spec.float_range and not spec.float_range[0] <= value <= spec.float_range[1]:
        return (f"parameter {name!r}: {value} is outside "
                f"[{spec.float_range[0]}, {spec.float_range[1]}]")
    if name == "backend" and value != "auto":
        from ..runtime.backends import known_backends
        if value not in known_backends():
            return f"parameter 'backend': {value!r} is not 'auto' or one of {known_backends()}"
    if name == "image_topic" and not value.strip():
        return "parameter 'image_topic' must not be empty"
    return None


def tracker_config_from_parameters(values: Mapping[str, Any]) -> TrackerConfig:
    """TrackerConfig from parameter values (missing names take their defaults)."""
    def get(name):
        return values.get(name, NODE_PARAMETERS[name].default)

    return TrackerConfig(weights=get("weights") or None, variant=get("variant"),
                         backend=get("backend"), device=get("device"),
                         threads=get("threads") or None,
                         lost_threshold=float(get("lost_threshold")),
                         lost_enter_frames=get("lost_enter_frames"),
                         lost_exit_frames=get("lost_exit_frames"), reacquire=get("reacquire"),
                         reacquire_crops=get("reacquire_crops"),
                         reacquire_threshold=float(get("reacquire_threshold")))
