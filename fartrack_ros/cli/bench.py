"""``fartrack bench``: frames/s, latency, memory and GFLOP per variant and backend."""
from __future__ import annotations

import argparse
import json
import sys
import time

from fartrack_ros.cli.common import BACKENDS, VARIANTS, add_device_argument, positive_int

HELP = "speed benchmark: track()/forward frames/s, latency percentiles, memory, GFLOP, matmul GFLOP/s"

DESCRIPTION = """\
Measure the tracker's speed: each variant/backend job runs in a fresh process (so its peak
memory is its own) and its row is printed as soon as it finishes; progress (job k of n, time
left) goes to stderr.

The default is quick: the three variants on the default backend ('auto': onnxruntime on cpu,
torch on cuda), 3 jobs. The full matrix, every variant on every backend available here, is
--variant all --backend all (15 jobs on a CPU machine; several minutes).

To compare backends on a busy machine, --rounds N times them against each other instead: per
variant, every backend runs in its own process, and N interleaved rounds time --frames frames of
each in turn (after --settle idle seconds, so that no thread pool of the block before still
spins) on a generated 320x240 clip with a random model (its values do not change speed). Prints
one JSON document: median and best-round ms per frame, ratios to 'reference' (include it), the
measured fp32 matmul GFLOP/s and each backend's share of the fp32 bound (CPU only).
"""

EXAMPLES = """\
examples:
  fartrack bench                                        # tiny, nano, pico on the default backend
  fartrack bench --variant all --backend all            # the full matrix
  fartrack bench --variant pico --backend torch,onnxruntime-int8 --threads 2 --json
  fartrack bench --device cuda --variant tiny --frames 300
  fartrack bench --rounds 5 --backend reference,torch,onnxruntime --threads 2   # ratios to reference
  fartrack bench --rounds 5 --variant pico --backend reference,torch --threads 1 --clock cpu
"""

DEFAULT_BACKEND = "auto"
ROUNDS_BACKENDS = "reference,torch"     # --rounds compares against reference
ROUNDS_THREADS = 2
DEFAULT_FRAMES, ROUNDS_FRAMES = 100, 20
DEFAULT_WARMUP, ROUNDS_WARMUP = 10, 5


def _names(text: str, allowed: list[str], what: str) -> list[str]:
    if text.strip().lower() == "all":
        return list(allowed)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise ValueError(f"unknown {what} {unknown or text!r}; available here: {', '.join(allowed)} (or all)")
    return names


def plan_jobs(variant_text: str, backend_text: str, device: str) -> list[tuple[str, str]]:
    """(variant, backend) jobs from the --variant / --backend lists ("all": every variant, or
    every backend available on ``device``, "auto" left out since it is one of them)."""
    from fartrack_ros.evaluation.benchmark import benchmark_backends, benchmark_variants

    variants = _names(variant_text, benchmark_variants(), "variant")
    available = benchmark_backends(device)
    if backend_text.strip().lower() == "all":
        backends = available
    else:
        backends = _names(backend_text, [DEFAULT_BACKEND] + available, "backend")
    return [(v, b) for v in variants for b in backends]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    jobs = parser.add_argument_group("jobs (one per variant x backend)")
    jobs.add_argument("--variant", default=",".join(VARIANTS), metavar="LIST",
                      help=f"comma-separated from {', '.join(VARIANTS)}, or all (default: %(default)s)")
    jobs.add_argument("--backend", default=DEFAULT_BACKEND, metavar="LIST",
                      help="comma-separated from auto, " + ", ".join(BACKENDS) + ", or all = every backend "
                           "available here (default: auto, the tracker's default backend for the device; "
                           f"with --rounds {ROUNDS_BACKENDS})")
    add_device_argument(jobs)
    jobs.add_argument("--threads", type=positive_int, default=None, metavar="N",
                      help="compute threads (default: torch's default, one per core; with --rounds "
                           f"{ROUNDS_THREADS})")
    jobs.add_argument("--weights", default=None, metavar="FILE",
                      help="weights file (default: the shipped weights, else a random model: same speed; "
                           "with --rounds a random model)")
    measure = parser.add_argument_group("measurement")
    measure.add_argument("--frames", type=positive_int, default=None, metavar="N",
                         help=f"timed frames, for track() and for the forward alone (default: {DEFAULT_FRAMES}; "
                              f"with --rounds per round, default {ROUNDS_FRAMES})")
    measure.add_argument("--warmup", type=int, default=None, metavar="N",
                         help=f"untimed frames first (default: {DEFAULT_WARMUP}; with --rounds {ROUNDS_WARMUP})")
    measure.add_argument("--width", type=int, default=640,
                         help="camera image width (default: %(default)s; --rounds uses a 320x240 clip)")
    measure.add_argument("--height", type=int, default=480,
                         help="camera image height (default: %(default)s; --rounds uses a 320x240 clip)")
    measure.add_argument("--json", action="store_true",
                         help="one JSON object per line per job instead of the table (default: table)")
    measure.add_argument("--in-process", action="store_true",
                         help="measure in this process (faster start; peak memory then includes earlier "
                              "jobs) (default: a fresh process per job)")
    rounds = parser.add_argument_group("backends against each other (--rounds)")
    rounds.add_argument("--rounds", type=int, default=0, metavar="N",
                        help="time the backends of each variant in N interleaved rounds and print their "
                             "ratios to reference as JSON (default: 0 = off, one job after the other)")
    rounds.add_argument("--settle", type=float, default=0.5, metavar="S",
                        help="with --rounds: idle seconds before each timed block, so that the thread "
                             "pools of the block before have stopped spinning (default: %(default)s)")
    rounds.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="with --rounds: wall time, or process CPU time (with --threads 1 a robust "
                             "proxy on a busy machine: it does not count time the process waited) "
                             "(default: %(default)s)")


