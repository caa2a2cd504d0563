"""The generated dataset: exact ground truth, reproducibility, disjoint train/test targets."""
from __future__ import annotations

import configparser

import numpy as np
import pytest

from fartrack_ros.data.training_sets import read_got10k
from fartrack_ros.data.photos import packaged_images, tree_images
from fartrack_ros.data.render import Scene, Sprite, render_scene
from fartrack_ros.data.scenes import GeneratorConfig, cover_level, pools_for_split
from fartrack_ros.training.generate import generate_dataset

RED = (200, 30, 40)
GREY = 90


def rect_sprite(w, h, colour, centres, angles, z=0.0, role="target"):
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., :3] = colour
    rgba[..., 3] = 255
    n = len(centres)
    return Sprite(rgba, np.asarray(centres, float), np.tile([w, h], (n, 1)).astype(float),
                  np.asarray(angles, float), np.ones(n), z, False, role)


def flat_scene(sprites, n, width=100, height=80):
    background = np.full((height, width, 3), GREY, np.uint8)
    camera = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (n, 1, 1))
    light = np.tile([1.0, 0.0, 0.0], (n, 1))
    return Scene(sprites, background, camera, light, 0.0, 0)


def test_visible_part_boxes_are_exact():
    # A 20x10 red patch; patch pixel (0,0) lands on frame pixel (x0,y0) when its centre is at
    # (x0 + 9.5, y0 + 4.5).
    centres = [(30 + 9.5, 20 + 4.5),      # 0: inside
               (-5 + 9.5, 20 + 4.5),      # 1: 5 of 20 columns left of the frame
               (-50.0, 20.0),             # 2: entirely outside
               (30 + 9.5, 20 + 4.5),      # 3: right half covered by an occluder
               (50.5, 40.5)]              # 4: rotated by 90 degrees
    target = rect_sprite(20, 10, RED, centres, [0, 0, 0, 0, 90])
    away = (500.0, 500.0)
    occluder = rect_sprite(10, 30, (0, 0, 255), [away, away, away, (40 + 4.5, 10 + 14.5), away],
                           [0] * 5, z=1.0, role="occluder")
    out = list(render_scene(flat_scene([target, occluder], 5), 100, 80))
    boxes = [o[1] for o in out]
    fractions = [o[2] for o in out]
    fully = [o[3] for o in out]
    assert boxes == [(30, 20, 20, 10), (0, 20, 15, 10), (0, 0, 0, 0), (30, 20, 10, 10), (46, 31, 10, 20)]
    np.testing.assert_allclose(fractions, [1.0, 0.75, 0.0, 0.5, 1.0])
    assert fully == [True, False, False, False, True]
    assert [cover_level(f, v) for f, v in zip(fractions, fully)] == [8, 5, 0, 4, 8]
    # the frame shows what the boxes say
    frame0, frame3 = out[0][0], out[3][0]
    assert tuple(frame0[25, 35]) == RED and tuple(frame0[25, 29]) == (GREY,) * 3
    assert tuple(frame3[25, 45]) == (0, 0, 255) and tuple(frame3[25, 35]) == RED
    assert (out[2][0] == GREY).all()


def test_a_scene_needs_one_target():
    sprite = rect_sprite(4, 4, RED, [(10, 10)], [0], role="occluder")
    with pytest.raises(ValueError, match="exactly one sprite"):
        next(render_scene(flat_scene([sprite], 1), 100, 80))


@pytest.mark.parametrize("fraction,fully,level", [(0.0, False, 0), (0.01, False, 1), (0.15, False, 1),
                                                  (0.16, False, 2), (0.9, False, 6), (0.95, False, 7),
                                                  (0.999, False, 7), (1.0, True, 8)])
def test_cover_levels_follow_got10k(fraction, fully, level):
    assert cover_level(fraction, fully) == level


SMALL = GeneratorConfig(width=160, height=120, num_frames=12)


def read_truth(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.suffix in (".txt", ".label")}


