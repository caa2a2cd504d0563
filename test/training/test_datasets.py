"""Dataset readers on tiny folders built in each published layout."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fartrack_ros.data.training_sets import (DatasetSpec, open_dataset, read_coco, read_got10k,
                                            read_lasot, read_otb, read_track_output, read_trackingnet)

BOXES = np.array([[1, 2, 10, 12], [2.5, 3, 11, 12], [0, 0, 0, 0], [4, 5, 9, 8]], dtype=np.float64)


def write_frames(folder: Path, names: list[str], size=(24, 32)) -> list[np.ndarray]:
    """Small jpgs whose mean colour encodes the frame index (so order can be checked)."""
    folder.mkdir(parents=True, exist_ok=True)
    images = []
    for i, name in enumerate(names):
        rgb = np.full((size[0], size[1], 3), 20 + 40 * i, np.uint8)
        rgb[..., 0] = 200 - 40 * i
        cv2.imwrite(str(folder / name), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        images.append(rgb)
    return images


def assert_frame_is(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == np.uint8 and actual.shape == expected.shape
    assert np.abs(actual.astype(int) - expected.astype(int)).max() <= 3   # JPEG


def test_got10k_layout(tmp_path):
    root = tmp_path / "got10k" / "train"
    seq = root / "GOT-10k_Train_000001"
    images = write_frames(seq, [f"{i:08d}.jpg" for i in range(1, 5)])
    np.savetxt(seq / "groundtruth.txt", BOXES, fmt="%.4f", delimiter=",")
    (seq / "absence.label").write_text("0\n0\n1\n0\n")
    (seq / "cover.label").write_text("8\n0\n0\n4\n")
    (root / "list.txt").write_text("GOT-10k_Train_000001\n")

    ds = read_got10k(root)
    assert len(ds) == 1 and ds.is_video
    s = ds[0]
    assert s.name == "GOT-10k_Train_000001" and len(s) == 4
    np.testing.assert_allclose(s.boxes_xywh, BOXES)
    # frame 1: cover 0 -> invisible; frame 2: absent and empty box; frame 3: half visible
    assert s.visible.tolist() == [True, False, False, True]
    np.testing.assert_allclose(s.visible_ratio, [1.0, 0.0, 0.0, 0.5])
    assert s.frame_path(0).endswith("GOT-10k_Train_000001/00000001.jpg")
    assert_frame_is(s.read_frame_rgb(3), images[3])


def test_got10k_without_list_and_with_sequence_list(tmp_path):
    root = tmp_path / "val"
    for name in ("b_seq", "a_seq"):
        write_frames(root / name, [f"{i:08d}.jpg" for i in range(1, 3)])
        np.savetxt(root / name / "groundtruth.txt", BOXES[:2], delimiter=",")
    assert [s.name for s in read_got10k(root)] == ["a_seq", "b_seq"]
    subset = tmp_path / "subset.txt"
    subset.write_text("b_seq\n")
    assert [s.name for s in read_got10k(root, subset)] == ["b_seq"]


def test_got10k_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_got10k(tmp_path / "nowhere")
    seq = tmp_path / "r" / "s1"
    write_frames(seq, ["00000001.jpg", "00000002.jpg"])
    (seq / "groundtruth.txt").write_text("1,2,3,4\n1,2,3\n")
    (tmp_path / "r" / "list.txt").write_text("s1\n")
    with pytest.raises(ValueError, match=r"groundtruth.txt:2: expected 4 numbers"):
        read_got10k(tmp_path / "r")
    (seq / "groundtruth.txt").write_text("1,2,3,4\n1,2,3,4\n")
    (seq / "absence.label").write_text("0\n")
    with pytest.raises(ValueError, match=r"absence.label: 1 labels for 2 frames"):
        read_got10k(tmp_path / "r")


def test_lasot_layout(tmp_path):
    root = tmp_path / "LaSOT"
    for cls, k in (("airplane", 1), ("airplane", 10), ("bear", 2)):
        seq = root / cls / f"{cls}-{k}"
        write_frames(seq / "img", [f"{i:08d}.jpg" for i in range(1, 5)])
        np.savetxt(seq / "groundtruth.txt", BOXES.astype(int), fmt="%d", delimiter=",")
        (seq / "full_occlusion.txt").write_text("0,1,0,0")
        (seq / "out_of_view.txt").write_text("0,0,0,1")
    ds = read_lasot(root)
    assert [s.name for s in ds] == ["airplane-1", "airplane-10", "bear-2"]   # natural order
    s = ds[0]
    assert s.visible.tolist() == [True, False, False, False]
    assert s.frame_path(2).endswith("airplane/airplane-1/img/00000003.jpg")
    assert s.read_frame_rgb(0).shape == (24, 32, 3)
    assert [s.name for s in read_lasot(root, classes=["bear"])] == ["bear-2"]
    lst = tmp_path / "train.txt"
    lst.write_text("airplane-10\nbear-2\n")
    assert [s.name for s in read_lasot(root, lst)] == ["airplane-10", "bear-2"]
    with pytest.raises(FileNotFoundError, match="cat"):
        read_lasot(root, classes=["cat"])


def test_trackingnet_layout(tmp_path):
    root = tmp_path / "TrackingNet"
    for chunk, seqs in (("TRAIN_0", ["abc_1", "xyz_2"]), ("TRAIN_1", ["q_3"])):
        for name in seqs:
            images = write_frames(root / chunk / "frames" / name, [f"{i}.jpg" for i in range(4)])
            (root / chunk / "anno").mkdir(parents=True, exist_ok=True)
            np.savetxt(root / chunk / "anno" / f"{name}.txt", BOXES, fmt="%.2f", delimiter=",")
    ds = read_trackingnet(root)
    assert [s.name for s in ds] == ["abc_1", "xyz_2", "q_3"]
    s = ds[2]
    assert s.visible.tolist() == [True, True, False, True]
    assert s.frame_path(0).endswith("TRAIN_1/frames/q_3/0.jpg")
    assert_frame_is(s.read_frame_rgb(1), images[1])
    assert len(read_trackingnet(root, chunks=["TRAIN_1"])) == 1


def test_coco_layout(tmp_path):
    images_dir = tmp_path / "train2017"
    write_frames(images_dir, ["000000000001.jpg", "000000000002.jpg"])
    ann = {"images": [{"id": 1, "file_name": "000000000001.jpg"}, {"id": 2, "file_name": "000000000002.jpg"}],
           "annotations": [{"id": 10, "image_id": 1, "bbox": [1, 2, 5, 6], "iscrowd": 0},
                           {"id": 11, "image_id": 2, "bbox": [3, 3, 4, 4], "iscrowd": 1},
                           {"id": 12, "image_id": 2, "bbox": [0, 0, 0, 3], "iscrowd": 0},
                           {"id": 13, "image_id": 2, "bbox": [2, 1, 7, 8], "iscrowd": 0}]}
    ann_file = tmp_path / "instances_train2017.json"
    ann_file.write_text(json.dumps(ann))
    ds = read_coco(images_dir, ann_file)
    assert not ds.is_video and len(ds) == 2          # crowd and empty boxes are skipped
    s = ds[1]
    assert s.name == "13" and len(s) == 1 and s.visible.tolist() == [True]
    np.testing.assert_allclose(s.boxes_xywh, [[2, 1, 7, 8]])
    assert s.frame_path(0).endswith("000000000002.jpg")
    assert s.read_frame_rgb(0).shape == (24, 32, 3)
    with pytest.raises(IndexError):
        ds[2]
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="instances"):
        read_coco(images_dir, tmp_path / "bad.json")


def test_track_output_with_frames_folder(tmp_path):
    out = tmp_path / "run"
    images = write_frames(out / "frames", [f"frame_{i}.png" for i in (1, 2, 10, 11)])   # numeric order
    (out / "boxes.txt").write_text("1,2,10,12\nnan,nan,nan,nan\n4 5 9 8\n3,3,0,5\n")
    ds = read_track_output(out)
    s = ds[0]
    assert len(s) == 4 and s.visible.tolist() == [True, False, True, False]
    assert s.frame_path(2).endswith("frame_10.png")
    np.testing.assert_array_equal(s.read_frame_rgb(2), images[2])      # PNG: exact
    assert np.isfinite(s.boxes_xywh).all()


def test_track_output_with_video(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    writer = cv2.VideoWriter(str(out / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    frames = []
    for i in range(5):
        rgb = np.full((24, 32, 3), 30 + 45 * i, np.uint8)
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        frames.append(rgb)
    writer.release()
    (out / "boxes.txt").write_text("1,1,5,5\n" * 4)              # a run stopped one frame early
    s = read_track_output(out)[0]
    assert len(s) == 4
    for i in (0, 3, 1, 2):                                           # includes a backward seek
        assert abs(int(s.read_frame_rgb(i).mean()) - int(frames[i].mean())) <= 4
    (out / "boxes.txt").write_text("1,1,5,5\n" * 6)
    with pytest.raises(ValueError, match="6 boxes but only 5 frames"):
        read_track_output(out)


def test_otb_layout_with_absent_frames(tmp_path):
    """Real annotated video as it comes: frames in img/ (any numbering width), one box row per
    frame, NaN rows where the target is absent; those frames are never sampled."""
    root = tmp_path / "real" / "train"
    images = write_frames(root / "Bird" / "img", [f"{i:04d}.jpg" for i in range(1, 5)])
    (root / "Bird" / "groundtruth_rect.txt").write_text(
        "1,2,10,12\n2.5\t3\t11\t12\nNaN,NaN,NaN,NaN\n4 5 9 8\n")
    write_frames(root / "Car" / "img", ["1.jpg", "2.jpg"])
    (root / "Car" / "groundtruth_rect.txt").write_text("1,1,5,5\n")        # one row short
    with pytest.raises(ValueError, match="2 images but 1 ground-truth rows"):
        read_otb(root)
    (root / "Car" / "groundtruth_rect.txt").write_text("1,1,5,5\n2,2,5,5\n")
    (root / "notes").mkdir()                                               # not a sequence

    ds = read_otb(root)
    assert [s.name for s in ds] == ["Bird", "Car"]
    bird = ds[0]
    assert bird.visible.tolist() == [True, True, False, True]
    assert np.isfinite(bird.boxes_xywh).all()
    np.testing.assert_allclose(bird.boxes_xywh[3], [4, 5, 9, 8])
    assert_frame_is(bird.read_frame_rgb(3), images[3])
    assert len(open_dataset(DatasetSpec(kind="otb", root=str(root)))) == 2
    with pytest.raises(FileNotFoundError, match="no OTB sequences"):
        read_otb(root / "notes")


def test_open_dataset_by_spec(tmp_path):
    seq = tmp_path / "g" / "s1"
    write_frames(seq, ["00000001.jpg", "00000002.jpg"])
    np.savetxt(seq / "groundtruth.txt", BOXES[:2], delimiter=",")
    ds = open_dataset(DatasetSpec(kind="got10k", root="g"), base_dir=tmp_path)
    assert len(ds) == 1
    with pytest.raises(ValueError, match="annotations"):
        DatasetSpec(kind="coco", root="x")
    with pytest.raises(ValueError, match="kind 'vot'"):
        DatasetSpec(kind="vot", root="x")
