"""``fartrack bench``: frames/s, latency, memory and GFLOP per variant and backend."""
from __future__ import annotations

import argparse
import json
import sys


HELP = "speed benchmark: track()/forward frames/s, latency percentiles, memory, GFLOP, matmul GFLOP/s"


def _names(text: str | None, allowed: list[str], what: str) -> list[str]:
    if text is None:
        return list(allowed)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise ValueError(f"unknown {what} {unknown or text!r}; available here: {', '.join(allowed)}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", default=None, help="comma-separated: tiny,nano,pico (default: all)")
    parser.add_argument("--backend", default=None,
                        help="comma-separated backends (default: every backend available here)")
    parser.add_argument("--threads", type=int, default=None, help="compute threads (default: torch default)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda (default: %(default)s)")
    parser.add_argument("--weights", default=None,
                        help="weights file (default: shipped weights, else a random model: same speed)")
    parser.add_argument("--frames", type=int, default=100, help="timed frames (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed frames first (default: %(default)s)")
    parser.add_argument("--width", type=int, default=640, help="camera image width (default: %(default)s)")
    parser.add_argument("--height", type=int, default=480, help="camera image height (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line per variant/backend")
    parser.add_argument("--in-process", action="store_true",
                        help="measure in this process (faster; peak memory then includes earlier runs)")


def run(args: argparse.Namespace) -> int:
    from fartrack_ros.evaluation.benchmark import (BenchConfig, benchmark_backends, benchmark_variants,
                                                   format_bench_table, run_benchmark, run_isolated)

    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if args.width < 32 or args.height < 32:
        raise ValueError(f"image size {args.width}x{args.height} is too small (at least 32x32)")
    variants = _names(args.variant, benchmark_variants(), "variant")
    backends = _names(args.backend, benchmark_backends(), "backend")
    results = []
    for variant in variants:
        for backend in backends:
            config = BenchConfig(variant=variant, backend=backend, weights=args.weights, device=args.device,
                                 threads=args.threads, frames=args.frames, warmup=args.warmup,
                                 image_wh=(args.width, args.height))
            result = run_benchmark(config) if args.in_process else run_isolated(config)
            results.append(result)
            if args.json:
                print(json.dumps(result), flush=True)
            else:
                print(f"{variant}/{backend}: {result['track_fps']:.1f} frames/s", file=sys.stderr, flush=True)
    if not args.json:
        print(format_bench_table(results))
    return 0
