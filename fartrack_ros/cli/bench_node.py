"""`fartrack bench-node`: the ROS 2 node fed at a fixed rate from a second process."""
from __future__ import annotations

import argparse
import json

from fartrack_ros.cli.demo import add_node_arguments, node_parameters_from_args

HELP = "benchmark the ROS 2 node: images at --rate from another process; prints one JSON object"

DESCRIPTION = """\
A second process publishes a generated scene (a textured square moving over a textured
background) at --rate; the target is set on its first frame. Prints one JSON object (input_fps,
processed_fps, dropped, latency_ms_p50, latency_ms_p95, the node's own latency and processing
percentiles, slot drops, frames never received, the node's RSS at the start, after 1,000 frames
and at the end) and writes it to --output/bench_node.json. A soak: --duration 667 at 30 Hz is
20,000 frames.
Needs the ROS 2 environment of the project's venv (make env)."""

EXAMPLES = """\
examples:
  make bench                                  # the same as: fartrack bench-node
  fartrack bench-node --variant nano --rate 15 --size 1280x720 --duration 30
  fartrack bench-node --device cuda --variant tiny --params-file config/gpu.yaml
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rate", type=float, default=30.0, metavar="HZ", help="camera rate in Hz (default: 30)")
    p.add_argument("--size", default="640x480", metavar="WxH", help="image size (default: 640x480)")
    p.add_argument("--duration", type=float, default=20.0, metavar="S",
                   help="seconds of images (default: 20)")
    p.add_argument("--output", default="out/bench_node", metavar="DIR",
                   help="folder for node/camera logs and bench_node.json (default: out/bench_node)")
    add_node_arguments(p, default_variant="pico")


def run(args) -> int:
    from fartrack_ros.ros.tools.bench import run_bench, write_bench_result

    try:
        result = run_bench(args.size, args.rate, args.duration, node_parameters_from_args(args),
                           args.params_file, args.output)
    except RuntimeError as exc:
        print(f"fartrack bench-node: error: {exc}")
        return 1
    write_bench_result(result, args.output)
    print(json.dumps(result))
    return 0
