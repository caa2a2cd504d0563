"""Comparing weights: ``fartrack compare`` (paired AO) and ``fartrack box-sizes`` on small
hand-made eval outputs in the runner's GOT-10k layout."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fartrack_ros.cli import main as fartrack
from fartrack_ros.evaluation.compare import paired_ao


def write_run(out: Path, dataset: Path, tracker: str, boxes: dict[str, np.ndarray],
              aos: dict[str, float]) -> Path:
    """A report.json and result files as ``fartrack eval`` writes them (only the fields read)."""
    for name, b in boxes.items():
        folder = out / tracker / name
        folder.mkdir(parents=True, exist_ok=True)
        np.savetxt(folder / f"{name}_001.txt", b, fmt="%.4f", delimiter=",")
        np.savetxt(folder / f"{name}_time.txt", np.full(len(b), 0.01))
    report = out / "report" / "report.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({
        "dataset": {"root": str(dataset), "format": "got10k", "sequences": len(boxes)},
        "trackers": {tracker: {"overall": {}, "sequences": {k: {"ao": v} for k, v in aos.items()}}},
    }))
    return report


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for name in ("S1", "S2"):
        (root / name).mkdir(parents=True)
        for i in range(1, 6):                   # the GOT-10k reader lists the frames
            cv2.imwrite(str(root / name / f"{i:08d}.jpg"), np.zeros((48, 64, 3), np.uint8))
        np.savetxt(root / name / "groundtruth.txt", np.tile([10, 10, 20, 10], (5, 1)),
                   fmt="%d", delimiter=",")
    return root


def test_box_size_check_counts_oversized_boxes(tmp_path, dataset, capsys):
    truth = np.tile([10.0, 10, 20, 10], (5, 1))
    big = truth.copy()
    big[3:] = [0, 0, 100, 100]                 # 50x the true area on 2 of the 8 scored frames
    report = write_run(tmp_path / "run", dataset, "mine", {"S1": truth, "S2": big},
                       {"S1": 0.9, "S2": 0.5})
    video = tmp_path / "track.txt"
    np.savetxt(video, np.vstack([np.tile([0, 0, 10, 10], (100, 1)),
                                 np.tile([0, 0, 30, 30], (50, 1))]), delimiter=",")
    assert fartrack(["box-sizes", "--run", f"{report}:mine", "--video-results", str(video)]) == 0
    out = json.loads(capsys.readouterr().out)
    run = out["runs"][0]
    assert run["frames"] == 8                   # the first frame of each sequence is skipped
    assert run["share_over_4x"] == 0.25 and run["share_over_16x"] == 0.25
    assert run["median_area_ratio"] == 1.0
    assert out["videos"][0]["median_area_per_100_frames_x_initial"] == [1.0, 9.0]


def test_box_size_check_names_missing_results(tmp_path, dataset, capsys):
    report = write_run(tmp_path / "run", dataset, "mine", {"S1": np.tile([1.0, 1, 1, 1], (5, 1))},
                       {"S1": 0.9, "S2": 0.5})           # S2 is in the report, not on disk
    for run, message in ((f"{report}:mine", "missing results or ground truth for S2"),
                         (f"{report}:other", "has no tracker 'other'"),
                         (f"{tmp_path}/none.json:mine", "report not found")):
        assert fartrack(["box-sizes", "--run", run]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith("fartrack box-sizes: error: ") and message in captured.err
    assert fartrack(["box-sizes"]) == 2
    assert "give at least one --run or --video-results" in capsys.readouterr().err


def test_paired_ao_pools_splits(tmp_path, dataset, capsys):
    boxes = {"S1": np.ones((5, 4)), "S2": np.ones((5, 4))}
    a = write_run(tmp_path / "a", dataset, "mine", boxes, {"S1": 0.50, "S2": 0.40})
    b = write_run(tmp_path / "b", dataset, "csrt", boxes, {"S1": 0.30, "S2": 0.40})
    assert fartrack(["compare", "--pair", f"{a}:mine", f"{b}:csrt",
                     "--pair", f"{a}:mine", f"{a}:mine"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sequences"] == 4
    assert out["mean_ao_diff"] == 5.0           # (20 + 0 + 0 + 0) / 4 AO points
    assert out["a_better_on"] == 1 and out["b_better_on"] == 0
    assert out["ci95"][0] <= 5.0 <= out["ci95"][1]


def test_paired_ao_interval_and_errors(tmp_path, dataset):
    boxes = {"S1": np.ones((5, 4)), "S2": np.ones((5, 4))}
    a = write_run(tmp_path / "a", dataset, "mine", boxes, {"S1": 0.60, "S2": 0.50})
    b = write_run(tmp_path / "b", dataset, "csrt", boxes, {"S1": 0.40, "S2": 0.20})
    out = paired_ao([(f"{a}:mine", f"{b}:csrt")], resamples=200, seed=1)
    assert out["mean_ao_diff"] == 25.0 and out["a_better_on"] == 2
    assert 20.0 <= out["ci95"][0] <= out["ci95"][1] <= 30.0      # the mean of 2 of {20, 30}
    assert out["splits"] == [{"a": f"{a}:mine", "b": f"{b}:csrt", "sequences": 2, "mean_ao_diff": 25.0}]
    assert paired_ao([(f"{a}:mine", f"{b}:csrt")], resamples=200, seed=1) == out     # seeded
    other = write_run(tmp_path / "c", dataset, "csrt", {"S3": np.ones((5, 4))}, {"S3": 0.1})
    with pytest.raises(ValueError, match="share no sequence"):
        paired_ao([(f"{a}:mine", f"{other}:csrt")])
    with pytest.raises(ValueError, match="expected REPORT.json:TRACKER"):
        paired_ao([(str(a), f"{b}:csrt")])
