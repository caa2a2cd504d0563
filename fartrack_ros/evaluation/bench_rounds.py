"""Frames/s of full ``track()`` per backend and variant, as ratios to ``reference`` (one run):
``fartrack bench --rounds N``.

The machine is shared and noisy, so backends are timed in interleaved rounds (each round times
``frames`` frames of every backend in turn, plus a matmul rate measurement) and the median
round counts ("best_round_*": the fastest round, closest to a quiet machine). Each backend lives
in its own process so thread pools never compete, and every timed block starts after ``settle``
idle seconds, once the thread pools of the block before have stopped spinning. The fp32 bound
uses the best matmul rate seen and the best round (both as on a quiet machine). The weights'
values do not change speed: without weights a random sparse model is used. Also reports the
measured fp32 matmul GFLOP/s and each backend's share of the fp32 bound (matmul GFLOP/s / GFLOP
per frame). The frames are a generated 320x240 clip (``data.synthetic.synthetic_sequence``).
"""
from __future__ import annotations

import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from fartrack_ros.config import TrackerConfig, depth_for_variant
from fartrack_ros.data.synthetic import synthetic_sequence
from fartrack_ros.runtime.tracker import build_tracker
from fartrack_ros.evaluation.backend_checks import save_random_weights
from fartrack_ros.evaluation.cost import forward_gflop, matmul_gflops


def time_frames(tracker, frames, start: int, count: int, clock=time.perf_counter) -> float:
    """Seconds per track() over frames[start:start+count] (cycled)."""
    t0 = clock()
    for i in range(count):
        tracker.track(frames[(start + i) % len(frames)])
    return (clock() - t0) / count


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def worker(conn, weights: str, variant: str, backend: str, threads: int, warmup: int,
           clock: str) -> None:
    """One backend in its own process (its thread pools cannot disturb the others'); times
    ``count`` frames whenever the parent asks, idle (blocked on the pipe) otherwise."""
    torch.set_num_threads(threads)
    frames, box = synthetic_sequence(32, seed=1)
    tracker = build_tracker(TrackerConfig(weights=weights, variant=variant, backend=backend,
                                          device="cpu", threads=threads))
    tracker.initialize(frames[0], box)
    time_frames(tracker, frames, 1, warmup)
    conn.send("ready")
    start = 1 + warmup
    while True:
        count = conn.recv()
        if count is None:
            return
        conn.send(time_frames(tracker, frames, start, count, CLOCKS[clock]))
        start += count


def bench_variant(weights: Path, variant: str, backends: list[str], threads: int, rounds: int,
                  frames_per_round: int, warmup: int, clock: str, settle: float) -> dict:
    ctx = multiprocessing.get_context("spawn")
    workers = {}
    for name in backends:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=worker, args=(child, str(weights), variant, name, threads, warmup,
                                                    clock))
        proc.start()
        workers[name] = (proc, parent)
    try:
        for name, (_, conn) in workers.items():
            if conn.recv() != "ready":
                raise RuntimeError(f"backend {name} failed to start")
        matmul, times = [], {name: [] for name in backends}
        for _ in range(rounds):
            matmul.append(matmul_gflops(seconds=0.2))
            for name, (_, conn) in workers.items():
                # the previous timing's thread pool (OpenMP, ONNX Runtime) keeps spinning for a
                # while after its last call and would take a core from this one
                time.sleep(settle)
                conn.send(frames_per_round)
                times[name].append(conn.recv())
    finally:
        for proc, conn in workers.values():
            conn.send(None)
            proc.join(timeout=30)
    ms = {name: 1000 * statistics.median(v) for name, v in times.items()}
    best = {name: 1000 * min(v) for name, v in times.items()}
    return {"ms_per_frame": ms, "best_ms_per_frame": best,
            "fps": {k: 1000 / v for k, v in ms.items()},
            "best_fps": {k: 1000 / v for k, v in best.items()},
            "matmul_gflops": max(matmul)}


def bench_rounds(variants: list[str], backends: list[str], weights: str | None = None,
                 threads: int = 2, rounds: int = 5, frames_per_round: int = 20, warmup: int = 5,
                 settle: float = 0.5, clock: str = "wall") -> dict:
    """The report of every variant (JSON-ready); each variant's part also goes to stderr as soon
    as it is measured."""
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {sorted(CLOCKS)}, got {clock!r}")
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(weights) if weights else save_random_weights(Path(tmp) / "random.safetensors")
        report = {"threads": threads, "clock": clock, "variants": {}}
        for variant in variants:
            res = bench_variant(path, variant, backends, threads, rounds, frames_per_round, warmup,
                                clock, settle)
            report["variants"][variant] = variant_report(res, variant)
            print(json.dumps({variant: report["variants"][variant]}), file=sys.stderr, flush=True)
    return report


def variant_report(res: dict, variant: str) -> dict:
    depth = depth_for_variant(variant)
    gflops = res["matmul_gflops"]
    steady = forward_gflop(depth, tokens=397)
    bound_fps = gflops / steady
    ref = res["fps"].get("reference")
    best_ref = res["best_fps"].get("reference")
    return {
        "ms_per_frame": {k: round(v, 2) for k, v in res["ms_per_frame"].items()},
        "best_round_ms_per_frame": {k: round(v, 2) for k, v in res["best_ms_per_frame"].items()},
        "ratio_vs_reference": {k: round(v / ref, 2) for k, v in res["fps"].items()} if ref else None,
        "best_round_ratio_vs_reference":
            {k: round(v / best_ref, 2) for k, v in res["best_fps"].items()} if best_ref else None,
        "matmul_gflops": round(gflops, 1),
        "gflop_per_frame_397": round(steady, 3),
        "fp32_bound_fps": round(bound_fps, 1),
        "share_of_fp32_bound": {k: round(v / bound_fps, 2) for k, v in res["best_fps"].items()},
    }
