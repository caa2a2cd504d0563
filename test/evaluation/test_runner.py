"""Runner, result layouts, report and the ``fartrack eval`` command with the OpenCV peers."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from eval_data import moving_square_frames
from fartrack_ros.cli import main
from fartrack_ros.core.types import LOST, TRACKING
from fartrack_ros.data.eval_sets import read_got10k_eval_sequences, read_otb_eval_sequences
from fartrack_ros.evaluation.peers import OpenCvPeerTracker
from fartrack_ros.evaluation.report import build_report, format_table
from fartrack_ros.evaluation.results import find_tracker_dirs, read_result_runs, read_result_times
from fartrack_ros.evaluation.runner import run_evaluation
from fartrack_ros.evaluation.runs import prepare_run
from fartrack_ros.evaluation.trackers import TrackerSpec, parse_tracker_names


def prepared(names, out, dataset_format, dataset_root, **options):
    return [prepare_run(TrackerSpec(n, **options), out, dataset_format, dataset_root) for n in names]


@pytest.mark.parametrize("name", ["csrt", "kcf", "mil"])
def test_opencv_peer_follows_a_moving_square(name):
    frames_bgr, boxes = moving_square_frames(8)
    frames = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames_bgr]
    tracker = OpenCvPeerTracker(name)
    tracker.initialize(frames[0], boxes[0])
    results = [tracker.track(f) for f in frames[1:]]
    assert [r.frame_index for r in results] == list(range(1, 8))
    last = np.asarray(results[-1].box_xywh)
    centre_error = np.linalg.norm((last[:2] + last[2:] / 2) - (boxes[-1, :2] + boxes[-1, 2:] / 2))
    displacement = np.linalg.norm(boxes[-1, :2] - boxes[0, :2])      # what a box left behind would miss by
    assert centre_error < 0.5 * displacement, (name, results[-1])


def test_opencv_peer_keeps_last_box_when_lost_and_checks_input():
    frames_bgr, boxes = moving_square_frames(2)
    tracker = OpenCvPeerTracker("csrt")
    with pytest.raises(ValueError, match="before initialize"):
        tracker.track(frames_bgr[0])
    with pytest.raises(ValueError, match="empty or outside"):
        tracker.initialize(frames_bgr[0], (10, 10, 0, 5))
    with pytest.raises(ValueError, match="RGB uint8"):
        tracker.initialize(frames_bgr[0].astype(np.float32), boxes[0])
    tracker.initialize(frames_bgr[0], boxes[0])
    result = tracker.track(np.zeros_like(frames_bgr[0]))          # nothing left to track
    assert result.state == LOST and result.box_xywh == tuple(boxes[0]) and result.score == 0.0
    assert tracker.track(frames_bgr[0]).state in (TRACKING, LOST)


def test_tracker_names_are_checked():
    assert parse_tracker_names("fartrack-pico, CSRT") == ["fartrack-pico", "csrt"]
    with pytest.raises(ValueError, match="boosting"):
        parse_tracker_names("kcf,boosting")
    with pytest.raises(ValueError, match="twice"):
        parse_tracker_names("kcf,kcf")


def test_got10k_submission_layout_and_resume(tmp_path, got10k_split):
    sequences = read_got10k_eval_sequences(got10k_split)
    runs = prepared(["kcf"], tmp_path / "out", "got10k", got10k_split)
    summary = run_evaluation(runs, sequences, "got10k", progress=False)
    assert (summary.ran, summary.skipped, summary.frames) == (2, 0, 12)
    seq = sequences[0]
    assert runs[0].dir.name.startswith("kcf_")
    boxes_file = runs[0].dir / seq.name / f"{seq.name}_001.txt"
    lines = boxes_file.read_text().splitlines()
    assert len(lines) == 6 and [float(v) for v in lines[0].split(",")] == list(seq.init_box_xywh)
    assert sorted(p.name for p in runs[0].dir.iterdir()) == sorted(s.name for s in sequences)  # nothing else
    times = read_result_times(runs[0].dir, "got10k", seq.name)
    assert times.shape == (6,) and (times > 0).all()
    before = boxes_file.stat().st_mtime_ns
    again = run_evaluation(prepared(["kcf"], tmp_path / "out", "got10k", got10k_split), sequences, "got10k",
                           progress=False)
    assert (again.ran, again.skipped) == (0, 2) and boxes_file.stat().st_mtime_ns == before


def test_parallel_workers_give_the_same_boxes(tmp_path, got10k_split):
    sequences = read_got10k_eval_sequences(got10k_split)
    (one,) = prepared(["kcf"], tmp_path / "one", "got10k", got10k_split)
    run_evaluation([one], sequences, "got10k", workers=1, progress=False)
    two_kcf, two_mil = prepared(["kcf", "mil"], tmp_path / "two", "got10k", got10k_split)
    run_evaluation([two_kcf, two_mil], sequences, "got10k", workers=2, progress=False)
    for seq in sequences:
        (serial,) = read_result_runs(one.dir, "got10k", seq.name)
        (parallel,) = read_result_runs(two_kcf.dir, "got10k", seq.name)
        np.testing.assert_array_equal(serial, parallel)
        assert read_result_runs(two_mil.dir, "got10k", seq.name)


def test_otb_layout_and_report(tmp_path):
    root = tmp_path / "otb"
    frames, boxes = moving_square_frames(7)
    (root / "Square" / "img").mkdir(parents=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(root / "Square" / "img" / f"{i + 1:04d}.jpg"), frame)
    np.savetxt(root / "Square" / "groundtruth_rect.txt", boxes, fmt="%.1f", delimiter="\t")
    sequences = read_otb_eval_sequences(root)
    (run,) = prepared(["csrt"], tmp_path / "out", "otb", root)
    run_evaluation([run], sequences, "otb", progress=False)
    assert (run.dir / "Square.txt").is_file()
    assert (run.dir / "times" / "Square_time.txt").is_file()
    report = build_report({"csrt": run.dir}, sequences, "otb", root)
    overall = report["trackers"]["csrt"]["overall"]
    assert overall["sequences_scored"] == 1 and overall["auc"] > 0.5 and overall["precision"] == 1.0
    assert len(overall["success_curve"]) == 21 and len(overall["precision_curve"]) == 51
    assert "csrt" in format_table(report) and "AUC" in format_table(report)


def test_eval_command_prints_table_writes_json_and_plots(tmp_path, got10k_split, capsys):
    out = tmp_path / "results"
    code = main(["eval", "--dataset-root", str(got10k_split), "--format", "got10k",
                 "--trackers", "kcf,mil", "--out", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "AO" in printed and "SR0.75" in printed and "kcf" in printed and "mil" in printed
    report = json.loads((out / "report" / "report.json").read_text())
    assert set(report["trackers"]) == {"kcf", "mil"}
    kcf = report["trackers"]["kcf"]["overall"]
    kcf_dir = Path(report["trackers"]["kcf"]["results_dir"])
    assert kcf_dir.parent == out.resolve() and kcf_dir.name == "kcf_" + report["trackers"]["kcf"]["run"]["run_id"]
    assert 0.0 < kcf["ao"] <= 1.0 and len(kcf["got10k_success_curve"]) == 101
    for png in ("success.png", "precision.png", "norm_precision.png"):
        image = cv2.imread(str(out / "report" / png))
        assert image is not None and image.shape[0] > 200 and image.std() > 10

    # score the stored results again beside a copy under another name, without running anything
    other = tmp_path / "others"
    (other / "kcf-copy").mkdir(parents=True)
    for seq_dir in kcf_dir.iterdir():
        (other / "kcf-copy" / seq_dir.name).mkdir()
        for f in seq_dir.iterdir():
            (other / "kcf-copy" / seq_dir.name / f.name).write_bytes(f.read_bytes())
    assert find_tracker_dirs(other, "got10k", [p.name for p in kcf_dir.iterdir()]) == {
        "kcf-copy": other / "kcf-copy"}
    code = main(["eval", "--dataset-root", str(got10k_split), "--format", "got10k", "--trackers", "",
                 "--compare", str(other), "--out", str(tmp_path / "cmp"), "--no-progress"])
    assert code == 0
    compared = json.loads((tmp_path / "cmp" / "report" / "report.json").read_text())
    assert compared["trackers"]["kcf-copy"]["overall"]["ao"] == pytest.approx(kcf["ao"], abs=1e-12)


def test_eval_command_errors_are_clear(tmp_path, capsys):
    assert main(["eval", "--dataset-root", str(tmp_path / "none"), "--format", "got10k",
                 "--trackers", "kcf"]) == 2
    assert "dataset folder not found" in capsys.readouterr().err
    assert main(["eval", "--dataset-root", str(tmp_path), "--format", "otb", "--trackers", "nope"]) == 2
    assert "unknown tracker" in capsys.readouterr().err


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    import torch

    from fartrack_ros.config import ModelConfig
    from fartrack_ros.model.checkpoint import save_weights
    from fartrack_ros.model.fartrack import FARTrack

    torch.manual_seed(0)
    return save_weights(tmp_path_factory.mktemp("w") / "random.safetensors",
                        FARTrack(ModelConfig(stage="sparse", depth=15)))


def test_fartrack_runs_through_the_runner(tmp_path, random_weights):
    import torch

    from eval_data import write_got10k_split

    torch.set_num_threads(1)
    sequences = read_got10k_eval_sequences(write_got10k_split(tmp_path / "val", num_sequences=1, num_frames=4))
    (run,) = prepared(["fartrack-pico"], tmp_path / "out", "got10k", tmp_path / "val",
                      weights=str(random_weights), backend="torch", threads=1)
    summary = run_evaluation([run], sequences, "got10k", progress=False)
    assert (summary.ran, summary.frames) == (1, 4)
    (boxes,) = read_result_runs(run.dir, "got10k", sequences[0].name)
    assert boxes.shape == (4, 4) and tuple(boxes[0]) == sequences[0].init_box_xywh
    # random weights do not track, but every box respects the tracker's clip (>= 10 px, in image)
    assert (boxes[1:, 2:] >= 10 - 1e-3).all() and (boxes[1:, :2] >= 0).all()
    assert (boxes[1:, 0] <= 64 - 10 + 1e-3).all() and (boxes[1:, 1] <= 48 - 10 + 1e-3).all()


def test_eval_command_names_a_missing_weights_file(tmp_path, got10k_split, capsys):
    assert main(["eval", "--dataset-root", str(got10k_split), "--format", "got10k", "--trackers",
                 "fartrack-pico", "--weights", str(tmp_path / "no.safetensors"), "--no-progress"]) == 2
    assert "weights file not found" in capsys.readouterr().err