def _eta(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def run(args: argparse.Namespace) -> int:
    from fartrack_ros.evaluation.benchmark import (BenchConfig, bench_table_footer, bench_table_header,
                                                   bench_table_row, run_benchmark, run_isolated)

    if args.width < 32 or args.height < 32:
        raise ValueError(f"image size {args.width}x{args.height} is too small (at least 32x32)")
    if args.warmup is not None and args.warmup < 0:
        raise ValueError(f"--warmup must be >= 0, got {args.warmup}")
    if args.rounds < 0:
        raise ValueError(f"--rounds must be >= 0, got {args.rounds}")
    if args.rounds:
        return run_rounds(args)
    frames = args.frames or DEFAULT_FRAMES
    warmup = DEFAULT_WARMUP if args.warmup is None else args.warmup
    jobs = plan_jobs(args.variant, args.backend, args.device)
    if not args.json:
        print(bench_table_header(), flush=True)
    started = time.monotonic()
    for k, (variant, backend) in enumerate(jobs, 1):
        elapsed = time.monotonic() - started
        left = f"about {_eta(elapsed / (k - 1) * (len(jobs) - k + 1))} left" if k > 1 else "time left unknown yet"
        print(f"bench: job {k}/{len(jobs)} {variant}/{backend} ({left})", file=sys.stderr, flush=True)
        config = BenchConfig(variant=variant, backend=backend, weights=args.weights, device=args.device,
                             threads=args.threads, frames=frames, warmup=warmup,
                             image_wh=(args.width, args.height))
        result = run_benchmark(config) if args.in_process else run_isolated(config)
        print(json.dumps(result) if args.json else bench_table_row(result), flush=True)
    if not args.json:
        print(bench_table_footer(), flush=True)
    print(f"bench: {len(jobs)} job(s) in {_eta(time.monotonic() - started)}", file=sys.stderr, flush=True)
    return 0


def run_rounds(args: argparse.Namespace) -> int:
    """``--rounds N``: the backends of each variant timed against each other (one JSON document)."""
    from fartrack_ros.evaluation.bench_rounds import bench_rounds

    if args.device != "cpu":
        raise ValueError("--rounds measures on the CPU only (leave --device at cpu)")
    backend_text = ROUNDS_BACKENDS if args.backend == DEFAULT_BACKEND else args.backend
    jobs = plan_jobs(args.variant, backend_text, args.device)
    variants = list(dict.fromkeys(v for v, _ in jobs))
    backends = list(dict.fromkeys(b for _, b in jobs))
    report = bench_rounds(variants, backends, weights=args.weights, threads=args.threads or ROUNDS_THREADS,
                          rounds=args.rounds, frames_per_round=args.frames or ROUNDS_FRAMES,
                          warmup=ROUNDS_WARMUP if args.warmup is None else args.warmup,
                          settle=args.settle, clock=args.clock)
    print(json.dumps(report, indent=2))
    return 0
