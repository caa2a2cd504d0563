"""The target's bearing: a unit ray in the camera optical frame through the box centre,
undistorted with the CameraInfo's model (fartrack_ros.ros.bearing), published by the node on
~/target_bearing with azimuth/elevation in ~/status. Rays are checked against values worked out
by hand (the forward plumb_bob model written out here, not OpenCV's)."""
from __future__ import annotations

# First: skips this module where ROS is missing; fixtures come from here too.
from ros_harness import DOMAIN_ID, random_weights, start_node  # noqa: F401 (fixtures)

import math
import threading
import time

import pytest
from geometry_msgs.msg import Vector3Stamped
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from fartrack_ros.ros.bearing import CameraModel, azimuth_elevation
from fartrack_ros.ros.tools.camera import SyntheticScene
from fartrack_ros.ros.tools.client import TrackerClient
from fartrack_ros.ros.conversions import image_msg_from_array, ns_to_stamp, stamp_to_ns

K_640 = (500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0)
D = (-0.2, 0.05, 0.0, 0.0, 0.0)         # k1, k2, p1, p2, k3


def unit(x, y, z=1.0):
    n = math.sqrt(x * x + y * y + z * z)
    return x / n, y / n, z / n


def assert_ray(actual, expected, tol=1e-9):
    assert all(abs(a - e) < tol for a, e in zip(actual, expected)), (actual, expected)


# ------------------------------------------------------------------ the model, by hand

def test_ray_without_distortion():
    model = CameraModel(K_640, (), "", 640, 480)
    assert_ray(model.ray(320, 240), (0.0, 0.0, 1.0))
    assert_ray(model.ray(420, 240), unit(0.2, 0.0))          # (420 - 320) / 500
    assert_ray(model.ray(320, 140), unit(0.0, -0.2))         # above the axis: y < 0
    az, el = azimuth_elevation(model.ray(420, 140))
    assert az == pytest.approx(math.atan2(0.2, 1.0))
    assert el == pytest.approx(math.atan2(0.2, math.hypot(0.2, 1.0)))
    # all-zero coefficients count as no distortion
    assert_ray(CameraModel(K_640, (0.0,) * 5, "plumb_bob", 640, 480).ray(420, 240), unit(0.2, 0.0))


def test_ray_through_plumb_bob_distortion():
    # normalised (0.3, -0.1): r^2 = 0.1, radial factor 1 - 0.2*0.1 + 0.05*0.01 = 0.9805,
    # distorted (0.29415, -0.09805), pixel (500*0.29415 + 320, 500*-0.09805 + 240)
    model = CameraModel(K_640, D, "plumb_bob", 640, 480)
    assert_ray(model.ray(467.075, 190.975), unit(0.3, -0.1), tol=1e-9)
    # tangential: p1 = 0.01 at normalised (0.2, 0.1): r^2 = 0.05,
    # x_d = 0.2 + 2*0.01*0.2*0.1 = 0.2004, y_d = 0.1 + 0.01*(0.05 + 2*0.01) = 0.1007
    model = CameraModel(K_640, (0.0, 0.0, 0.01, 0.0, 0.0), "plumb_bob", 640, 480)
    assert_ray(model.ray(320 + 500 * 0.2004, 240 + 500 * 0.1007), unit(0.2, 0.1), tol=1e-9)


def test_ray_of_a_binned_region_of_interest():
    # the image is sensor columns 100..499 binned 2x2: image (50, 40) = sensor (2*50 + 100, 2*40)
    model = CameraModel(K_640, (), "", 640, 480, binning=(2, 2), roi=(100, 0, 400, 480))
    assert model.matches_image(200, 240) is None
    assert_ray(model.ray(50, 40), unit((200 - 320) / 500, (80 - 240) / 500))


def test_unusable_models_say_why():
    assert "focal length" in CameraModel((0.0,) * 9, (), "", 0, 0).problem()
    assert "not supported" in CameraModel(K_640, (0.1, 0, 0, 0), "weird", 640, 480).problem()
    assert "640x480" in CameraModel(K_640, (), "", 640, 480).matches_image(320, 240)
    assert CameraModel(K_640, (), "", 0, 0).matches_image(320, 240) is None


# ------------------------------------------------------------------ the node

