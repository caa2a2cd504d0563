"""The metrics equal the got10k toolkit's own computation (PyPI ``got10k``) to 1e-9."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from fartrack_ros.evaluation import metrics as m
from fartrack_ros.data.eval_sets import read_got10k_eval_sequences
from fartrack_ros.evaluation.report import build_report
from fartrack_ros.evaluation.runner import run_evaluation
from fartrack_ros.evaluation.runs import prepare_run
from fartrack_ros.evaluation.trackers import TrackerSpec

got10k_metrics = pytest.importorskip("got10k.utils.metrics")
got10k_experiments = pytest.importorskip("got10k.experiments")


def random_pairs(rng, n=300, width=640, height=480):
    gt = np.column_stack([rng.uniform(-20, width, n), rng.uniform(-20, height, n),
                          rng.uniform(1, 200, n), rng.uniform(1, 200, n)])
    noise = rng.normal(0, 15, size=(n, 4))
    pred = gt + noise
    pred[:, 2:] = np.abs(pred[:, 2:]) + 0.5
    far = rng.random(n) < 0.2                      # some predictions elsewhere entirely
    pred[far] = np.column_stack([rng.uniform(0, width, far.sum()), rng.uniform(0, height, far.sum()),
                                 rng.uniform(1, 100, far.sum()), rng.uniform(1, 100, far.sum())])
    return pred, gt


@pytest.mark.parametrize("seed", range(5))
def test_iou_and_center_error_equal_toolkit(seed):
    rng = np.random.default_rng(seed)
    pred, gt = random_pairs(rng)
    bound = (640, 480)
    expected = got10k_metrics.rect_iou(pred.copy(), gt.copy(), bound=bound)
    np.testing.assert_allclose(m.iou_continuous_xywh(pred, gt, image_wh=bound), expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(m.iou_continuous_xywh(pred, gt),
                               got10k_metrics.rect_iou(pred.copy(), gt.copy()), rtol=0, atol=1e-9)
    np.testing.assert_allclose(m.center_error_xywh(pred, gt), got10k_metrics.center_error(pred, gt),
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_got10k_scores_equal_toolkit_evaluate(seed):
    rng = np.random.default_rng(100 + seed)
    pred, gt = random_pairs(rng)
    cover = rng.integers(0, 9, size=len(gt))
    times = rng.uniform(0.001, 0.1, size=len(gt))
    experiment = got10k_experiments.ExperimentGOT10k.__new__(got10k_experiments.ExperimentGOT10k)
    expected_ious = got10k_metrics.rect_iou(pred[1:].copy(), gt[1:].copy(), bound=(640, 480))[cover[1:] > 0]
    ao, sr, speed, curve = experiment._evaluate(expected_ious, times)

    ious = m.got10k_sequence_ious(pred, gt, cover=cover, image_wh=(640, 480))
    np.testing.assert_allclose(ious, expected_ious, rtol=0, atol=1e-9)
    scores = m.got10k_scores(ious, times)
    assert abs(scores.ao - ao) <= 1e-9 and abs(scores.sr50 - sr) <= 1e-9
    assert abs(scores.speed_fps - speed) <= 1e-9
    np.testing.assert_allclose(scores.success_curve, curve, rtol=0, atol=1e-9)
    assert abs(scores.sr75 - curve[75]) <= 1e-9       # the toolkit's curve at threshold 0.75


@pytest.mark.parametrize("seed", range(3))
def test_otb_curves_equal_toolkit_calc_curves(seed):
    rng = np.random.default_rng(200 + seed)
    pred, gt = random_pairs(rng)
    experiment = got10k_experiments.ExperimentOTB.__new__(got10k_experiments.ExperimentOTB)
    experiment.nbins_iou, experiment.nbins_ce = 21, 51
    ious, errors = got10k_metrics.rect_iou(pred.copy(), gt.copy()), got10k_metrics.center_error(pred, gt)
    expected_success, expected_precision = experiment._calc_curves(ious, errors)
    success = m.success_curve(m.iou_continuous_xywh(pred, gt), np.linspace(0, 1, 21))
    precision = m.precision_curve(m.center_error_xywh(pred, gt), m.OPE_CENTER_THRESHOLDS_PX)
    np.testing.assert_allclose(success, expected_success, rtol=0, atol=1e-9)
    np.testing.assert_allclose(precision, expected_precision, rtol=0, atol=1e-9)


def test_report_on_written_results_equals_toolkit_report(tmp_path, got10k_split):
    """Run KCF through the runner, then score the files with both our report and the toolkit."""
    dataset_root = tmp_path / "GOT-10k"
    shutil.move(str(got10k_split), dataset_root / "val")
    sequences = read_got10k_eval_sequences(dataset_root / "val")
    result_root = tmp_path / "results"
    run = prepare_run(TrackerSpec("kcf"), result_root / "GOT-10k", "got10k", dataset_root / "val")
    run_evaluation([run], sequences, "got10k", progress=False)
    run.dir.rename(result_root / "GOT-10k" / "kcf")     # the toolkit reads <result_dir>/GOT-10k/<tracker>
    ours = build_report({"kcf": result_root / "GOT-10k" / "kcf"}, sequences, "got10k")["trackers"]["kcf"]

    experiment = got10k_experiments.ExperimentGOT10k(str(dataset_root), subset="val",
                                                     result_dir=str(result_root),
                                                     report_dir=str(tmp_path / "reports"))
    experiment.plot_curves = lambda *args, **kwargs: None     # plotting is not under test
    theirs = experiment.report(["kcf"])["kcf"]
    assert abs(ours["overall"]["ao"] - theirs["overall"]["ao"]) <= 1e-9
    assert abs(ours["overall"]["sr50"] - theirs["overall"]["sr"]) <= 1e-9
    assert abs(ours["overall"]["sr75"] - theirs["overall"]["succ_curve"][75]) <= 1e-9
    assert abs(ours["overall"]["speed_fps"] - theirs["overall"]["speed_fps"]) <= 1e-9
    for name, seq in theirs["seq_wise"].items():
        assert abs(ours["sequences"][name]["ao"] - seq["ao"]) <= 1e-9
    assert 0.0 < ours["overall"]["ao"] <= 1.0
