#!/usr/bin/env python3
"""Frames/s of full ``track()`` per backend and variant, as ratios to ``reference`` (one run).

The machine is shared and noisy, so backends are timed in interleaved rounds (each round times
``--frames`` frames of every backend in turn) and the median round counts. The weights' values do
not change speed: without ``--weights`` a random sparse model is used. Also reports the measured
fp32 matmul GFLOP/s and each backend's share of the fp32 bound (matmul GFLOP/s / GFLOP per frame).

    python scripts/bench_backends.py --variants pico nano tiny --backends reference torch onnxruntime
prints one JSON document on stdout.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fartrack_ros.config import TrackerConfig, depth_for_variant  # noqa: E402
from fartrack_ros.runtime.backends.validation import save_random_weights, synthetic_sequence  # noqa: E402
from fartrack_ros.runtime.backends.cost import forward_gflop, matmul_gflops  # noqa: E402
from fartrack_ros.runtime.tracker import build_tracker  # noqa: E402


def time_frames(tracker, frames, start: int, count: int) -> float:
    """Seconds per track() over frames[start:start+count] (cycled)."""
    t0 = time.perf_counter()
    for i in range(count):
        tracker.track(frames[(start + i) % len(frames)])
    return (time.perf_counter() - t0) / count


def bench_variant(weights: Path, variant: str, backends: list[str], threads: int, rounds: int,
                  frames_per_round: int, warmup: int) -> dict:
    frames, box = synthetic_sequence(max(frames_per_round, 16), seed=1)
    trackers = {}
    for name in backends:
        tracker = build_tracker(TrackerConfig(weights=str(weights), variant=variant, backend=name,
                                              device="cpu", threads=threads))
        tracker.initialize(frames[0], box)
        time_frames(tracker, frames, 1, warmup)
        trackers[name] = tracker
    times = {name: [] for name in backends}
    for r in range(rounds):
        for name, tracker in trackers.items():
            times[name].append(time_frames(tracker, frames, 1 + warmup + r * frames_per_round,
                                           frames_per_round))
    ms = {name: 1000 * statistics.median(v) for name, v in times.items()}
    return {"ms_per_frame": ms, "fps": {k: 1000 / v for k, v in ms.items()}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", help="weights file (default: a random sparse model)")
    p.add_argument("--variants", nargs="+", default=["pico", "nano", "tiny"])
    p.add_argument("--backends", nargs="+", default=["reference", "torch"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--frames", type=int, default=20, help="frames per round")
    p.add_argument("--warmup", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(args.weights) if args.weights else save_random_weights(Path(tmp) / "random.safetensors")
        gflops = matmul_gflops()
        report = {"threads": args.threads, "matmul_gflops": round(gflops, 1), "variants": {}}
        for variant in args.variants:
            res = bench_variant(weights, variant, args.backends, args.threads, args.rounds,
                                args.frames, args.warmup)
            depth = depth_for_variant(variant)
            steady = forward_gflop(depth, tokens=397)
            bound_fps = gflops / steady
            ref = res["fps"].get("reference")
            report["variants"][variant] = {
                "ms_per_frame": {k: round(v, 2) for k, v in res["ms_per_frame"].items()},
                "ratio_vs_reference": {k: round(v / ref, 2) for k, v in res["fps"].items()} if ref else None,
                "gflop_per_frame_397": round(steady, 3),
                "fp32_bound_fps": round(bound_fps, 1),
                "share_of_fp32_bound": {k: round(v / bound_fps, 2) for k, v in res["fps"].items()},
            }
            print(json.dumps({variant: report["variants"][variant]}), file=sys.stderr)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
