"""`fartrack demo`: a real video through the ROS 2 node (see fartrack_ros.ros.demo)."""
from __future__ import annotations

import argparse

HELP = "play a video as a camera topic into the ROS 2 node; write overlay video + detections"


def add_node_arguments(p: argparse.ArgumentParser) -> None:
    """Options forwarded to fartrack_node as parameters (unset: the params file's value)."""
    p.add_argument("--weights", help="weights file (default: the shipped weights)")
    p.add_argument("--variant", choices=["tiny", "nano", "pico"])
    p.add_argument("--device", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, help="inference threads (0 = library default)")
    p.add_argument("--params-file", help="node parameter file (default: config/cpu_drone.yaml)")


def node_parameters_from_args(args) -> dict:
    names = ("weights", "variant", "device", "threads")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--video", help="video file or frame folder (default: opencv-doc's vtest.avi)")
    p.add_argument("--box", help="target x,y,w,h in the first frame (default: a pedestrian "
                   "in vtest.avi)")
    p.add_argument("--output", default="out/demo", help="output folder (default: out/demo)")
    p.add_argument("--rate", type=float, help="camera rate in Hz (default: the video's)")
    p.add_argument("--max-frames", type=int, help="stop the camera after this many frames")
    add_node_arguments(p)


def run(args) -> int:
    from ..ros.demo import print_summary, run_demo
    from ..runtime.video import parse_box_xywh

    box = parse_box_xywh(args.box) if args.box else None
    try:
        summary = run_demo(args.video, box, args.output, node_parameters_from_args(args),
                           args.params_file, args.rate, args.max_frames)
    except RuntimeError as exc:          # the node or camera process failed: say why
        print(f"fartrack demo: error: {exc}")
        return 1
    print_summary(summary)
    return 0
