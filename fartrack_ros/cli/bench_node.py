"""`fartrack bench-node`: the ROS 2 node fed at a fixed rate from a second process."""
from __future__ import annotations

import argparse
import json

from .demo import add_node_arguments, node_parameters_from_args

HELP = "benchmark the ROS 2 node: images at --rate from another process; prints one JSON object"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rate", type=float, default=30.0, help="camera rate in Hz (default 30)")
    p.add_argument("--size", default="640x480", help="image size WIDTHxHEIGHT (default 640x480)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of images (default 20)")
    p.add_argument("--output", default="out/bench_node",
                   help="folder for node/camera logs and bench_node.json")
    add_node_arguments(p)
    p.set_defaults(variant="pico")


def run(args) -> int:
    from ..ros.bench import run_bench, write_bench_result

    try:
        result = run_bench(args.size, args.rate, args.duration, node_parameters_from_args(args),
                           args.params_file, args.output)
    except RuntimeError as exc:
        print(f"fartrack bench-node: error: {exc}")
        return 1
    write_bench_result(result, args.output)
    print(json.dumps(result))
    return 0
