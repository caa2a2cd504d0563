"""Overlay drawing shared by `fartrack track`, the demo and the node's debug image."""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from fartrack_ros.core.types import ON_TARGET_STATES, TrackResult

GREEN = (0, 200, 0)
RED = (0, 0, 230)


def draw_track_overlay(frame_bgr: np.ndarray, result: Optional[TrackResult],
                       fps: Optional[float] = None, label: str = "") -> np.ndarray:
    """Draw box, score, state and FPS on a copy of a BGR frame."""
    out = frame_bgr.copy()
    lines = []
    if result is not None:
        x, y, w, h = result.box_xywh
        colour = GREEN if result.state in ON_TARGET_STATES else RED
        cv2.rectangle(out, (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h))),
                      colour, 2)
        lines.append(f"{result.state} {result.score:.2f}")
    else:
        lines.append("no target")
    if fps is not None:
        lines.append(f"{fps:.1f} fps")
    if label:
        lines.append(label)
    for i, text in enumerate(lines):
        org = (8, 20 + 20 * i)
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return out
