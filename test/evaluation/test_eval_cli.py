"""``fartrack eval`` run as a user runs it (a subprocess): absent frames in OTB ground truth,
the NanoTrack peer, results keyed by what changes them, and the help text."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
from pathlib import Path

import numpy as np
import pytest

from eval_data import one_error_line, run_fartrack, write_got10k_split, write_otb_sequence
from fartrack_ros.evaluation import metrics
from fartrack_ros.data.eval_sets import read_otb_eval_sequences
from fartrack_ros.evaluation.peers import NANOTRACK_ENV, NANOTRACK_FILES, NanoTrackTracker, nanotrack_factory
from fartrack_ros.evaluation.results import read_result_runs
from fartrack_ros.evaluation.trackers import TrackerSpec, result_key


def report_of(out: Path) -> dict:
    return json.loads((out / "report" / "report.json").read_text())


def eval_args(root: Path, fmt: str, trackers: str, out: Path, *extra) -> list:
    return ["eval", "--dataset-root", root, "--format", fmt, "--trackers", trackers, "--out", out,
            "--no-progress", "--threads", "1", *extra]


# ------------------------------------------------------------------ NaN ground truth (target absent)
def test_eval_otb_scores_around_absent_frames(tmp_path):
    root = write_otb_sequence(tmp_path / "otb", num_frames=10, absent_rows=(4, 5, 8))
    out = tmp_path / "out"
    proc = run_fartrack(*eval_args(root, "otb", "kcf", out))
    assert proc.returncode == 0, proc.stderr
    tracker = report_of(out)["trackers"]["kcf"]
    assert tracker["sequences"]["Square"]["absent_frames"] == 3
    assert tracker["overall"]["sequences_scored"] == 1
    # the score is that of the annotated frames alone: delete the absent ones and score again
    (seq,) = read_otb_eval_sequences(root)
    (boxes,) = read_result_runs(Path(tracker["results_dir"]), "otb", "Square")
    kept = [i for i in range(10) if i not in (4, 5, 8)]
    expected = metrics.ope_scores(metrics.ope_sequence_curves(boxes[kept], seq.gt_xywh[kept]))
    assert tracker["overall"]["auc"] == pytest.approx(expected.auc, abs=1e-12)
    assert tracker["overall"]["precision"] == pytest.approx(expected.precision, abs=1e-12)
    assert 0.0 < tracker["overall"]["auc"] <= 1.0
    # AO: mean IoU over the annotated frames after the first (OTB's pixel-inclusive IoU)
    ious = metrics.iou_pixel_inclusive_xywh(boxes[kept[1:]], seq.gt_xywh[kept[1:]])
    assert tracker["sequences"]["Square"]["ao"] == pytest.approx(float(ious.mean()), abs=1e-12)
    assert tracker["overall"]["ao"] == pytest.approx(float(ious.mean()), abs=1e-12)
    assert "AO" in proc.stdout.splitlines()[1]


# ------------------------------------------------------------------ NanoTrack v2
def test_nanotrack_without_model_files_is_a_one_line_error(tmp_path):
    root = write_otb_sequence(tmp_path / "otb")
    proc = run_fartrack(*eval_args(root, "otb", "csrt,nanotrack", tmp_path / "out"), env_remove=(NANOTRACK_ENV,))
    line = one_error_line(proc)
    assert "--nanotrack-dir" in line and NANOTRACK_ENV in line and NANOTRACK_FILES["backbone"] in line
    assert not (tmp_path / "out").exists()                 # refused before anything ran

    empty = tmp_path / "models"
    empty.mkdir()
    proc = run_fartrack(*eval_args(root, "otb", "nanotrack", tmp_path / "out"),
                        env_update={NANOTRACK_ENV: str(empty)})
    line = one_error_line(proc)
    assert str(empty / NANOTRACK_FILES["backbone"]) in line and NANOTRACK_ENV in line
    proc = run_fartrack(*eval_args(root, "otb", "nanotrack", tmp_path / "out", "--nanotrack-dir", empty,
                                   "--nanotrack-backbone", root / "Square" / "groundtruth_rect.txt"),
                        env_remove=(NANOTRACK_ENV,))
    assert str(empty / NANOTRACK_FILES["head"]) in one_error_line(proc)   # the backbone was found


def test_nanotrack_rejects_files_that_are_not_its_model(tmp_path):
    text = tmp_path / "notes.onnx"
    text.write_text("not a network\n")
    with pytest.raises(ValueError, match="cannot load the NanoTrack model files.*notes.onnx"):
        nanotrack_factory(text, text)


def nanotrack_dir() -> Path:
    folder = os.environ.get(NANOTRACK_ENV)
    if not folder or not all((Path(folder) / f).is_file() for f in NANOTRACK_FILES.values()):
        pytest.skip(f"NanoTrack v2 model files not available (set {NANOTRACK_ENV} to their folder)")
    return Path(folder)


def test_nanotrack_follows_a_square_and_reports_its_score():
    import cv2

    from eval_data import moving_square_frames

    folder = nanotrack_dir()
    frames_bgr, boxes = moving_square_frames(8)
    frames = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames_bgr]
    tracker = NanoTrackTracker(folder / NANOTRACK_FILES["backbone"], folder / NANOTRACK_FILES["head"])
    tracker.initialize(frames[0], boxes[0])
    results = [tracker.track(f) for f in frames[1:]]
    last = np.asarray(results[-1].box_xywh)
    centre_error = np.linalg.norm((last[:2] + last[2:] / 2) - (boxes[-1, :2] + boxes[-1, 2:] / 2))
    assert centre_error < 0.5 * np.linalg.norm(boxes[-1, :2] - boxes[0, :2])
    scores = [r.score for r in results]
    assert all(0.0 < s < 1.0 for s in scores) and len(set(scores)) > 1   # NanoTrack's own, not a constant


def test_eval_runs_nanotrack_from_the_environment_variable(tmp_path):
    folder = nanotrack_dir()
    root = write_otb_sequence(tmp_path / "otb")
    out = tmp_path / "out"
    proc = run_fartrack(*eval_args(root, "otb", "nanotrack", out, "--workers", "2"),
                        env_update={NANOTRACK_ENV: str(folder)})
    assert proc.returncode == 0, proc.stderr
    run = report_of(out)["trackers"]["nanotrack"]["run"]
    assert set(run["key"]) >= {"nanotrack_backbone_sha256", "nanotrack_head_sha256", "opencv"}
    assert report_of(out)["trackers"]["nanotrack"]["overall"]["auc"] > 0.3


# ------------------------------------------------------------------ results keyed by what changes them
@pytest.fixture(scope="module")
def two_weights(tmp_path_factory):
    import torch

    from fartrack_ros.config import ModelConfig
    from fartrack_ros.model.checkpoint import save_weights
    from fartrack_ros.model.fartrack import FARTrack

    folder = tmp_path_factory.mktemp("weights")
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        paths.append(save_weights(folder / f"w{seed}.safetensors", FARTrack(ModelConfig(stage="sparse", depth=6))))
    return paths


def test_result_key_holds_what_changes_boxes_and_only_that(two_weights):
    base = TrackerSpec("fartrack-pico", weights=str(two_weights[0]), backend="torch")
    key = result_key(base)
    assert result_key(TrackerSpec("fartrack-pico", weights=str(two_weights[0]), backend="torch", threads=3)) == key
    for other in (TrackerSpec("fartrack-pico", weights=str(two_weights[1]), backend="torch"),
                  TrackerSpec("fartrack-nano", weights=str(two_weights[0]), backend="torch"),
                  TrackerSpec("fartrack-pico", weights=str(two_weights[0]), backend="reference"),
                  TrackerSpec("fartrack-pico", weights=str(two_weights[0]), backend="torch", device="cuda")):
        assert result_key(other) != key, other
    assert result_key(TrackerSpec("fartrack-pico", weights=str(two_weights[0])))["backend"] != "auto"


def test_other_weights_are_run_again_and_both_rows_stay(tmp_path, two_weights):
    root = write_got10k_split(tmp_path / "val", num_sequences=1, num_frames=4)
    out = tmp_path / "out"
    first = run_fartrack(*eval_args(root, "got10k", "fartrack-pico", out, "--backend", "torch",
                                    "--weights", two_weights[0]))
    assert first.returncode == 0, first.stderr
    (row_a,) = report_of(out)["trackers"].values()

    second = run_fartrack(*eval_args(root, "got10k", "fartrack-pico", out, "--backend", "torch",
                                     "--weights", two_weights[1]))
    assert second.returncode == 0, second.stderr
    assert "ran 1 tracker/sequence pairs" in second.stderr       # not the old boxes
    trackers = report_of(out)["trackers"]
    assert len(trackers) == 2 and all(n.startswith("fartrack-pico_") for n in trackers)
    runs = {t["run"]["key"]["weights_sha256"]: t for t in trackers.values()}
    assert len(runs) == 2 and row_a["run"]["key"]["weights_sha256"] in runs
    this_time = [t for t in trackers.values() if t["run"]["this_invocation"]]
    assert len(this_time) == 1 and this_time[0]["run"]["details"]["weights"] == str(two_weights[1])
    seq = "GOT-10k_Val_000001"
    boxes = [read_result_runs(Path(t["results_dir"]), "got10k", seq)[0] for t in trackers.values()]
    assert not np.array_equal(boxes[0][1:], boxes[1][1:])          # two different sets of boxes
    for t in trackers.values():                                    # each row says which run it is
        assert t["run"]["run_id"] in second.stdout and t["run"]["key"]["weights_sha256"][:12] in second.stdout

    again = run_fartrack(*eval_args(root, "got10k", "fartrack-pico", out, "--backend", "torch",
                                    "--weights", two_weights[0]))
    assert again.returncode == 0 and "skipped 1 with results of the same run" in again.stderr


def test_a_subset_rerun_keeps_the_other_trackers_rows(tmp_path):
    root = write_got10k_split(tmp_path / "val")
    out = tmp_path / "out"
    assert run_fartrack(*eval_args(root, "got10k", "kcf,mil", out)).returncode == 0
    mil_before = report_of(out)["trackers"]["mil"]["overall"]["ao"]
    (out / "csrt").mkdir()                 # a folder of an older release, without a run record
    proc = run_fartrack(*eval_args(root, "got10k", "kcf", out))
    assert proc.returncode == 0, proc.stderr
    trackers = report_of(out)["trackers"]
    assert set(trackers) == {"kcf", "mil"} and trackers["mil"]["overall"]["ao"] == mil_before
    assert trackers["kcf"]["run"]["this_invocation"] and not trackers["mil"]["run"]["this_invocation"]
    assert "earlier run" in proc.stdout and trackers["mil"]["run"]["run_id"] in proc.stdout
    assert f"{out / 'csrt'} has no run record" in proc.stderr
    table = (out / "report" / "report.txt").read_text()
    assert "mil" in table and "kcf" in table


def test_the_default_out_folder_keeps_two_weights_apart(tmp_path, two_weights):
    root = write_got10k_split(tmp_path / "val", num_sequences=1, num_frames=3)
    for weights in two_weights:
        proc = run_fartrack("eval", "--dataset-root", root, "--format", "got10k", "--trackers", "fartrack-pico",
                            "--backend", "torch", "--weights", weights, "--no-progress", "--threads", "1",
                            cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    folders = sorted(p.name for p in (tmp_path / "results" / "got10k-val").iterdir() if p.is_dir())
    assert len([f for f in folders if f.startswith("fartrack-pico_")]) == 2


# ------------------------------------------------------------------ help and option types
def example_argvs(examples: str) -> list[list[str]]:
    """The arguments of each ``fartrack <command>`` example (continuations joined, comments and
    leading VAR=value settings dropped)."""
    argvs = []
    for line in examples.replace("\\\n", " ").splitlines():
        words = shlex.split(line.split("#", 1)[0])
        while words and "=" in words[0]:
            words.pop(0)
        if words[:1] == ["fartrack"]:
            argvs.append(words[2:])
    return argvs


@pytest.mark.parametrize("command", ["eval", "bench"])
def test_help_has_examples_defaults_and_choices(command):
    proc = run_fartrack(command, "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "examples:" in text and "{cpu,cuda}" in text
    assert all(b in text for b in ("auto", "onnxruntime", "onnxruntime-int8", "reference", "torch-bf16"))

    module = importlib.import_module(f"fartrack_ros.cli.{command}")
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    argvs = example_argvs(module.EXAMPLES)
    assert len(argvs) >= 3
    for argv in argvs:
        parser.parse_args(argv)                     # every example is a valid command line
    for action in parser._actions:
        if action.dest == "help" or action.required:
            continue
        assert "default" in (action.help or ""), (command, action.dest)
        if action.default not in (None, False, []) and "%(default)" not in action.help:
            assert str(action.default) in action.help, (command, action.dest, action.help)


def test_device_is_a_choice(tmp_path):
    proc = run_fartrack("eval", "--dataset-root", tmp_path, "--format", "otb", "--device", "gpu")
    assert proc.returncode == 2 and "invalid choice: 'gpu'" in proc.stderr
