"""Run trackers over the sequences of a data set: in parallel processes, resumable, with progress.

A (run, sequence) pair is one task; a run is one tracker with the key of everything that
changes its boxes, written to its own folder (``fartrack_ros.evaluation.runs``). A task whose box
file exists in its run's folder is skipped (files are written atomically, so an interrupted run
leaves none half-written); other weights, backend or device make another run, never a skip. Frames are read with
OpenCV (BGR) and handed to every tracker as RGB; only ``initialize`` / ``track`` are timed.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from fartrack_ros.data.eval_sets import EvalSequence
from fartrack_ros.data.images import read_image_rgb
from fartrack_ros.evaluation.results import has_result, result_paths, write_result
from fartrack_ros.evaluation.runs import ResultRun
from fartrack_ros.evaluation.trackers import TrackerSpec, build_eval_tracker


def run_sequence(tracker, sequence: EvalSequence) -> tuple[np.ndarray, np.ndarray]:
    """Track one sequence from its first ground-truth box: boxes (N, 4) xywh and seconds (N,).

    Row 0 is the initial box and the time of ``initialize`` (the GOT-10k convention).
    """
    num_frames = len(sequence)
    boxes = np.zeros((num_frames, 4), dtype=np.float64)
    times = np.zeros(num_frames, dtype=np.float64)
    init_box = sequence.init_box_xywh
    for i, path in enumerate(sequence.frame_paths):
        image = read_image_rgb(path)
        start = time.perf_counter()
        if i == 0:
            tracker.initialize(image, init_box)
            box = init_box
        else:
            box = tracker.track(image).box_xywh
        times[i] = time.perf_counter() - start
        boxes[i] = box
    return boxes, times


@dataclass(frozen=True)
class Task:
    spec: TrackerSpec
    sequence: EvalSequence
    tracker_dir: Path
    dataset_format: str


# One tracker object per spec and worker process: FARTrack loads its weights once.
_TRACKER_CACHE: dict[TrackerSpec, object] = {}


def _tracker_for(spec: TrackerSpec):
    if spec not in _TRACKER_CACHE:
        _TRACKER_CACHE[spec] = build_eval_tracker(spec)
    return _TRACKER_CACHE[spec]


def run_task(task: Task) -> tuple[str, str, int, float]:
    """Run and save one task; returns (tracker, sequence, frames, tracking seconds)."""
    tracker = _tracker_for(task.spec)
    try:
        boxes, times = run_sequence(tracker, task.sequence)
    except Exception as exc:
        # keep the input-error classes (the CLI reports those as clear errors), name the pair
        kind = type(exc) if type(exc) in (ValueError, FileNotFoundError) else RuntimeError
        raise kind(f"{task.spec.name} failed on sequence {task.sequence.name}: {exc}") from exc
    write_result(result_paths(task.tracker_dir, task.dataset_format, task.sequence.name), boxes, times)
    return task.spec.name, task.sequence.name, len(boxes), float(times.sum())


def _init_worker(threads: int) -> None:
    cv2.setNumThreads(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


@dataclass(frozen=True)
class RunSummary:
    ran: int
    skipped: int
    frames: int
    seconds: float


def plan_tasks(runs: list[ResultRun], sequences: list[EvalSequence],
               dataset_format: str) -> tuple[list[Task], int]:
    """Tasks still to run (longest sequences first, for balance) and the number skipped."""
    tasks, skipped = [], 0
    for run in runs:
        if run.spec is None:
            raise ValueError(f"run {run.dir.name} has no tracker spec: it cannot be run")
        for seq in sequences:
            if has_result(run.dir, dataset_format, seq.name):
                skipped += 1
            else:
                tasks.append(Task(run.spec, seq, run.dir, dataset_format))
    tasks.sort(key=lambda t: -len(t.sequence))
    return tasks, skipped


def run_evaluation(runs: list[ResultRun], sequences: list[EvalSequence], dataset_format: str,
                   workers: int = 1, progress: bool = True) -> RunSummary:
    """Run every run's tracker on every sequence that has no result in the run's folder yet
    (``runs.prepare_run`` makes the runs)."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    tasks, skipped = plan_tasks(runs, sequences, dataset_format)
    threads = max(1, (os.cpu_count() or 1) // workers)
    if workers > 1:
        # Share the cores: N processes, each computing with cores / N threads.
        tasks = [replace(t, spec=replace(t.spec, threads=t.spec.threads or threads)) for t in tasks]
    from tqdm import tqdm

    bar = tqdm(total=sum(len(t.sequence) for t in tasks), unit="frame", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    frames, seconds = 0, 0.0

    def done(result: tuple[str, str, int, float]) -> None:
        nonlocal frames, seconds
        name, seq_name, n, s = result
        frames += n
        seconds += s
        bar.set_postfix_str(f"{name} {seq_name}", refresh=False)
        bar.update(n)

    try:
        if workers == 1 or len(tasks) <= 1:
            for task in tasks:
                done(run_task(task))
        else:
            context = multiprocessing.get_context("spawn")   # fork after torch init can deadlock
            with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context,
                                     initializer=_init_worker, initargs=(threads,)) as pool:
                pending = {pool.submit(run_task, t) for t in tasks}
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        try:
                            done(future.result())
                        except BaseException:
                            for other in pending:
                                other.cancel()
                            raise
    finally:
        bar.close()
    return RunSummary(ran=len(tasks), skipped=skipped, frames=frames, seconds=seconds)
