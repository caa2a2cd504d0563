"""Forward-backward pseudo-labels with a real teacher (OpenCV's KCF) on small made-up videos."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from fartrack_ros.core.boxes import iou_xywh
from fartrack_ros.evaluation.peers import OpenCvPeerTracker
from fartrack_ros.data.training_sets import read_track_output
from fartrack_ros.training.pseudo_labels import (PseudoLabelConfig, propose_boxes, pseudo_label_video,
                                                 write_track)

SIDE = 40


def moving_patch_video(count: int, vanish_at: int | None = None):
    """A textured square gliding over a smooth background; optionally gone from ``vanish_at``."""
    rng = np.random.default_rng(1)
    patch = rng.integers(0, 255, (SIDE, SIDE, 3), dtype=np.uint8)
    ramp = np.linspace(60, 120, 240, dtype=np.float32)
    background = np.repeat(np.repeat(ramp[None, :, None], 180, 0), 3, 2).astype(np.uint8)
    frames, truth = [], []
    for i in range(count):
        frame = background.copy()
        x, y = 30 + 3 * i, 50 + i
        if vanish_at is None or i < vanish_at:
            frame[y:y + SIDE, x:x + SIDE] = patch
        frames.append(frame)
        truth.append((x, y, SIDE, SIDE))
    return frames, np.asarray(truth, np.float64)


def run(frames, cfg):
    return list(pseudo_label_video(lambda s, n: frames[s:s + n], len(frames),
                                   lambda: OpenCvPeerTracker("kcf"), cfg, np.random.default_rng(0)))


def test_proposals_sit_on_texture_inside_the_image():
    frames, truth = moving_patch_video(1)
    cfg = PseudoLabelConfig(min_side=20, max_side_fraction=0.25)
    boxes = propose_boxes(frames[0], 5, np.random.default_rng(0), cfg)
    assert boxes
    for x, y, w, h in boxes:
        assert x >= 0 and y >= 0 and x + w <= 240 and y + h <= 180
        assert 20 <= w <= 45 and 20 <= h <= 45
        assert iou_xywh(np.array([x, y, w, h]), truth[0]) > 0      # corners only on the patch


def test_a_consistent_track_is_kept_and_follows_the_target(tmp_path):
    frames, truth = moving_patch_video(30)
    cfg = PseudoLabelConfig(clip_length=30, starts_per_clip=1, min_side=36, max_side_fraction=0.25)
    tracks = run(frames, cfg)
    assert len(tracks) == 1
    track = tracks[0]
    assert track.return_iou >= 0.7 and track.min_pair_iou >= 0.5
    # the proposed box sits on a corner of the patch, not on the patch: it must move with it
    offset = track.boxes_xywh[:, :2] - truth[:, :2]
    assert np.abs(offset - offset[0]).max() < 3 and iou_xywh(track.boxes_xywh, truth).min() > 0.2

    paths = []
    for i, frame in enumerate(frames):
        paths.append(str(tmp_path / f"src{i:03d}.png"))
        cv2.imwrite(paths[-1], cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    folder = write_track(tmp_path / "out" / "clip0", paths, track)
    sequence = read_track_output(folder)[0]
    assert len(sequence) == 30 and sequence.visible.all()
    np.testing.assert_allclose(sequence.boxes_xywh, track.boxes_xywh, atol=0.01)
    assert np.array_equal(sequence.read_frame_rgb(5), frames[5])


def test_a_track_that_loses_its_target_is_dropped():
    frames, _ = moving_patch_video(30, vanish_at=15)
    cfg = PseudoLabelConfig(clip_length=30, starts_per_clip=3, min_side=36, max_side_fraction=0.25)
    assert run(frames, cfg) == []


def test_config_is_checked():
    with pytest.raises(ValueError, match="clip_length"):
        PseudoLabelConfig(clip_length=1)
