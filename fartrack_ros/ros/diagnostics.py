"""The node's state as a diagnostic_msgs/DiagnosticStatus for /diagnostics (the topic
diagnostic_aggregator, rqt_runtime_monitor and fleet tools read), beside ~/status."""
from __future__ import annotations

from typing import Mapping

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

# No frame for this long while a target is set (or ever, after start-up): WARN "no frames".
STALE_INPUT_S = 3.0


def summary(state: str, seconds_since_frame: float | None, fps: float, input_topic: str,
            last_error: str, track_id: str) -> tuple[bytes, str]:
    """(level, message) of the node: ERROR without a model, WARN when frames stopped or the
    target is lost, else OK."""
    if state == "error":
        return DiagnosticStatus.ERROR, last_error or "no model loaded"
    if seconds_since_frame is None:
        return DiagnosticStatus.WARN, f"no frame received yet on {input_topic}"
    if seconds_since_frame > STALE_INPUT_S:
        return DiagnosticStatus.WARN, (f"no frame on {input_topic} for "
                                       f"{seconds_since_frame:.0f} s")
    if state == "lost":
        return DiagnosticStatus.WARN, f"target {track_id} lost"
    if state in ("tracking", "reacquired"):
        return DiagnosticStatus.OK, f"tracking target {track_id} at {fps:.1f} fps"
    return DiagnosticStatus.OK, f"idle (no target set), frames at {fps:.1f} fps"


def diagnostic_array(stamp, name: str, hardware_id: str, level: bytes, message: str,
                     values: Mapping[str, object]) -> DiagnosticArray:
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id,
                              values=[KeyValue(key=k, value=_text(v)) for k, v in values.items()])
    array = DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
