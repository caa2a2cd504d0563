"""Result files in the official layouts, so official toolkits and other papers' files compare.

* GOT-10k submission: ``<out>/<tracker>/<seq>/<seq>_001.txt`` (one ``x,y,w,h`` line per frame,
  the first = the initial box) and ``<seq>_time.txt`` (seconds per frame). Repetitions
  ``_002``, ``_003`` written by other tools are read too.
* LaSOT / OTB: ``<out>/<tracker>/<seq>.txt`` (comma-separated ``x,y,w,h``) and
  ``<out>/<tracker>/times/<seq>_time.txt`` (the got10k toolkit's layout). pytracking's
  ``<seq>_time.txt`` beside the boxes and tab-separated boxes are read as well.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fartrack_ros.core.files import replaced_atomically
from fartrack_ros.data.annotations import read_boxes_txt, read_numbers


@dataclass(frozen=True)
class ResultPaths:
    boxes: Path
    times: Path


def result_paths(tracker_dir: Path, dataset_format: str, seq_name: str) -> ResultPaths:
    """Where this project writes the boxes and times of one tracker on one sequence."""
    tracker_dir = Path(tracker_dir)
    if dataset_format == "got10k":
        seq_dir = tracker_dir / seq_name
        return ResultPaths(seq_dir / f"{seq_name}_001.txt", seq_dir / f"{seq_name}_time.txt")
    if dataset_format in ("lasot", "otb"):
        return ResultPaths(tracker_dir / f"{seq_name}.txt", tracker_dir / "times" / f"{seq_name}_time.txt")
    raise ValueError(f"unknown dataset format {dataset_format!r}")


def write_text_atomically(path: Path, text: str) -> None:
    # A half-written file must never look like a finished sequence to a resumed run.
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(path) as tmp:
        tmp.write_text(text)


def write_result(paths: ResultPaths, boxes_xywh: np.ndarray, times_s: np.ndarray) -> None:
    """Write boxes (N, 4) and per-frame seconds (N,); times first, so boxes mark completion."""
    boxes = np.asarray(boxes_xywh, dtype=np.float64)
    times = np.asarray(times_s, dtype=np.float64).reshape(-1)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) != len(times):
        raise ValueError(f"boxes {boxes.shape} and times {times.shape} do not match")
    if not np.isfinite(boxes).all():
        raise ValueError(f"non-finite box in result for {paths.boxes}")
    write_text_atomically(paths.times, "".join(f"{t:.8f}\n" for t in times))
    write_text_atomically(paths.boxes, "".join(",".join(f"{v:.4f}" for v in b) + "\n" for b in boxes))


def read_result_runs(tracker_dir: Path, dataset_format: str, seq_name: str) -> list[np.ndarray]:
    """All stored runs (repetitions) of one tracker on one sequence; [] when there are none."""
    tracker_dir = Path(tracker_dir)
    if dataset_format == "got10k":
        seq_dir = tracker_dir / seq_name
        if not seq_dir.is_dir():
            return []
        pattern = re.compile(re.escape(seq_name) + r"_\d+\.txt$")
        files = sorted(p for p in seq_dir.iterdir() if pattern.match(p.name))
        return [read_boxes_txt(f) for f in files]
    path = result_paths(tracker_dir, dataset_format, seq_name).boxes
    return [read_boxes_txt(path)] if path.is_file() else []


def read_result_times(tracker_dir: Path, dataset_format: str, seq_name: str) -> np.ndarray | None:
    """Per-frame seconds of one tracker on one sequence (all repetitions pooled); None if absent."""
    tracker_dir = Path(tracker_dir)
    candidates = [result_paths(tracker_dir, dataset_format, seq_name).times]
    if dataset_format != "got10k":
        candidates.append(tracker_dir / f"{seq_name}_time.txt")
    for path in candidates:
        if path.is_file():
            times = read_numbers(path).reshape(-1)
            return times if len(times) else None
    return None


def has_result(tracker_dir: Path, dataset_format: str, seq_name: str) -> bool:
    return result_paths(tracker_dir, dataset_format, seq_name).boxes.is_file()


def find_tracker_dirs(compare_dir: Path, dataset_format: str, seq_names: list[str]) -> dict[str, Path]:
    """Tracker result folders in ``compare_dir``: the folder itself when it holds results for
    some sequence of the data set, else each of its sub-folders that does. Name = folder name."""
    compare_dir = Path(compare_dir)
    if not compare_dir.is_dir():
        raise FileNotFoundError(f"comparison folder not found: {compare_dir}")

    def holds_results(folder: Path) -> bool:
        return any(has_result(folder, dataset_format, s) for s in seq_names)

    if holds_results(compare_dir):
        return {compare_dir.name: compare_dir}
    found = {d.name: d for d in sorted(compare_dir.iterdir()) if d.is_dir() and holds_results(d)}
    if not found:
        raise FileNotFoundError(f"no {dataset_format} result files for these sequences in {compare_dir}")
    return found
