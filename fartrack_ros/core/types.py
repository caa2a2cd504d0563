"""Result types shared by the runtime, the tools and the ROS node."""
from __future__ import annotations

from dataclasses import dataclass

TRACKING = "tracking"
LOST = "lost"
REACQUIRED = "reacquired"      # the frame re-acquisition re-locked on the target (else tracking)
ON_TARGET_STATES = (TRACKING, REACQUIRED)   # the box is meant to be on the target: act on it


@dataclass(frozen=True)
class TrackResult:
    box_xywh: tuple[float, float, float, float]   # image pixels
    score: float                                    # confidence in [0, 1]
    state: str                                      # TRACKING, LOST or REACQUIRED
    frame_index: int                                # 1 for the first frame after initialize()
