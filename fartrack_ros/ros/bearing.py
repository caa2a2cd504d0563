"""Where the target is, in angles: the box centre as a unit ray in the camera optical frame
(x right, y down, z forward) through the camera model of sensor_msgs/CameraInfo. Pure numpy /
OpenCV (no rclpy): the node builds a CameraModel from the message fields and calls ``ray``.

Conventions (REP 104 / CameraInfo): K is for the full-resolution sensor; the image may be a
region of interest (roi offset) of it, binned (binning_x/y). Distortion models: plumb_bob and
rational_polynomial (cv2.undistortPoints, 4 to 14 coefficients), equidistant (cv2.fisheye);
no coefficients (or all zero) = no distortion. The ray is not rotated by R (rectification):
it is in the camera's own optical frame.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

PINHOLE_MODELS = ("plumb_bob", "rational_polynomial")
FISHEYE_MODELS = ("equidistant",)


@dataclass(frozen=True)
class CameraModel:
    k: tuple                      # 9 values, row-major 3x3
    d: tuple                      # distortion coefficients (may be empty)
    distortion_model: str
    width: int                    # 0 = unknown (uncalibrated)
    height: int
    binning: tuple = (1, 1)
    roi: tuple = (0, 0, 0, 0)     # x_offset, y_offset, width, height; zeros = the full sensor

    def problem(self) -> Optional[str]:
        """Why rays cannot be computed with this model, or None."""
        fx, fy = self.k[0], self.k[4]
        if not (math.isfinite(fx) and math.isfinite(fy)) or fx <= 0 or fy <= 0:
            return f"camera_info has no usable focal length (K = {list(self.k)})"
        if self.has_distortion() and self.distortion_model not in PINHOLE_MODELS + FISHEYE_MODELS:
            return (f"camera_info distortion model {self.distortion_model!r} is not supported "
                    f"(supported: {list(PINHOLE_MODELS + FISHEYE_MODELS)})")
        if self.distortion_model in FISHEYE_MODELS and self.has_distortion() and len(self.d) != 4:
            return f"equidistant distortion needs 4 coefficients, got {len(self.d)}"
        if (self.distortion_model in PINHOLE_MODELS and self.has_distortion()
                and len(self.d) not in (4, 5, 8, 12, 14)):
            return f"{self.distortion_model} needs 4, 5, 8, 12 or 14 coefficients, got {len(self.d)}"
        return None

    def has_distortion(self) -> bool:
        return any(v != 0.0 for v in self.d)

    def matches_image(self, width: int, height: int) -> Optional[str]:
        """Why the model does not fit an image of this size, or None (0 x 0 = unknown: fits)."""
        if not self.width or not self.height:
            return None
        bx, by = (max(1, b) for b in self.binning)
        expected = ((self.roi[2] or self.width) // bx, (self.roi[3] or self.height) // by)
        if expected != (width, height):
            return (f"camera_info expects {expected[0]}x{expected[1]} images (calibrated "
                    f"{self.width}x{self.height}, roi {list(self.roi)}, binning {bx}x{by}) but "
                    f"the image is {width}x{height}")
        return None

    def ray(self, u: float, v: float) -> tuple[float, float, float]:
        """Unit ray (x, y, z) through image pixel (u, v) (pixel centres at integers + 0.5 are
        not assumed: u, v in the same continuous coordinates as the box)."""
        bx, by = (max(1, b) for b in self.binning)
        full = np.array([[[u * bx + self.roi[0], v * by + self.roi[1]]]],
                        dtype=np.float64)
        k = np.array(self.k, dtype=np.float64).reshape(3, 3)
        if not self.has_distortion():
            x = (full[0, 0, 0] - k[0, 2] - k[0, 1] * (full[0, 0, 1] - k[1, 2]) / k[1, 1]) / k[0, 0]
            y = (full[0, 0, 1] - k[1, 2]) / k[1, 1]
        elif self.distortion_model in FISHEYE_MODELS:
            x, y = cv2.fisheye.undistortPoints(full, k, np.array(self.d, np.float64))[0, 0]
        else:
            # iterative inverse; more iterations than the default 5 for strong distortion
            x, y = cv2.undistortPointsIter(full, k, np.array(self.d, np.float64), None, None,
                                           (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS,
                                            100, 1e-12))[0, 0]
        norm = math.sqrt(x * x + y * y + 1.0)
        return float(x / norm), float(y / norm), float(1.0 / norm)


def azimuth_elevation(ray: Sequence[float]) -> tuple[float, float]:
    """Radians: azimuth positive to the right of the optical axis, elevation positive above."""
    x, y, z = ray
    return math.atan2(x, z), math.atan2(-y, math.hypot(x, z))
