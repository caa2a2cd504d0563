import numpy as np
import pytest

from fartrack_ros.core.boxes import (clip_box_xywh, cxcywh_to_xywh, iou_xywh, validate_box_xywh,
                                     xywh_to_cxcywh, xywh_to_xyxy, xyxy_to_xywh)
from fartrack_ros.core.crops import box_cxcywh_from_crop, box_xywh_in_crop, sample_target


def test_box_format_round_trips():
    box = np.array([[10.0, 20.0, 30.0, 40.0], [1.5, 2.5, 3.0, 4.0]])
    assert np.allclose(xywh_to_xyxy(box)[0], [10, 20, 40, 60])
    assert np.allclose(xyxy_to_xywh(xywh_to_xyxy(box)), box)
    assert np.allclose(xywh_to_cxcywh(box)[0], [25, 40, 30, 40])
    assert np.allclose(cxcywh_to_xywh(xywh_to_cxcywh(box)), box)


def test_iou_hand_computed():
    assert iou_xywh([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(50 / 150)
    assert iou_xywh([0, 0, 10, 10], [20, 20, 5, 5]) == 0.0
    assert iou_xywh([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0


def test_clip_box_official_semantics():
    # right edge: x1 capped at W - 10, width re-derived and at least 10
    assert clip_box_xywh([95.0, 5.0, 20.0, 20.0], 100, 100) == [90, 5.0, 10, 20.0]
    assert clip_box_xywh([-5.0, -5.0, 8.0, 8.0], 100, 100) == [0, 0, 10, 10]


@pytest.mark.parametrize("box", [(0, 0, 0, 10), (0, 0, 10, -1), (200, 10, 5, 5), (-50, -50, 10, 10),
                                 (float("nan"), 0, 1, 1), (1, 2, 3)])
def test_validate_box_rejects_bad_boxes(box):
    with pytest.raises(ValueError):
        validate_box_xywh(box, 100, 100)


def _ramp(h=100, w=100):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx, yy, (xx + yy) % 256], axis=-1).astype(np.uint8)


def test_crop_inside_is_exact_slice():
    img = _ramp()
    crop, win = sample_target(img, (40, 40, 20, 20), 2.0, 40)   # S = 40, identity resize
    assert (win.x1, win.y1, win.side, win.resize_factor) == (30, 30, 40, 1.0)
    assert np.array_equal(crop, img[30:70, 30:70])


def test_crop_right_edge_off_by_one_padding():
    img = _ramp()
    crop, win = sample_target(img, (80, 40, 20, 20), 2.0, 40)   # x1 = 70, x2 = 110
    # pad_right = 110 - 100 + 1 = 11: only columns 70..98 are real, column 99 is dropped
    assert np.array_equal(crop[:, :29], img[30:70, 70:99])
    assert not crop[:, 29:].any()


def test_crop_origin_rounds_half_to_even():
    img = _ramp()
    _, win = sample_target(img, (12.5, 12.5, 20, 20), 2.0, 40)  # 12.5 + 10 - 20 = 2.5 -> 2
    assert win.x1 == 2 and win.y1 == 2


def test_crop_fully_outside_gives_black():
    crop, _ = sample_target(_ramp(), (500, 500, 10, 10), 2.0, 16)
    assert crop.shape == (16, 16, 3) and not crop.any()


def test_crop_box_round_trip():
    prev = [100.0, 80.0, 40.0, 30.0]
    target = [110.0, 85.0, 36.0, 28.0]
    rf = 224 / 140.0
    in_crop = box_xywh_in_crop(target, prev, rf, 224)
    cx, cy = in_crop[0] + in_crop[2] / 2, in_crop[1] + in_crop[3] / 2
    # back-projection uses the continuous origin centre - S/2 (official), the forward map uses
    # (out-1)/2 as the crop centre: they differ by half a crop pixel, in image pixels 0.5 / rf
    back = box_cxcywh_from_crop(np.array([cx, cy, in_crop[2], in_crop[3]]) / rf, prev, rf, 224)
    assert np.allclose(back[2:], target[2:])
    assert np.allclose(np.array(back[:2]) + 0.5 / rf, target[:2])
