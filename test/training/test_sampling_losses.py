"""Samplers, processing and losses of the training recipes."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fartrack_ros.core.tokenizer import quantize_coords
from fartrack_ros.data.images import ImageFiles
from fartrack_ros.data.training_sets import Sequence, TrackingDataset
from fartrack_ros.runtime.preprocess import Normalizer
from fartrack_ros.training.loaders import normalize_crops
from fartrack_ros.training.losses import (distill_kl, expectation_xyxy, sequence_targets, siou_loss,
                                          token_cross_entropy)
from fartrack_ros.training.processing import (ProcessingConfig, crop_is_all_padding, flip_box_xywh,
                                              jitter_box_xywh, process_frame_pick)
from fartrack_ros.training.sampling import (CausalFrameSampler, ClipSampler, DatasetMixture, FramePick,
                                            sample_visible_ids)


class ArrayFrames:
    """In-memory frames (no files) for sampler / processing tests."""

    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def path(self, i):
        return f"mem#{i}"

    def read_rgb(self, i):
        return self.images[i]


def synthetic_sequence(n=60, visible=None, size=(120, 160)):
    rng = np.random.default_rng(0)
    images, boxes = [], []
    for t in range(n):
        img = np.full(size + (3,), 60, np.uint8)
        x, y = 40 + t % 20, 30 + (t // 3) % 15
        img[y:y + 20, x:x + 30] = rng.integers(150, 255, (20, 30, 3))
        images.append(img)
        boxes.append([x, y, 30, 20])
    vis = np.ones(n, bool) if visible is None else np.asarray(visible)
    return Sequence("synthetic", ArrayFrames(images), np.asarray(boxes, float), vis)


# --------------------------------------------------------------------------- samplers

def test_sample_visible_ids_only_returns_visible_frames_in_range():
    rng = np.random.default_rng(1)
    visible = np.array([0, 1, 0, 1, 1, 0, 0, 1], bool)
    ids = sample_visible_ids(rng, visible, 200, 2, 7)
    assert set(ids) == {3, 4}
    assert sample_visible_ids(rng, visible, 1, 5, 7) is None
    assert sample_visible_ids(rng, visible, 1, -10, 2) == [1]


def test_causal_sampler_puts_the_search_after_the_templates():
    visible = np.ones(60, bool)
    visible[::7] = False
    seq = synthetic_sequence(60, visible)
    sampler = CausalFrameSampler(DatasetMixture([TrackingDataset("s", [seq])]), max_gap=10)
    rng = np.random.default_rng(2)
    for _ in range(200):
        pick = sampler.sample(rng)
        base, earlier, search = pick.template_ids[0], pick.template_ids[1:], pick.search_ids[0]
        assert len(pick.template_ids) == 5 and 4 <= base < 59
        assert all(base - 10 <= i < base for i in earlier)          # slot 0 is the most recent
        assert base < search <= base + 10
        assert visible[pick.template_ids].all() and visible[search]


def test_image_datasets_repeat_their_frame_and_short_sequences_are_skipped():
    short = synthetic_sequence(15)                        # < 20 frames: unusable for video sampling
    still = Sequence("img", ImageFiles(("x.jpg",)), np.array([[1.0, 2, 3, 4]]), np.ones(1, bool))
    mixture = DatasetMixture([TrackingDataset("short", [short]), TrackingDataset("coco", [still], is_video=False)])
    pick = CausalFrameSampler(mixture).sample(np.random.default_rng(3))
    assert pick.sequence.name == "img" and pick.template_ids == [0] * 5 and pick.search_ids == [0]
    with pytest.raises(ValueError, match="no usable sequence"):
        CausalFrameSampler(DatasetMixture([TrackingDataset("short", [short])])).sample(np.random.default_rng(0))


def test_clip_sampler_sorts_templates_and_takes_consecutive_visible_frames():
    visible = np.ones(80, bool)
    visible[40:44] = False
    seq = synthetic_sequence(80, visible)
    sampler = ClipSampler(DatasetMixture([TrackingDataset("s", [seq])]), clip_length=8, max_gap=20)
    rng = np.random.default_rng(4)
    for _ in range(100):
        pick = sampler.sample(rng)
        t = pick.template_ids
        assert t == sorted(t) and t[-1] < 80 - 8
        clip = pick.clip_ids
        assert len(clip) == 8 and t[-1] <= clip[0] < t[-1] + 20
        expected = [i for i in range(clip[0], 80) if visible[i]][:8]
        assert clip == expected + [expected[-1]] * (8 - len(expected))


# --------------------------------------------------------------------------- processing

def test_jitter_and_flip():
    rng = np.random.default_rng(5)
    box = np.array([10.0, 20.0, 30.0, 40.0])
    np.testing.assert_array_equal(jitter_box_xywh(rng, box, 0, 0), box)
    jittered = np.array([jitter_box_xywh(rng, box, 3.5, 0.5) for _ in range(2000)])
    log_ratio = np.log(jittered[:, 2] / 30.0)
    assert abs(log_ratio.std() - 0.5) < 0.05 and abs(log_ratio.mean()) < 0.05
    np.testing.assert_allclose(flip_box_xywh(box, 100), [60, 20, 30, 40])
    np.testing.assert_allclose(flip_box_xywh(flip_box_xywh(box, 100), 100), box)


def test_crop_rejection_when_the_window_shows_no_image():
    assert not crop_is_all_padding((120, 160, 3), [40, 30, 30, 20], 4.0, 224)
    assert crop_is_all_padding((120, 160, 3), [900, 30, 30, 20], 4.0, 224)
    assert crop_is_all_padding((120, 160, 3), [40, -500, 30, 20], 4.0, 224)


NO_AUGMENT = ProcessingConfig(search_center_jitter=0, search_scale_jitter=0, grayscale_probability=0,
                              joint_flip_probability=0, crop_flip_probability=0, brightness_jitter=0)


def test_unjittered_search_target_sits_in_the_crop_centre():
    seq = synthetic_sequence()
    pick = FramePick(TrackingDataset("s", [seq]), seq, [10, 5, 6, 7, 8], [20])
    sample = process_frame_pick(np.random.default_rng(0), pick, NO_AUGMENT)
    assert sample.templates.shape == (5, 112, 112, 3) and sample.search.shape == (224, 224, 3)
    side = math.ceil(math.sqrt(30 * 20) * 4)
    r = 224 / side
    centre = (223 / 2) / 224
    expected = np.array([centre - 15 * r / 224, centre - 10 * r / 224, centre + 15 * r / 224, centre + 10 * r / 224])
    np.testing.assert_allclose(sample.search_box_xyxy, expected, atol=1e-6)
    np.testing.assert_array_equal(sample.target_tokens, quantize_coords(expected))
    # the object's bright texture is where the box says, background outside it
    x0, y0, x1, y1 = (sample.search_box_xyxy * 224).round().astype(int)
    assert sample.search[y0 + 2:y1 - 2, x0 + 2:x1 - 2].mean() > 150
    assert sample.search[y0 - 6, x0 - 6].mean() < 70
    assert sample.template_brightness.tolist() == [1.0] * 5


def test_flips_move_the_target_box_with_the_pixels():
    seq = synthetic_sequence()
    pick = FramePick(TrackingDataset("s", [seq]), seq, [10, 5, 6, 7, 8], [20])
    plain = process_frame_pick(np.random.default_rng(0), pick, NO_AUGMENT)
    for cfg in (ProcessingConfig(**{**NO_AUGMENT.__dict__, "crop_flip_probability": 1.0}),
                ProcessingConfig(**{**NO_AUGMENT.__dict__, "joint_flip_probability": 1.0})):
        flipped = process_frame_pick(np.random.default_rng(0), pick, cfg)
        x0, y0, x1, y1 = plain.search_box_xyxy
        np.testing.assert_allclose(flipped.search_box_xyxy, [1 - x1, y0, 1 - x0, y1], atol=2 / 224)
        diff = np.abs(flipped.search.astype(int) - plain.search[:, ::-1].astype(int))
        assert np.median(diff) <= 1          # the same picture, mirrored (crop rounding aside)


def test_normalize_crops_matches_the_tracker_and_applies_brightness():
    crop = np.random.default_rng(6).integers(0, 256, (112, 112, 3), dtype=np.uint8)
    ours = normalize_crops(torch.from_numpy(crop)[None])
    assert torch.equal(ours, Normalizer("cpu")(crop))
    bright = normalize_crops(torch.from_numpy(crop)[None], torch.tensor([1.5]))
    expected = ((torch.from_numpy(crop).float() / 255 * 1.5).clamp(0, 1)).permute(2, 0, 1)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    torch.testing.assert_close(bright[0], (expected - mean) / std)


# --------------------------------------------------------------------------- losses

def test_siou_hand_computed():
    pred = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    gt = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    # centres differ by (0.5, 0.5): angle cost 1 (45 degrees), gamma 1; enclosing box 2 x 2
    dist = 2 * (1 - math.exp(-(0.5 / 2) ** 2))
    shape = 2 * (1 - math.exp(-0.5)) ** 4
    expected = 1 - 0.25 + (shape + dist) / 2
    torch.testing.assert_close(siou_loss(pred, gt), torch.tensor([expected]), atol=1e-6, rtol=0)
    assert float(siou_loss(gt, gt)) == pytest.approx(0.0, abs=1e-6)
    # horizontal offset only: angle = 1 - 2 sin^2(-pi/4) = 0, so gamma = 2
    a, b = torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([[0.5, 0, 1.5, 1]])
    dist = 1 - math.exp(-2 * (0.5 / 1.5) ** 2)         # no vertical offset: that term is 0
    torch.testing.assert_close(siou_loss(a, b), torch.tensor([1 - 0.5 / 1.5 + dist / 2]), atol=1e-6, rtol=0)


def test_expectation_decode_and_weighted_ce():
    logits = torch.full((1, 4, 605), -1e4)
    for j, k in enumerate((100, 150, 200, 250)):
        logits[0, j, k] = 0.0
    torch.testing.assert_close(expectation_xyxy(logits), torch.tensor([[-0.5 + k / 300 for k in (100, 150, 200, 250)]]))
    logits = torch.randn(3, 4, 605)
    tokens = torch.randint(0, 599, (3, 4))
    plain = torch.nn.functional.cross_entropy(logits.reshape(-1, 605), tokens.reshape(-1))
    torch.testing.assert_close(token_cross_entropy(logits, tokens), plain)   # coordinate targets: weight 1
    # a special-id target counts 0.1 in the weighted mean
    tokens[0, 0] = 600
    losses = torch.nn.functional.cross_entropy(logits.reshape(-1, 605), tokens.reshape(-1), reduction="none")
    w = torch.ones(12)
    w[0] = 0.1
    torch.testing.assert_close(token_cross_entropy(logits, tokens), (losses * w).sum() / w.sum())


def test_distill_kl_is_batchmean_over_coordinate_bins():
    s, t = torch.randn(2, 4, 605), torch.randn(2, 4, 605, requires_grad=True)
    kl = distill_kl(s, t)
    p = t[..., :600].softmax(-1)
    expected = (p * (p.log() - s[..., :600].log_softmax(-1))).sum() / 2
    torch.testing.assert_close(kl, expected)
    assert float(distill_kl(s, s)) == pytest.approx(0.0, abs=1e-6)
    assert not kl.requires_grad                            # the teacher is detached


def test_sequence_targets_clamp_and_truncate():
    target, tokens = sequence_targets(torch.tensor([[-0.7, 0.25, 1.0, 1.6]]))
    torch.testing.assert_close(target, torch.tensor([[-0.5, 0.25, 1.0, (600 - 1e-4) / 299 - 0.5]]))
    assert tokens.tolist() == [[0, int(0.75 * 299), int(1.5 * 299), 599]]


def test_center_heatmap_peaks_at_the_box_centre_and_is_a_distribution():
    from fartrack_ros.training.losses import center_heatmap, center_loss
    boxes = torch.tensor([[0.40, 0.10, 0.60, 0.30],      # centre (0.5, 0.2): token row 2, col 7
                          [1.20, 1.10, 1.40, 1.45]])     # outside: clamped to the corner
    heat = center_heatmap(boxes, 14)
    assert heat.shape == (2, 196)
    torch.testing.assert_close(heat.sum(dim=1), torch.ones(2))
    assert int(heat[0].argmax()) in (2 * 14 + 6, 2 * 14 + 7)
    assert int(heat[1].argmax()) == 14 * 14 - 1
    peaked = torch.log(heat + 1e-12)                      # logits that agree with the target
    assert center_loss(peaked, boxes) < center_loss(torch.zeros(2, 196), boxes)


def test_edge_attention_targets_look_at_the_named_edge_of_the_box():
    from fartrack_ros.training.losses import edge_attention_targets, readout_attention_loss
    box = torch.tensor([[0.30, 0.40, 0.60, 0.80]])
    t = edge_attention_targets(box, 14)
    assert t.shape == (1, 4, 196)
    torch.testing.assert_close(t.sum(dim=-1), torch.ones(1, 4))
    m = t[0].reshape(4, 14, 14)
    columns, rows = m.sum(dim=1), m.sum(dim=2)          # mass per column / per row
    assert int(columns[0].argmax()) == 4 and int(columns[2].argmax()) == 8     # x0 0.30, x1 0.60
    assert int(rows[1].argmax()) == 5 and int(rows[3].argmax()) == 11          # y0 0.40, y1 0.80
    assert set(torch.nonzero(rows[0]).flatten().tolist()) == set(range(6, 11))  # the box's rows
    uniform = torch.full((1, 4, 196), 1 / 196)
    assert readout_attention_loss(t, box) < readout_attention_loss(uniform, box)