def camera_info(stamp_ns: int, frame_id: str, size=(320, 240)) -> CameraInfo:
    scale = size[0] / 640
    k = [v * scale for v in K_640[:6]] + [0.0, 0.0, 1.0]
    return CameraInfo(header=Header(stamp=ns_to_stamp(stamp_ns), frame_id=frame_id),
                      width=size[0], height=size[1], distortion_model="plumb_bob", d=list(D), k=k)


def project_by_hand(ray, size=(320, 240)):
    """The forward plumb_bob model (radial k1, k2) for CameraInfo above: ray -> pixel."""
    scale = size[0] / 640
    fx, cx, cy = 500 * scale, 320 * scale, 240 * scale
    x, y = ray[0] / ray[2], ray[1] / ray[2]
    r2 = x * x + y * y
    factor = 1 + D[0] * r2 + D[1] * r2 * r2
    return fx * x * factor + cx, fx * y * factor + cy


def test_node_publishes_the_bearing_of_the_tracked_box(start_node, random_weights):
    node = start_node({"weights": random_weights, "lost_threshold": 0.0, "threads": 1})
    lock, bearings = threading.Lock(), {}

    def on_bearing(msg: Vector3Stamped) -> None:
        with lock:
            bearings[stamp_to_ns(msg.header.stamp)] = msg

    client = TrackerClient(node.fqn, image_topic=f"{node.namespace}/image", domain_id=DOMAIN_ID,
                           extra_subscriptions=[(Vector3Stamped, f"{node.fqn}/target_bearing",
                                                 on_bearing, 50)])
    info_pub = client.node.create_publisher(CameraInfo, f"{node.namespace}/camera_info", 10)
    scene = SyntheticScene((320, 240), seed=6)
    try:
        assert client.wait_for_node(60), f"{node.output()}\n{client.discovery_report()}"
        assert client.wait_for(lambda: info_pub.get_subscription_count() > 0, 10), node.output()

        def publish(index, frame_id="camera_optical"):
            stamp_ns = client.now_ns()
            info_pub.publish(camera_info(stamp_ns, frame_id))
            client.publish_image(image_msg_from_array(
                scene.frame_bgr(index), "bgr8", Header(stamp=ns_to_stamp(stamp_ns),
                                                       frame_id="camera_optical")))
            time.sleep(1 / 15)
            return stamp_ns

        assert client.wait_for(lambda: publish(0) and client.set_target(scene.box_xywh(0)).success,
                               10.0, poll=0.2)
        stamps = [publish(i) for i in range(1, 25)]
        assert client.wait_for(lambda: len([s for s in stamps if s in bearings]) >= 3, 10.0), \
            node.output()
        detections = client.detections_by_stamp()
        checked = 0
        for stamp in stamps:
            if stamp not in bearings or stamp not in detections or not detections[stamp].detections:
                continue
            msg = bearings[stamp]
            assert msg.header.frame_id == "camera_optical"
            ray = (msg.vector.x, msg.vector.y, msg.vector.z)
            assert math.sqrt(sum(v * v for v in ray)) == pytest.approx(1.0) and ray[2] > 0
            centre = detections[stamp].detections[0].bbox.center.position
            u, v = project_by_hand(ray)
            assert (u, v) == (pytest.approx(centre.x, abs=1e-4), pytest.approx(centre.y, abs=1e-4))
            checked += 1
        assert checked >= 3
        # ~/status carries the angles of the last processed frame's ray
        last = max(s for s in stamps if s in bearings)
        statuses = [r.message for r in client.snapshot("statuses")
                    if stamp_to_ns(r.message.header.stamp) == last]
        assert statuses and statuses[-1].bearing_valid
        ray = bearings[last].vector
        az, el = azimuth_elevation((ray.x, ray.y, ray.z))
        assert (statuses[-1].azimuth, statuses[-1].elevation) == (pytest.approx(az), pytest.approx(el))

        # a CameraInfo of another frame: no bearing, a reason, tracking goes on
        before = client.now_ns()
        wrong = [publish(i, frame_id="other_camera") for i in range(25, 35)]
        assert client.wait_for(lambda: any("does not match the image frame_id" in r.message.last_error
                                           for r in client.snapshot("statuses")
                                           if r.received_ns > before), 10.0), node.output()
        time.sleep(0.5)
        assert not [s for s in wrong if s in bearings]
        tracked = [s for s in wrong if s in client.detections_by_stamp()]
        assert tracked, "tracking stopped"
        late = [r.message for r in client.snapshot("statuses")
                if stamp_to_ns(r.message.header.stamp) in tracked]
        assert late and not late[-1].bearing_valid
    finally:
        client.close()
