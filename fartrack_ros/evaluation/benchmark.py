"""Speed of the tracker per variant and backend, read against what the machine can do.

For one (variant, backend): frames/s and latency percentiles of the full ``track()`` and of the
backend's forward alone (``backend.infer`` with the arguments a steady-state ``track()`` passes
it), peak resident memory, threads, the analytical GFLOP per frame, and the fp32 matmul GFLOP/s
measured in the same process with the same threads, so ``achieved_gflops / matmul_gflops`` says
how much of the hardware the tracker uses.

Each configuration runs in a fresh process (``run_isolated``) so peak memory is its own.
Weight values do not change the speed: without weights (and without shipped default weights) a
randomly initialised model is used, and the result says so.
"""
from __future__ import annotations

import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Tokens per forward: 445 on the first tracked frame, 397 from the second on (inter-frame
# sparsification prunes 12 of the 49 tokens of each of the 4 older templates); the steady state
# is what a stream costs.
STEADY_STATE_TOKENS = 397
OFFICIAL_TOKENS = 445


def benchmark_backends(device: str | None = None) -> list[str]:
    """Backends that can run here (on ``device`` when given), from the runtime's registry."""
    from fartrack_ros.runtime.backends import available_backends

    return available_backends(device)


def benchmark_variants() -> list[str]:
    from fartrack_ros.config import VARIANT_DEPTHS

    return list(VARIANT_DEPTHS)


def gflop_per_frame(variant: str, tokens: int = STEADY_STATE_TOKENS, embed_templates: bool = False) -> float:
    """Analytical GFLOP of one forward: 2 x (depth x (12 N D^2 + 2 N^2 D) + patch embedding + head)."""
    from fartrack_ros.config import depth_for_variant
    from fartrack_ros.evaluation.cost import forward_gflop

    return forward_gflop(depth_for_variant(variant), tokens=tokens, embed_templates=embed_templates)


def percentiles_ms(seconds: list[float]) -> dict:
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    return {"mean": float(ms.mean()), "p50": float(np.percentile(ms, 50)),
            "p90": float(np.percentile(ms, 90)), "p99": float(np.percentile(ms, 99)),
            "max": float(ms.max())}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0     # Linux: KiB


def os_thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return -1


@dataclass(frozen=True)
class BenchConfig:
    variant: str
    backend: str
    weights: str | None = None      # None: shipped default weights, else a random model
    device: str = "cpu"
    threads: int | None = None
    frames: int = 100               # timed frames (track and forward each)
    warmup: int = 10
    image_wh: tuple[int, int] = (640, 480)


def _random_weights(folder: Path) -> str:
    import torch

    from fartrack_ros.config import ModelConfig
    from fartrack_ros.model.checkpoint import save_weights
    from fartrack_ros.model.fartrack import FARTrack

    torch.manual_seed(0)
    return str(save_weights(folder / "random.safetensors", FARTrack(ModelConfig(stage="sparse", depth=15))))


def _resolve_weights(weights: str | None, folder: Path) -> tuple[str, str]:
    if weights is not None:
        if not Path(weights).is_file():
            raise FileNotFoundError(f"weights file not found: {weights}")
        return weights, weights
    from fartrack_ros.weights import default_weights_path

    try:
        path = str(default_weights_path())
        return path, "default"
    except FileNotFoundError:
        return _random_weights(folder), "random (speed does not depend on the values)"


def _capture_infer_arguments(tracker, frame: np.ndarray) -> tuple:
    """Run one ``track`` and keep the arguments it passed to ``backend.infer``."""
    backend = tracker.backend
    captured = []

    def spy(*args, **kwargs):
        captured.append((args, kwargs))
        return type(backend).infer(backend, *args, **kwargs)

    backend.infer = spy
    try:
        tracker.track(frame)
    finally:
        del backend.infer
    if not captured:
        raise ValueError(f"backend {backend.name!r}: track() did not call infer()")
    return captured[-1]


def _synchronize(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def run_benchmark(config: BenchConfig) -> dict:
    """Measure one (variant, backend) in this process; returns the JSON-ready result."""
    import torch

    from fartrack_ros.config import TrackerConfig
    from fartrack_ros.evaluation.cost import matmul_gflops
    from fartrack_ros.data.synthetic import synthetic_sequence
    from fartrack_ros.runtime.tracker import build_tracker

    if config.frames < 1 or config.warmup < 0:
        raise ValueError(f"frames must be >= 1 and warmup >= 0, got {config.frames}, {config.warmup}")
    rss_start = peak_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        weights, weights_note = _resolve_weights(config.weights, Path(tmp))
        tracker = build_tracker(TrackerConfig(weights=weights, variant=config.variant, backend=config.backend,
                                              device=config.device, threads=config.threads))
    width, height = config.image_wh
    frames, box = synthetic_sequence(32, seed=3, height=height, width=width)
    tracker.initialize(frames[0], box)
    # warm up past the first tracked frame, which alone runs all 445 tokens
    for i in range(max(2, config.warmup)):
        tracker.track(frames[1 + i % (len(frames) - 1)])

    track_s = []
    for i in range(config.frames):
        frame = frames[1 + i % (len(frames) - 1)]
        _synchronize(config.device)
        start = time.perf_counter()
        tracker.track(frame)
        _synchronize(config.device)
        track_s.append(time.perf_counter() - start)

    args, kwargs = _capture_infer_arguments(tracker, frames[1])
    forward_s = []
    for _ in range(config.frames):
        _synchronize(config.device)
        start = time.perf_counter()
        tracker.backend.infer(*args, **kwargs)
        _synchronize(config.device)
        forward_s.append(time.perf_counter() - start)

    threads = torch.get_num_threads()
    matmul = matmul_gflops()
    gflop = gflop_per_frame(config.variant)
    track_fps = 1.0 / statistics.mean(track_s)
    forward_fps = 1.0 / statistics.mean(forward_s)
    return {
        "variant": config.variant,
        "backend": tracker.backend.name,
        "device": config.device,
        "weights": weights_note,
        "image_wh": list(config.image_wh),
        "frames": config.frames,
        "track_fps": track_fps,
        "forward_fps": forward_fps,
        "track_fps_median": 1.0 / statistics.median(track_s),     # robust on a busy machine
        "forward_fps_median": 1.0 / statistics.median(forward_s),
        "track_latency_ms": percentiles_ms(track_s),
        "forward_latency_ms": percentiles_ms(forward_s),
        "overhead_ms_per_frame": 1000.0 * (statistics.mean(track_s) - statistics.mean(forward_s)),
        "tokens_per_frame": STEADY_STATE_TOKENS,
        "gflop_per_frame": gflop,
        "gflop_per_frame_official_445": gflop_per_frame(config.variant, OFFICIAL_TOKENS, embed_templates=True),
        "achieved_gflops": track_fps * gflop,
        "matmul_gflops": matmul,
        "share_of_matmul_rate": track_fps * gflop / matmul,
        "threads": threads,
        "os_threads": os_thread_count(),
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_build_mb": rss_start,
    }


def _child(config: BenchConfig, queue) -> None:
    try:
        queue.put(("ok", run_benchmark(config)))
    except BaseException as exc:          # report, not hang, whatever went wrong
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def run_isolated(config: BenchConfig, timeout_s: float = 1800.0) -> dict:
    """``run_benchmark`` in a fresh process, so the peak memory belongs to this configuration."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(config, queue), daemon=True)
    process.start()
    try:
        status, payload = queue.get(timeout=timeout_s)
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()
    if status != "ok":
        raise ValueError(f"benchmark of {config.variant}/{config.backend} failed: {payload}")
    return payload


_TABLE_COLUMNS = (f"{'variant':<7} {'backend':<12} {'track fps':>9} {'p50 ms':>7} {'p90 ms':>7} {'fwd fps':>8} "
                  f"{'GFLOP':>6} {'GFLOP/s':>8} {'matmul':>7} {'share':>6} {'thr':>3} {'RSS MB':>7}")


def bench_table_header() -> str:
    return _TABLE_COLUMNS + "\n" + "-" * len(_TABLE_COLUMNS)


def bench_table_row(r: dict) -> str:
    return (f"{r['variant']:<7} {r['backend']:<12} {r['track_fps']:>9.1f} {r['track_latency_ms']['p50']:>7.1f} "
            f"{r['track_latency_ms']['p90']:>7.1f} {r['forward_fps']:>8.1f} {r['gflop_per_frame']:>6.2f} "
            f"{r['achieved_gflops']:>8.1f} {r['matmul_gflops']:>7.1f} {100 * r['share_of_matmul_rate']:>5.0f}% "
            f"{r['threads']:>3} {r['peak_rss_mb']:>7.0f}")


def bench_table_footer() -> str:
    return (f"GFLOP = one steady-state forward ({STEADY_STATE_TOKENS} tokens); matmul = measured fp32 "
            "matmul GFLOP/s with the same threads; share = GFLOP/s achieved by track() / matmul")


def format_bench_table(results: list[dict]) -> str:
    """The whole table; ``fartrack bench`` prints the same pieces one row at a time."""
    lines = [bench_table_header()] + [bench_table_row(r) for r in results]
    if results:
        lines.append(bench_table_footer())
    return "\n".join(lines)
