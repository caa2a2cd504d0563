"""The node's parameters: one table, used to declare them (with descriptors), to validate every
change, to build the tracker config, and by the tests that check launch files, YAML configs and
the README's table.

The tracker's parameters are made from TrackerConfig's fields (name, type, default,
description, choices, range: fartrack_ros.config.option), so the node restates none of them;
only what is the node's own is written here (its topics, QoS, outputs, and which changes load
the model again).

Pure Python (no rclpy), so the tables can be checked without a ROS installation.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

from fartrack_ros.config import TrackerConfig

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

# What the node adds to a tracker field's description.
NODE_NOTES = {"device": "at start-up, cuda falls back to cpu with a warning when CUDA is absent"}
# Tracker fields applied to the running tracker; a change of any other loads the model again.
APPLIED_LIVE = {"lost_threshold"}


def tracker_parameter(f: dataclasses.Field) -> NodeParameter:
    """The node parameter of one TrackerConfig field: None (an optional field's default) is
    written as the field's ``unset`` value ('' or 0), which widens the range by that value."""
    meta = f.metadata
    optional = f.default is None
    default = meta["unset"] if optional else f.default
    description = meta["description"]
    if optional:
        description += f"; {default!r} = {meta['unset_means']}"
    if f.name in NODE_NOTES:
        description += f" ({NODE_NOTES[f.name]})"
    bounds = meta["bounds"]
    if bounds is not None and optional:
        bounds = (min(bounds[0], default), bounds[1])
    kind = type(default)
    return NodeParameter(f.name, default, description, choices=meta["choices"],
                         int_range=bounds if bounds and kind is int else None,
                         float_range=bounds if bounds and kind is float else None,
                         rebuilds_tracker=f.name not in APPLIED_LIVE)


TRACKER_PARAMETERS: dict[str, NodeParameter] = {
    f.name: tracker_parameter(f) for f in dataclasses.fields(TrackerConfig)}

NODE_PARAMETERS: dict[str, NodeParameter] = {**TRACKER_PARAMETERS, **{p.name: p for p in (
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
)}}


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
        from fartrack_ros.runtime.backends import known_backends
        if value not in known_backends():
            return f"parameter 'backend': {value!r} is not 'auto' or one of {known_backends()}"
    if name == "image_topic" and not value.strip():
        return "parameter 'image_topic' must not be empty"
    return None


def tracker_config_from_parameters(values: Mapping[str, Any]) -> TrackerConfig:
    """TrackerConfig from parameter values (missing names take their defaults; an optional
    field's ``unset`` value is None)."""
    hints = typing.get_type_hints(TrackerConfig)
    kwargs = {}
    for f in dataclasses.fields(TrackerConfig):
        value = values.get(f.name, NODE_PARAMETERS[f.name].default)
        if f.default is None and value == f.metadata["unset"]:
            value = None
        elif hints[f.name] is float:
            value = float(value)
        kwargs[f.name] = value
    return TrackerConfig(**kwargs)
