"""`fartrack demo`: a real video through the ROS 2 node (see fartrack_ros.ros.tools.demo)."""
from __future__ import annotations

import argparse

from fartrack_ros.cli.common import BACKENDS, DEVICES, VARIANTS, non_negative_int, positive_int

HELP = "play a video as a camera topic into the ROS 2 node; write overlay video + detections"

DESCRIPTION = """\
Three processes over ROS 2: a camera that plays the video at its native rate, fartrack_node
(parameters from --params-file, overridden by the options below), and a recorder that sets the
target through the node's set_target service (stamped with the first frame) and writes, in
--output: overlay.mp4 (every camera frame with the box the node published for it),
detections.jsonl (one line per camera frame), summary.json, node.log and camera.log.
Prints the processed frames/s, the dropped frames and the latency percentiles.
Needs the ROS 2 environment of the project's venv (make env)."""

EXAMPLES = """\
examples:
  make demo                                   # the same as: fartrack demo (out/demo/)
  fartrack demo --video my.mp4 --box 100,80,40,90 --variant nano --output out/mine
  fartrack demo --weights FARTrackSparse_ep0015.pth.tar --max-frames 200
"""


def add_node_arguments(p: argparse.ArgumentParser, default_variant: str | None = None) -> None:
    """Options forwarded to fartrack_node as parameters (unset: the params file's value)."""
    p.add_argument("--weights", metavar="FILE",
                   help="official FARTrack*.pth.tar checkpoint or a .safetensors file written by "
                        "fartrack (default: the params file's; '' there = the shipped weights)")
    p.add_argument("--variant", choices=VARIANTS, default=default_variant,
                   help="model depth: tiny (15 blocks), nano (10) or pico (6) "
                        f"(default: {default_variant or 'the params file' + chr(39) + 's'})")
    p.add_argument("--backend", choices=("auto",) + BACKENDS,
                   help="inference backend (default: the params file's; auto = the fastest "
                        "exact one)")
    p.add_argument("--device", choices=DEVICES, help="where the model runs (default: the params file's)")
    p.add_argument("--threads", type=non_negative_int, metavar="N",
                   help="CPU threads for inference, 0 = the library default "
                        "(default: the params file's)")
    p.add_argument("--params-file", metavar="YAML",
                   help="node parameter file (default: config/cpu_drone.yaml: Pico on the CPU, "
                        "2 threads)")


def node_parameters_from_args(args) -> dict:
    names = ("weights", "variant", "backend", "device", "threads")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--video", metavar="FILE",
                   help="video file or frame folder (default: opencv-doc's vtest.avi, fetched "
                        "by scripts/get_demo_video.sh)")
    p.add_argument("--box", metavar="X,Y,W,H",
                   help="target in the first frame, pixels (default: the pedestrian on the right "
                        "of vtest.avi, 639,240,46,82; required with --video)")
    p.add_argument("--output", default="out/demo", metavar="DIR", help="output folder (default: out/demo)")
    p.add_argument("--rate", type=float, metavar="HZ", help="camera rate in Hz (default: the video's)")
    p.add_argument("--max-frames", type=positive_int, metavar="N",
                   help="stop the camera after N frames (default: the whole video)")
    add_node_arguments(p)


def run(args) -> int:
    from fartrack_ros.ros.tools.demo import print_summary, run_demo
    from fartrack_ros.data.video import parse_box_xywh

    box = parse_box_xywh(args.box) if args.box else None
    try:
        summary = run_demo(args.video, box, args.output, node_parameters_from_args(args),
                           args.params_file, args.rate, args.max_frames)
    except RuntimeError as exc:          # the node or camera process failed: say why
        print(f"fartrack demo: error: {exc}")
        return 1
    print_summary(summary)
    return 0