def test_same_seed_gives_identical_data_and_more_sequences_keep_the_first(tmp_path):
    a = generate_dataset(tmp_path / "a", 2, seed=5, cfg=SMALL)
    b = generate_dataset(tmp_path / "b", 3, seed=5, cfg=SMALL)
    c = generate_dataset(tmp_path / "c", 2, seed=6, cfg=SMALL)
    truth_a, truth_b = read_truth(a), read_truth(b)
    for name, data in truth_a.items():
        if name != "list.txt":
            assert truth_b[name] == data, name
    first = "GEN_train_000001/00000007.jpg"
    assert (a / first).read_bytes() == (b / first).read_bytes()
    assert read_truth(c)["GEN_train_000001/groundtruth.txt"] != truth_a["GEN_train_000001/groundtruth.txt"]


def test_generated_set_reads_as_got10k(tmp_path):
    out = generate_dataset(tmp_path / "g", 3, seed=1, split="test", cfg=SMALL)
    ds = read_got10k(out)
    assert [s.name for s in ds] == ["GEN_test_000001", "GEN_test_000002", "GEN_test_000003"]
    for seq in ds:
        assert len(seq) == 12
        assert seq.read_frame_rgb(0).shape == (120, 160, 3)
        absence = np.loadtxt(out / seq.name / "absence.label")
        assert seq.visible.tolist() == (absence == 0).tolist()
        assert seq.visible_ratio[0] == 1.0                     # first frame shows all of it
        absent = ~seq.visible
        assert (seq.boxes_xywh[absent] == 0).all()
        boxes = seq.boxes_xywh[seq.visible]
        assert (boxes[:, 2:] >= 1).all()
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 0] + boxes[:, 2] <= 160).all()
        assert (boxes[:, 1] >= 0).all() and (boxes[:, 1] + boxes[:, 3] <= 120).all()


def test_test_targets_never_appear_in_training(tmp_path):
    images = packaged_images()
    train_targets, train_scenes = pools_for_split(images, "train")
    test_targets, _ = pools_for_split(images, "test")
    train_names = {im.name for im in train_targets + train_scenes}
    assert test_targets and not train_names & {im.name for im in test_targets}

    def used_images(folder, split, n):
        out = generate_dataset(folder, n, seed=3, split=split, cfg=SMALL)
        used = []
        for k in range(n):
            ini = configparser.ConfigParser()
            ini.read(out / f"GEN_{split}_{k + 1:06d}" / "meta_info.ini")
            m = ini["METAINFO"]
            used.append((m["target_image"], {m["background_image"], *m["occluder_images"].split()}))
        return used

    for target, scene in used_images(tmp_path / "train", "train", 4):
        assert target in train_names and scene <= train_names
    for target, _ in used_images(tmp_path / "test", "test", 4):
        assert target in {im.name for im in test_targets}


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="split 'val'"):
        generate_dataset(tmp_path, 1, split="val", cfg=SMALL)
    with pytest.raises(ValueError, match="num_sequences"):
        generate_dataset(tmp_path, 0, cfg=SMALL)
    with pytest.raises(ValueError, match="frame size"):
        GeneratorConfig(width=32, height=32)


def test_image_tree_keeps_photographs_and_names_them_by_path(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    photo = cv2.GaussianBlur(rng.integers(0, 256, (200, 240, 3), dtype=np.uint8), (3, 3), 0)
    screenshot = np.full((200, 240, 3), 255, np.uint8)
    screenshot[20:40, 10:200] = (40, 40, 40)                 # a line of "text" on white
    (tmp_path / "a" / "b").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "a" / "b" / "photo.png"), photo)
    cv2.imwrite(str(tmp_path / "a" / "screen.png"), screenshot)
    cv2.imwrite(str(tmp_path / "small.png"), photo[:50, :50])  # under min_side
    kept = tree_images(tmp_path, min_bytes=0)
    assert [im.name for im in kept] == [f"{tmp_path.name}/a/b/photo.png"]
    assert kept[0].pool in ("train", "test")
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        tree_images(tmp_path / "missing")
