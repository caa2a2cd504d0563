"""A camera stand-in: publishes a video file, or a generated scene, as sensor_msgs/Image at a
fixed rate with fresh stamps. Runs as its own process for the demo and the node benchmark:

    python -m fartrack_ros.ros.tools.camera --video vtest.avi --topic /demo/camera/image_raw
    python -m fartrack_ros.ros.tools.camera --synthetic 640x480 --rate 30 --duration 20 --topic ...

It prints a JSON line when the first frame is out, {"first_frame_stamp_ns": N}, and one at
the end: {"published": N, "stamps_ns": [first, last], "rate": Hz}.
The generated scene (``fartrack_ros.data.synthetic.SyntheticScene``) is a textured square moving
over a textured background; its true box is ``SyntheticScene.box_xywh``, so tests and benchmarks
know the answer.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Iterator, Optional

import cv2
import numpy as np

from fartrack_ros.data.synthetic import SyntheticScene
from fartrack_ros.data.video import open_frames


def parse_size(text: str) -> tuple[int, int]:
    """'640x480' -> (640, 480)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size must be WIDTHxHEIGHT, e.g. 640x480; got {text!r}") from None
    if width < 32 or height < 32:
        raise ValueError(f"size {text!r} is too small (at least 32x32)")
    return width, height


def frames_from(args) -> tuple[Iterator[np.ndarray], float]:
    if args.video:
        source = open_frames(args.video)
        return iter(source), (args.rate or source.fps)
    scene = SyntheticScene(parse_size(args.synthetic), seed=args.seed)
    rate = args.rate or 30.0

    def generate():
        index = 0
        while True:
            yield scene.frame_bgr(index)
            index += 1
    return generate(), rate


def main(argv: Optional[list] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--video", help="video file or folder of frames")
    src.add_argument("--synthetic", metavar="WxH", help="generated moving-square scene")
    p.add_argument("--topic", required=True)
    p.add_argument("--rate", type=float, default=None, help="Hz (default: the video's rate, 30)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--encoding", default="bgr8", choices=["bgr8", "rgb8"])
    p.add_argument("--frame-id", default="camera")
    p.add_argument("--depth", type=int, default=10, help="publisher history depth (reliable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--wait-subscribers", type=int, default=1,
                   help="wait until this many subscribers matched before the first frame")
    p.add_argument("--wait-timeout", type=float, default=60.0)
    p.add_argument("--settle", type=float, default=0.5,
                   help="seconds between matching and the first frame")
    args, ros_args = p.parse_known_args(argv)

    import rclpy
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from fartrack_ros.ros.conversions import image_msg_from_array

    frames, rate = frames_from(args)
    rclpy.init(args=[sys.argv[0], *ros_args])
    node = rclpy.create_node("fartrack_camera")
    # Reliable with a few frames of history: best-effort subscribers (the node) get the newest
    # frame, a reliable one (the demo's recorder) gets every frame even when it acks late.
    publisher = node.create_publisher(Image, args.topic, QoSProfile(
        depth=args.depth, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE))
    deadline = time.monotonic() + args.wait_timeout
    next_report = time.monotonic() + 5.0
    while publisher.get_subscription_count() < args.wait_subscribers:
        if time.monotonic() > next_report:
            next_report += 5.0
            print(f"camera: {publisher.get_subscription_count()} of {args.wait_subscribers} "
                  f"subscribers on {args.topic} so far", file=sys.stderr, flush=True)
        if time.monotonic() > deadline:
            print(f"camera: only {publisher.get_subscription_count()} of "
                  f"{args.wait_subscribers} subscribers on {args.topic} after "
                  f"{args.wait_timeout} s", file=sys.stderr)
            return 3
        time.sleep(0.05)
    # Matching is seen here before the subscribers have matched this publisher in turn; a
    # frame sent in between is lost for them.
    time.sleep(args.settle)

    period = 1.0 / rate
    published, first_ns, last_ns = 0, 0, 0
    start = last_sent = time.monotonic()
    try:
        for frame in frames:
            if args.max_frames is not None and published >= args.max_frames:
                break
            if args.duration is not None and time.monotonic() - start >= args.duration:
                break
            # absolute schedule: a late frame does not delay the following ones
            delay = start + published * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pixels = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if args.encoding == "rgb8" else frame
            now = node.get_clock().now()
            msg = image_msg_from_array(pixels, args.encoding,
                                       Header(stamp=now.to_msg(), frame_id=args.frame_id))
            publisher.publish(msg)
            last_sent = time.monotonic()
            last_ns = now.nanoseconds
            if not first_ns:                  # tells a waiting client which stamp frame 0 has
                first_ns = last_ns
                print(json.dumps({"first_frame_stamp_ns": first_ns}), flush=True)
            published += 1
    except KeyboardInterrupt:
        pass
    # rate over the publish instants: n frames span n - 1 periods
    elapsed = last_sent - start
    # Let the last frames reach the subscribers before this process (and its transport) ends.
    from rclpy.duration import Duration
    publisher.wait_for_all_acked(Duration(seconds=2.0))
    time.sleep(0.3)
    print(json.dumps({"published": published, "stamps_ns": [first_ns, last_ns],
                      "rate": round((published - 1) / elapsed, 2) if elapsed > 0 else 0.0}),
          flush=True)
    node.destroy_publisher(publisher)       # before the node: destroying both at once has hung
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
