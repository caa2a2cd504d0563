"""Dataset readers on small folders in the GOT-10k, LaSOT and OTB layouts."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from eval_data import write_otb_sequence
from fartrack_ros.data.annotations import read_boxes_txt
from fartrack_ros.data.eval_sets import (read_eval_sequences, read_got10k_eval_sequences, read_lasot_eval_sequence,
                                         read_lasot_eval_sequences, read_otb_eval_sequences)


def _images(folder: Path, count: int, pattern: str = "{:08d}.jpg") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        cv2.imwrite(str(folder / pattern.format(i + 1)), np.zeros((8, 10, 3), np.uint8))


def test_got10k_val_reader(got10k_split):
    sequences = read_got10k_eval_sequences(got10k_split)
    assert [s.name for s in sequences] == ["GOT-10k_Val_000001", "GOT-10k_Val_000002"]
    seq = sequences[0]
    assert len(seq) == 6 and seq.gt_xywh.shape == (6, 4) and seq.has_full_ground_truth
    assert seq.init_box_xywh == (8.0, 10.0, 16.0, 14.0)
    assert seq.target_visible.tolist() == [True] * 5 + [False]
    assert seq.cover.tolist() == [8] * 5 + [0]
    assert seq.image_wh == (64, 48)


def test_got10k_test_split_has_only_the_first_box(tmp_path):
    seq_dir = tmp_path / "GOT-10k_Test_000001"
    _images(seq_dir, 5)
    (seq_dir / "groundtruth.txt").write_text("1.0,2.0,3.0,4.0\n")
    (seq,) = read_eval_sequences(tmp_path, "got10k")
    assert len(seq) == 5 and not seq.has_full_ground_truth
    assert seq.target_visible is None and seq.image_wh is None


def test_got10k_reader_points_to_the_split_folder(tmp_path):
    (tmp_path / "val").mkdir()
    with pytest.raises(FileNotFoundError, match="did you mean .*val"):
        read_got10k_eval_sequences(tmp_path)


def test_got10k_reader_rejects_mismatched_lengths(tmp_path):
    seq_dir = tmp_path / "seq"
    _images(seq_dir, 3)
    np.savetxt(seq_dir / "groundtruth.txt", np.ones((2, 4)), delimiter=",")
    with pytest.raises(ValueError, match="3 images but 2 ground-truth boxes"):
        read_got10k_eval_sequences(tmp_path)


def test_lasot_reader_uses_occlusion_and_out_of_view(tmp_path):
    seq_dir = tmp_path / "airplane" / "airplane-1"
    _images(seq_dir / "img", 4)
    np.savetxt(seq_dir / "groundtruth.txt", np.arange(16).reshape(4, 4) + 1, fmt="%d", delimiter=",")
    (seq_dir / "full_occlusion.txt").write_text("0,1,0,0")
    (seq_dir / "out_of_view.txt").write_text("0,0,0,1")
    other = tmp_path / "bear" / "bear-2"
    _images(other / "img", 2)
    np.savetxt(other / "groundtruth.txt", np.ones((2, 4)), fmt="%d", delimiter=",")
    sequences = read_lasot_eval_sequences(tmp_path)
    assert [s.name for s in sequences] == ["airplane-1", "bear-2"]
    assert sequences[0].target_visible.tolist() == [True, False, True, False]
    assert sequences[1].target_visible is None
    (tmp_path / "testing_set.txt").write_text("bear-2\n")
    assert [s.name for s in read_lasot_eval_sequences(tmp_path)] == ["bear-2"]


def test_otb_reader_separators_targets_and_frame_ranges(tmp_path):
    _images(tmp_path / "Basketball" / "img", 3, "{:04d}.jpg")
    (tmp_path / "Basketball" / "groundtruth_rect.txt").write_text("1\t2\t3\t4\n5 6 7 8\n9,10,11,12\n")
    _images(tmp_path / "Jogging" / "img", 2, "{:04d}.jpg")
    (tmp_path / "Jogging" / "groundtruth_rect.1.txt").write_text("1,1,5,5\n1,1,5,5\n")
    (tmp_path / "Jogging" / "groundtruth_rect.2.txt").write_text("9,9,5,5\n9,9,5,5\n")
    _images(tmp_path / "Diving" / "img", 220, "{:04d}.jpg")     # annotation covers frames 1-215
    np.savetxt(tmp_path / "Diving" / "groundtruth_rect.txt", np.ones((215, 4)), fmt="%d", delimiter=",")
    sequences = {s.name: s for s in read_otb_eval_sequences(tmp_path)}
    assert sorted(sequences) == ["Basketball", "Diving", "Jogging.1", "Jogging.2"]
    assert sequences["Basketball"].gt_xywh.tolist() == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
    assert sequences["Jogging.2"].init_box_xywh == (9.0, 9.0, 5.0, 5.0)
    assert len(sequences["Diving"]) == 215 and sequences["Diving"].frame_paths[-1].name == "0215.jpg"


def test_box_file_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "gt.txt"
    bad.write_text("1,2,3,4\n1,2,x,4\n")
    with pytest.raises(ValueError, match=r"gt.txt:2"):
        read_boxes_txt(bad)
    bad.write_text("1,2,3\n")
    with pytest.raises(ValueError, match="expected 4 numbers"):
        read_boxes_txt(bad)
    with pytest.raises(FileNotFoundError, match="nothing.txt"):
        read_boxes_txt(tmp_path / "nothing.txt")


def test_unknown_format_and_missing_root(tmp_path):
    with pytest.raises(ValueError, match="vot"):
        read_eval_sequences(tmp_path, "vot")
    with pytest.raises(FileNotFoundError, match="missing"):
        read_eval_sequences(tmp_path / "missing", "otb")


def test_got10k_resolution_in_configparser_style_meta(got10k_split):
    meta = got10k_split / "GOT-10k_Val_000001" / "meta_info.ini"
    meta.write_text("[METAINFO]\nresolution = (320, 240)\n")
    assert read_got10k_eval_sequences(got10k_split)[0].image_wh == (320, 240)


def test_otb_nan_rows_are_kept_and_marked_absent(tmp_path):
    root = write_otb_sequence(tmp_path / "otb", absent_rows=(2, 5))
    (seq,) = read_otb_eval_sequences(root)
    assert np.isnan(seq.gt_xywh[[2, 5]]).all() and not np.isnan(seq.gt_xywh[[0, 1, 3, 4, 6, 7]]).any()
    assert seq.target_visible.tolist() == [True, True, False, True, True, False, True, True]
    (full,) = read_otb_eval_sequences(write_otb_sequence(tmp_path / "full"))
    assert full.target_visible is None                     # no NaN: nothing invented


def test_nan_first_box_is_a_clear_error(tmp_path):
    root = write_otb_sequence(tmp_path / "otb", absent_rows=(0,))
    with pytest.raises(ValueError, match="Square: the first ground-truth box is NaN"):
        read_otb_eval_sequences(root)


def test_lasot_nan_rows_join_the_visibility_flags(tmp_path):
    seq_dir = tmp_path / "lasot" / "cat" / "cat-1"
    _images(seq_dir / "img", 4)
    (seq_dir / "groundtruth.txt").write_text("1,1,4,4\n1,1,4,4\nnan,nan,nan,nan\n1,1,4,4\n")
    (seq_dir / "full_occlusion.txt").write_text("0,1,0,0")
    (seq_dir / "out_of_view.txt").write_text("0,0,0,0")
    seq = read_lasot_eval_sequence(seq_dir)
    assert seq.target_visible.tolist() == [True, False, False, True]
