"""A client of fartrack_node written only against its public interfaces: the topic and service
names and types in the README, plain rclpy, numpy and the message packages. It imports nothing
from fartrack_ros except the generated message/service types.

    python independent_client.py /namespace/fartrack_node /namespace/image

Publishes a generated scene, sets the target, checks the detections, calls stop. Prints one
JSON object ({"ok": bool, "failures": [...], ...}) and exits 0 when every check passed.
"""
import json
import sys
import time

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2DArray

from fartrack_ros.srv import SetTarget

WIDTH, HEIGHT = 256, 192


def scene_frame(index, rng_background, patch):
    x, y = 40 + 3 * index, 50 + 2 * index
    frame = rng_background.copy()
    frame[y:y + patch.shape[0], x:x + patch.shape[1]] = patch
    return frame, (x, y, patch.shape[1], patch.shape[0])


def main():
    node_name, image_topic = sys.argv[1], sys.argv[2]
    rclpy.init()
    node = rclpy.create_node("independent_client")
    failures = []
    received = {}

    def on_detections(msg):
        received[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = msg

    node.create_subscription(Detection2DArray, node_name + "/detections", on_detections, 50)
    publisher = node.create_publisher(Image, image_topic,
                                      QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    set_target = node.create_client(SetTarget, node_name + "/set_target")
    stop = node.create_client(Trigger, node_name + "/stop")

    def spin_for(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.01)

    def call(client, request):
        future = client.call_async(request)
        rclpy.spin_until_future_complete(node, future, timeout_sec=20.0)
        if not future.done():
            raise RuntimeError(f"{client.srv_name} did not answer")
        return future.result()

    rng = np.random.default_rng(7)
    background = rng.integers(0, 120, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    patch = rng.integers(150, 256, size=(36, 48, 3), dtype=np.uint8)
    published = []

    def publish(index):
        frame, box = scene_frame(index, background, patch)
        now = node.get_clock().now().to_msg()
        msg = Image(height=HEIGHT, width=WIDTH, encoding="bgr8", step=WIDTH * 3,
                    data=frame.tobytes())
        msg.header.stamp, msg.header.frame_id = now, "independent_camera"
        publisher.publish(msg)
        published.append((now.sec, now.nanosec))
        spin_for(0.05)
        return (now.sec, now.nanosec), box

    deadline = time.monotonic() + 60
    while not (set_target.service_is_ready() and stop.service_is_ready()
               and publisher.get_subscription_count() > 0):
        if time.monotonic() > deadline:
            missing = [what for what, ready in (
                ("set_target service", set_target.service_is_ready()),
                ("stop service", stop.service_is_ready()),
                ("image subscriber", publisher.get_subscription_count() > 0)) if not ready]
            seen = sorted(f"{ns.rstrip('/')}/{name}" for name, ns in node.get_node_names_and_namespaces())
            print(json.dumps({"ok": False, "failures": [
                f"node not found after 60 s: no {', '.join(missing)}; nodes seen: {seen}"]}))
            return 1
        spin_for(0.05)

    publish(0)              # warm-up: a best-effort reader can miss the first frame after matching
    spin_for(0.3)
    first_stamp, first_box = publish(1)
    for i in range(2, 4):
        publish(i)
    request = SetTarget.Request()
    request.x, request.y, request.width, request.height = (float(v) for v in first_box)
    request.stamp = Time(sec=first_stamp[0], nanosec=first_stamp[1])
    response = call(set_target, request)
    if not response.success:
        failures.append(f"set_target failed: {response.message}")
    if not response.initialized_on_stamped_frame:
        failures.append("set_target did not use the stamped frame")
    if (response.x, response.y, response.width, response.height) != tuple(map(float, first_box)):
        failures.append(f"box used {response.x, response.y, response.width, response.height} "
                        f"!= requested {first_box}")

    tracked = [publish(i)[0] for i in range(4, 24)]
    spin_for(1.0)
    answered = [s for s in tracked if s in received]
    # dropping frames under load is intended (keep-latest slot); a few must be answered
    if len(answered) < min(3, len(tracked)):
        failures.append(f"detections for only {len(answered)} of {len(tracked)} frames")
    if set(received) - set(published):
        failures.append("a detection carries a stamp no image had")
    for stamp in answered:
        msg = received[stamp]
        if msg.header.frame_id != "independent_camera":
            failures.append(f"frame_id {msg.header.frame_id!r} not copied")
            break
        if len(msg.detections) != 1 or msg.detections[0].id != response.track_id:
            failures.append(f"expected one detection with id {response.track_id!r}")
            break

    bad = SetTarget.Request()
    bad.x, bad.y, bad.width, bad.height = 10.0, 10.0, 0.0, 0.0
    bad_response = call(set_target, bad)
    if bad_response.success or not bad_response.message:
        failures.append("a zero-size box was accepted or refused without a reason")

    stopped = call(stop, Trigger.Request())
    if not stopped.success:
        failures.append(f"stop failed: {stopped.message}")
    after = [publish(i)[0] for i in range(24, 28)]
    spin_for(1.0)
    if any(received[s].detections for s in after if s in received):
        failures.append("detections published after stop")
    if not any(s in received for s in after):
        failures.append("no detection arrays after stop (expected empty ones)")

    print(json.dumps({"ok": not failures, "failures": failures, "published": len(published),
                      "answered": len(answered), "track_id": response.track_id}))
    node.destroy_node()
    rclpy.try_shutdown()
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
