"""`fartrack_follow`: a follower example. Reads fartrack_node's ~/status (bearing and box size)
and publishes geometry_msgs/Twist: yaw rate towards the target, forward speed that keeps the
box at a set height; zero when the target is not tracked, has no bearing, or the status is
stale. Two launch lines make a follower robot:

    python -m fartrack_ros.ros.node --ros-args -r image:=/camera/image_raw
    python -m fartrack_ros.ros.follow --ros-args -p target_box_height:=120.0

Interfaces: sub `status` (fartrack_ros/TrackStatus; default fartrack_node/status, remap it),
pub `cmd_vel` (geometry_msgs/Twist, REP 103: +x forward, +yaw turns left), at `rate` Hz.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Optional

FOLLOW_NODE_NAME = "fartrack_follow"


@dataclass(frozen=True)
class FollowLimits:
    yaw_gain: float = 1.5              # rad/s of yaw rate per rad of azimuth
    max_yaw_rate: float = 1.0          # rad/s
    target_box_height: float = 120.0   # px: the box height to keep (distance to the target)
    forward_gain: float = 0.8          # m/s per unit of relative size error
    max_forward: float = 0.5           # m/s
    max_backward: float = 0.0          # m/s (0: never reverse)
    timeout: float = 0.5               # s: status (image stamp) older than this -> stop


def follow_command(state: str, bearing_valid: bool, azimuth: float, box_height: float,
                   age_s: Optional[float], limits: FollowLimits) -> tuple[float, float]:
    """(forward m/s, yaw rate rad/s). Zero unless tracking with a bearing and fresh."""
    if (state not in ("tracking", "reacquired") or not bearing_valid or age_s is None or age_s > limits.timeout
            or not math.isfinite(azimuth) or box_height <= 0):
        return 0.0, 0.0
    # azimuth > 0: target to the right; REP 103 yaw > 0 turns left, hence the minus
    yaw = max(-limits.max_yaw_rate, min(limits.max_yaw_rate, -limits.yaw_gain * azimuth))
    error = 1.0 - box_height / limits.target_box_height     # > 0: box too small, target far
    forward = max(-limits.max_backward, min(limits.max_forward, limits.forward_gain * error))
    return forward, yaw


def main(argv: Optional[list] = None) -> int:
    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.executors import ExternalShutdownException
    from rclpy.node import Node

    from fartrack_ros.msg import TrackStatus

    from fartrack_ros.ros.conversions import stamp_to_ns

    class FollowNode(Node):
        def __init__(self) -> None:
            super().__init__(FOLLOW_NODE_NAME)
            defaults = FollowLimits()
            values = {name: self.declare_parameter(name, getattr(defaults, name)).value
                      for name in FollowLimits.__dataclass_fields__}
            rate = self.declare_parameter("rate", 20.0).value
            problems = [f"{n} must be >= 0, got {v}" for n, v in values.items() if v < 0]
            if values["target_box_height"] <= 0 or rate <= 0:
                problems.append("target_box_height and rate must be > 0")
            if problems:
                raise ValueError("; ".join(problems))
            self.limits = FollowLimits(**{k: float(v) for k, v in values.items()})
            self.status: Optional[TrackStatus] = None
            self.create_subscription(TrackStatus, "fartrack_node/status", self.on_status, 10)
            self.publisher = self.create_publisher(Twist, "cmd_vel", 10)
            self.create_timer(1.0 / rate, self.on_timer)
            self.get_logger().info(f"following {self.resolve_topic_name('fartrack_node/status')} "
                                   f"-> {self.resolve_topic_name('cmd_vel')}; {self.limits}")

        def on_status(self, msg) -> None:
            self.status = msg

        def on_timer(self) -> None:
            s = self.status
            twist = Twist()
            if s is not None:
                stamp_ns = stamp_to_ns(s.header.stamp)
                age = (self.get_clock().now().nanoseconds - stamp_ns) / 1e9 if stamp_ns else None
                twist.linear.x, twist.angular.z = follow_command(
                    s.state_name, s.bearing_valid, s.azimuth, s.height, age, self.limits)
            self.publisher.publish(twist)

    rclpy.init(args=sys.argv if argv is None else argv)
    try:
        node = FollowNode()
    except ValueError as exc:
        print(f"{FOLLOW_NODE_NAME}: error: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if rclpy.ok():
            node.publisher.publish(Twist())      # leave the robot stopped
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
