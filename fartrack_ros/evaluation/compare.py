"""Comparing two sets of weights (or two trackers) from ``fartrack eval`` reports.

* :func:`paired_ao`: per-sequence AO differences. Two trackers scored on the same sequences
  differ far less from each other than their AOs differ from split to split (two 24-sequence
  generated splits differ by 5-6 AO for the same weights), so comparing them sequence by
  sequence gives a much tighter answer than comparing two overall AOs. The differences of
  several pairs of reports are pooled and a bootstrap over sequences gives a 95 % interval of
  their mean. The mean of per-sequence AOs is not a report's overall AO (which averages over
  frames), so the two can differ by a few tenths.
* :func:`run_box_sizes` / :func:`video_box_sizes`: how often a tracker's boxes balloon. AO
  rewards any overlap, so a tracker that answers uncertainty with a box much larger than the
  target still scores on the frames where the target sits inside it; weights trained into that
  habit can gain AO on the generated splits while, on a real video, the box grows to the whole
  frame. These measure the predicted / true area on an eval run, and the box area over time on
  a ``fartrack track --results`` file of an unannotated video.

Errors (a missing report, tracker, result file or sequence) are ``ValueError`` naming it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from fartrack_ros.data.annotations import read_boxes_txt
from fartrack_ros.data.eval_sets import read_eval_sequences
from fartrack_ros.evaluation.report import read_report_tracker
from fartrack_ros.evaluation.results import read_result_runs


def sequence_aos(report_tracker: str) -> dict[str, float]:
    """``REPORT.json:TRACKER`` -> {sequence: AO in [0, 1]} as the report stores them."""
    report, tracker, _ = read_report_tracker(report_tracker)
    return {name: s["ao"] for name, s in report["trackers"][tracker]["sequences"].items()}


def paired_ao(pairs: Sequence[tuple[str, str]], resamples: int = 5000, seed: int = 0) -> dict:
    """Pooled per-sequence AO differences A - B (AO points, 0-100) of ``(A, B)`` pairs of
    ``REPORT.json:TRACKER``; sequences present in both reports of a pair only."""
    if not pairs:
        raise ValueError("give at least one pair of REPORT.json:TRACKER")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    diffs: list[float] = []
    splits = []
    for a_spec, b_spec in pairs:
        a, b = sequence_aos(a_spec), sequence_aos(b_spec)
        common = sorted(a.keys() & b.keys())
        if not common:
            raise ValueError(f"{a_spec} and {b_spec} share no sequence")
        d = [100.0 * (a[k] - b[k]) for k in common]
        diffs += d
        splits.append({"a": a_spec, "b": b_spec, "sequences": len(common),
                       "mean_ao_diff": round(float(np.mean(d)), 2)})
    values = np.asarray(diffs)
    rng = np.random.default_rng(seed)
    boot = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return {"sequences": len(values), "mean_ao_diff": round(float(values.mean()), 2),
            "ci95": [round(float(low), 2), round(float(high), 2)],
            "a_better_on": int((values > 0).sum()), "b_better_on": int((values < 0).sum()),
            "splits": splits}


def area_ratios_xywh(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Predicted / true box area per frame after the first, where the truth has an area."""
    n = min(len(predicted), len(truth))
    p, t = predicted[1:n], truth[1:n]
    valid = (t[:, 2] > 0) & (t[:, 3] > 0)
    return p[valid, 2] * p[valid, 3] / (t[valid, 2] * t[valid, 3])


def _results_dir(report: dict, tracker: str, report_path: Path, override: str) -> Path:
    """Where a report's tracker has its result files: ``override`` when given, else the run
    folder the report records (``<tracker>_<run id>``), else the folder of that name (or the
    tracker's name, in older reports) beside the report's folder."""
    if override:
        return Path(override)
    recorded = report["trackers"][tracker].get("results_dir")
    if recorded and Path(recorded).is_dir():
        return Path(recorded)
    return report_path.parent.parent / (Path(recorded).name if recorded else tracker)


def run_box_sizes(run: str) -> dict:
    """``REPORT.json:TRACKER[@RESULTS_DIR]``: the predicted / true area over every annotated
    frame after the first (all stored runs pooled): median, share above 4x and above 16x."""
    spec, _, override = run.partition("@")
    report, tracker, report_path = read_report_tracker(spec)
    dataset = report["dataset"]
    results_dir = _results_dir(report, tracker, report_path, override)
    try:
        sequences = {s.name: s for s in read_eval_sequences(Path(dataset["root"]), dataset["format"])}
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the data set of {report_path}: {exc}") from None
    ratios = []
    for name in sorted(report["trackers"][tracker]["sequences"]):
        runs = read_result_runs(results_dir, dataset["format"], name)
        if not runs or name not in sequences:
            raise ValueError(f"missing results or ground truth for {name} "
                             f"(results looked for in {results_dir}, data in {dataset['root']})")
        ratios += [area_ratios_xywh(boxes, sequences[name].gt_xywh) for boxes in runs]
    r = np.concatenate(ratios)
    return {"run": run, "frames": int(len(r)),
            "median_area_ratio": round(float(np.median(r)), 3),
            "share_over_4x": round(float((r > 4).mean()), 3),
            "share_over_16x": round(float((r > 16).mean()), 3)}


def video_box_sizes(path: str | Path, block: int = 100) -> dict:
    """A ``fartrack track --results`` file (first row: the initial box): the median box area of
    each block of ``block`` frames, as a multiple of the initial box's area."""
    if not Path(path).is_file():
        raise ValueError(f"results file not found: {path}")
    boxes = read_boxes_txt(Path(path))
    areas = boxes[:, 2] * boxes[:, 3]
    if areas[0] <= 0:
        raise ValueError(f"{path}: the first row (the initial box) has no area")
    medians = [round(float(np.median(areas[i:i + block]) / areas[0]), 3)
               for i in range(0, len(areas), block)]
    return {"video_results": str(path), "frames": int(len(areas)), "initial_area": float(areas[0]),
            f"median_area_per_{block}_frames_x_initial": medians}
