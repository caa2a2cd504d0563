"""Metric functions on hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

from fartrack_ros.evaluation import metrics as m


def test_iou_of_half_overlapping_squares_is_one_third():
    ious = m.iou_continuous_xywh([[0, 0, 10, 10]], [[5, 0, 10, 10]])
    assert ious == pytest.approx([50 / 150], abs=1e-12)
    assert m.iou_pixel_inclusive_xywh([[0, 0, 10, 10]], [[5, 0, 10, 10]]) == pytest.approx([1 / 3])


def test_iou_of_disjoint_and_identical_boxes():
    ious = m.iou_continuous_xywh([[0, 0, 4, 4], [3, 3, 2, 5]], [[10, 10, 4, 4], [3, 3, 2, 5]])
    assert ious == pytest.approx([0.0, 1.0], abs=1e-12)


def test_got10k_bound_clips_position_then_size_like_the_toolkit():
    # x is clipped to 0, then w to [0, W - x] = [0, 100]: the shifted box becomes the gt box.
    pred, gt = [[-5, 0, 10, 10]], [[0, 0, 10, 10]]
    assert m.iou_continuous_xywh(pred, gt) == pytest.approx([1 / 3])
    assert m.iou_continuous_xywh(pred, gt, image_wh=(100, 100)) == pytest.approx([1.0])
    # a box reaching past the right edge loses the part outside
    clipped = m.clip_boxes_xywh_to_image([[90, 95, 20, 20]], 100, 100)
    assert clipped.tolist() == [[90, 95, 10, 5]]


def test_center_errors():
    pred, gt = [[3, 4, 10, 10], [0, 0, 20, 10]], [[0, 0, 10, 10], [0, 0, 10, 10]]
    assert m.center_error_xywh(pred, gt) == pytest.approx([5.0, 5.0])
    # normalised: x offset 3 / 10 and y offset 4 / 10; second: (5 / 10, 0)
    assert m.normalized_center_error_xywh(pred, gt) == pytest.approx([0.5, 0.5])


def test_inputs_are_not_modified():
    pred = np.array([[-5.0, 0, 10, 10]])
    m.iou_continuous_xywh(pred, pred.copy(), image_wh=(50, 50))
    assert pred.tolist() == [[-5.0, 0, 10, 10]]


def test_got10k_skips_first_frame_and_invisible_frames():
    gt = np.array([[0, 0, 10, 10]] * 4, dtype=float)
    pred = gt.copy()
    pred[0] = [50, 50, 1, 1]        # frame 0 is the initialisation: ignored
    pred[2] = [5, 0, 10, 10]        # IoU 1/3
    pred[3] = [90, 90, 5, 5]        # cover 0: ignored
    ious = m.got10k_sequence_ious(pred, gt, cover=[8, 8, 4, 0])
    assert ious == pytest.approx([1.0, 1 / 3])
    scores = m.got10k_scores(ious, times_s=[0.5, 0.25])
    assert scores.ao == pytest.approx(2 / 3)
    assert (scores.sr50, scores.sr75) == (0.5, 0.5)
    assert scores.speed_fps == pytest.approx(3.0)      # mean of 2 fps and 4 fps
    assert scores.success_curve[0] == 1.0 and scores.success_curve[-1] == 0.0


def test_got10k_overall_pools_frames_not_sequences():
    overall = m.got10k_overall({"a": [1.0], "b": [0.0, 0.0, 0.0]})
    assert overall.ao == pytest.approx(0.25)              # not (1 + 0) / 2
    assert overall.num_frames == 4


def test_sr_thresholds_are_strict():
    scores = m.got10k_scores([0.5, 0.75, 0.76])
    assert scores.sr50 == pytest.approx(2 / 3) and scores.sr75 == pytest.approx(1 / 3)


def test_ope_sequence_curves_hand_computed():
    gt = np.array([[10, 10, 10, 10]] * 4, dtype=float)
    pred = np.array([[0, 0, 1, 1],          # replaced by the ground truth
                     [10, 10, 10, 10],      # exact
                     [40, 10, 10, 10],      # IoU 0, centre error 30 px
                     [12, 12, 0, 5]],       # zero width -> previous prediction (frame 2)
                    dtype=float)
    curves = m.ope_sequence_curves(pred, gt)
    # frames 0 and 1 have IoU 1 > every threshold but 1.0; frames 2, 3 IoU 0 > none
    assert curves.success.tolist() == pytest.approx([0.5] * 20 + [0.0])
    scores = m.ope_scores(curves)
    assert scores.auc == pytest.approx(0.5 * 20 / 21)
    assert scores.precision == pytest.approx(0.5)
    assert curves.precision[29] == pytest.approx(0.5) and curves.precision[30] == pytest.approx(1.0)
    assert scores.norm_precision == pytest.approx(0.5)    # 30 px / 10 px = 3.0 > 0.2
    assert scores.op50 == pytest.approx(0.5) and scores.op75 == pytest.approx(0.5)


def test_ope_invisible_frames_count_as_misses_when_visibility_is_given():
    gt = np.array([[10, 10, 10, 10]] * 4, dtype=float)
    pred = gt.copy()
    curves = m.ope_sequence_curves(pred, gt, target_visible=[1, 1, 0, 1])
    assert curves.success[0] == pytest.approx(0.75)
    assert curves.precision[20] == pytest.approx(0.75)
    assert curves.norm_precision[20] == pytest.approx(0.75)
    excluded = m.ope_sequence_curves(pred, gt, target_visible=[1, 1, 0, 1], exclude_invalid_frames=True)
    assert excluded.success[0] == pytest.approx(1.0)


def test_ope_empty_ground_truth_frame_without_visibility_follows_pytracking():
    gt = np.array([[10, 10, 10, 10], [10, 10, 10, 10], [0, 0, 0, 0]], dtype=float)
    curves = m.ope_sequence_curves(gt.copy() + [[0, 0, 0, 0], [0, 0, 0, 0], [5, 5, 5, 5]], gt)
    assert curves.success[0] == pytest.approx(2 / 3)         # invalid frame: overlap -1, a miss
    assert curves.precision[20] == pytest.approx(2 / 3)      # centre error +inf, a miss
    assert curves.norm_precision[20] == pytest.approx(1.0)   # normalised error -1: pytracking counts a hit


def test_ope_overall_averages_sequence_curves():
    gt = np.array([[10, 10, 10, 10]] * 2, dtype=float)
    good = m.ope_sequence_curves(gt, gt)
    bad = m.ope_sequence_curves(np.array([[10, 10, 10, 10], [60, 60, 10, 10]], float), gt)
    overall = m.ope_overall({"good": good, "bad": bad})
    assert overall.curves.success[0] == pytest.approx(0.75)
    assert overall.auc == pytest.approx((20 / 21 + 0.5 * 20 / 21) / 2)


@pytest.mark.parametrize("bad, message", [
    (np.array([[0, 0, np.nan, 1]] * 2), "NaN"),
    (np.array([[0, 0, -1, 1]] * 2), "negative"),
    (np.array([[0, 0, 1, 1]]), "1 boxes"),
])
def test_ope_rejects_bad_predictions(bad, message):
    with pytest.raises(ValueError, match=message):
        m.ope_frame_errors(bad, np.ones((2, 4)))


def test_shape_errors_name_the_shape():
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        m.iou_continuous_xywh(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="cover has 2 entries"):
        m.got10k_sequence_ious(np.ones((3, 4)), np.ones((3, 4)), cover=[1, 1])
    with pytest.raises(ValueError, match="at least one"):
        m.got10k_scores([])


def test_ope_nan_ground_truth_frames_are_left_out_of_every_score():
    rng = np.random.default_rng(7)
    gt = np.column_stack([rng.uniform(0, 100, 12), rng.uniform(0, 100, 12),
                          rng.uniform(5, 40, 12), rng.uniform(5, 40, 12)])
    pred = gt + rng.normal(0, 6, size=gt.shape)
    pred[:, 2:] = np.abs(pred[:, 2:]) + 1
    absent = [3, 4, 9]
    gt_nan = gt.copy()
    gt_nan[absent] = np.nan
    kept = [i for i in range(12) if i not in absent]
    with_nan = m.ope_sequence_curves(pred, gt_nan)
    without = m.ope_sequence_curves(pred[kept], gt[kept])       # the frames simply deleted
    for name in ("success", "precision", "norm_precision"):
        np.testing.assert_allclose(getattr(with_nan, name), getattr(without, name), rtol=0, atol=1e-12)
    assert with_nan.average_overlap == pytest.approx(without.average_overlap)
    # whatever a tracker answers on an absent frame changes nothing
    pred_far = pred.copy()
    pred_far[absent] = [500, 500, 3, 3]
    np.testing.assert_array_equal(m.ope_sequence_curves(pred_far, gt_nan).success, with_nan.success)
    errors = m.ope_frame_errors(pred, gt_nan)
    assert errors.absent.tolist() == [i in absent for i in range(12)] and not errors.valid[absent].any()


def test_ope_nan_frames_with_lasot_visibility_are_excluded_not_missed():
    gt = np.array([[10, 10, 10, 10], [10, 10, 10, 10], [np.nan] * 4, [10, 10, 10, 10]])
    curves = m.ope_sequence_curves(np.tile([10.0, 10, 10, 10], (4, 1)), gt, target_visible=[1, 1, 0, 1])
    assert curves.success[0] == pytest.approx(1.0) and curves.precision[20] == pytest.approx(1.0)


def test_ope_first_frame_must_have_a_box():
    gt = np.array([[np.nan] * 4, [10, 10, 10, 10]])
    with pytest.raises(ValueError, match="first frame is NaN"):
        m.ope_sequence_curves(np.ones((2, 4)), gt)


def test_got10k_ious_leave_out_nan_ground_truth():
    gt = np.array([[10, 10, 10, 10], [10, 10, 10, 10], [np.nan] * 4, [20, 10, 10, 10]], dtype=float)
    pred = np.array([[10, 10, 10, 10], [10, 10, 10, 10], [0, 0, 5, 5], [10, 10, 10, 10]], dtype=float)
    ious = m.got10k_sequence_ious(pred, gt, cover=[8, 8, 8, 8])
    assert ious.tolist() == pytest.approx([1.0, 0.0]) and not np.isnan(ious).any()
