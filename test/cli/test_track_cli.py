"""`fartrack track` run as a user runs it (the real command in a subprocess): inputs, outputs,
errors, interruption."""
from __future__ import annotations

import signal
import subprocess
import time

import cv2
import pytest
from cli_data import (FARTRACK, assert_one_line_error, fartrack, headless_env, moving_square_frames,
                      read_video, write_video)

FAST = ("--backend", "torch", "--threads", "1", "--quiet")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    frames, boxes = moving_square_frames(8)
    path = write_video(tmp_path_factory.mktemp("video") / "clip.avi", frames)
    return path, frames, boxes


@pytest.fixture(scope="module")
def text_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "notes.pth.tar"
    path.write_text("these are my notes, not weights\n")
    return path


def box_arg(box):
    return ",".join(str(v) for v in box)


# --------------------------------------------------------------------------- checked before the model
def test_overlay_with_unknown_extension_fails_before_the_model_loads(video, text_weights, tmp_path):
    path, _, boxes = video
    proc = fartrack("track", "--video", path, "--box", box_arg(boxes[0]), "--weights", text_weights,
                    "--overlay", tmp_path / "ov.txt")
    assert_one_line_error(proc, "ov.txt", "'.txt'", ".mp4")
    assert not (tmp_path / "ov.txt").exists()


def test_results_pointing_at_a_folder_is_a_one_line_error(video, tmp_path):
    path, _, boxes = video
    proc = fartrack("track", "--video", path, "--box", box_arg(boxes[0]), "--results", tmp_path)
    assert_one_line_error(proc, "--results", "is a folder")


def test_results_folder_is_created_before_the_model_and_nothing_is_left_on_failure(
        video, text_weights, tmp_path):
    path, _, boxes = video
    results = tmp_path / "new" / "deeper" / "boxes.txt"
    overlay = tmp_path / "other" / "ov.mp4"
    proc = fartrack("track", "--video", path, "--box", box_arg(boxes[0]), "--weights", text_weights,
                    "--results", results, "--overlay", overlay)
    # the weights are read last: their error, not an output's, and no empty output files left
    assert_one_line_error(proc, "notes.pth.tar", "text file")
    assert results.parent.is_dir() and overlay.parent.is_dir()
    assert not results.exists() and not overlay.exists()


def test_text_and_onnx_weights_are_named_for_what_they_are(video, text_weights, tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    graph_file = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph), graph_file)
    path, _, boxes = video
    for weights, what in ((text_weights, "text file"), (graph_file, "ONNX graph")):
        proc = fartrack("track", "--video", path, "--box", box_arg(boxes[0]), "--weights", weights)
        line = assert_one_line_error(proc, str(weights), what, ".pth.tar", ".safetensors")
        assert "unsafe" not in line


def test_max_frames_zero_and_negative_start_frame_are_rejected(video):
    path, _, boxes = video
    for option, value in (("--max-frames", "0"), ("--start-frame", "-1"), ("--threads", "0")):
        proc = fartrack("track", "--video", path, "--box", box_arg(boxes[0]), option, value)
        assert_one_line_error(proc, option)


def test_start_frame_past_the_end_names_the_length(video):
    path, _, boxes = video
    proc = fartrack("track", "--video", path, "--box", box_arg(boxes[0]), "--start-frame", "50")
    assert_one_line_error(proc, "--start-frame 50", "8 frames")


def test_negative_box_value_is_taken_as_the_box(video, text_weights):
    path, _, _ = video
    # accepted (partly left of the image): the run gets as far as the weights
    proc = fartrack("track", "--video", path, "--box", "-10,30,40,40", "--weights", text_weights)
    assert_one_line_error(proc, "notes.pth.tar")
    # entirely left of the image: refused for that reason, before the model
    proc = fartrack("track", "--video", path, "--box", "-100,30,40,40")
    assert_one_line_error(proc, "outside")


@pytest.mark.parametrize("display", [None, ":99"])
def test_missing_box_without_a_usable_display_asks_for_box(video, display):
    path, _, _ = video
    env = headless_env(**({"DISPLAY": display} if display else {}))
    proc = fartrack("track", "--video", path, env=env, timeout=60)
    line = assert_one_line_error(proc, "--box")
    if display is None:
        assert "no display" in line


def test_camera_index_is_opened_as_a_camera(video):
    # no camera 9 on a test machine: OpenCV is asked for the camera, not the file system
    proc = fartrack("track", "--video", "9", "--box", "1,1,5,5", timeout=60)
    line = assert_one_line_error(proc, "camera 9")
    assert "not found" not in line


def test_topic_needs_bag_and_video_excludes_bag(video, tmp_path):
    path, _, boxes = video
    assert_one_line_error(fartrack("track", "--video", path, "--box", box_arg(boxes[0]),
                                   "--topic", "/camera/image_raw"), "--topic", "--bag")
    assert_one_line_error(fartrack("track", "--video", path, "--bag", tmp_path,
                                   "--box", box_arg(boxes[0])), "--bag")


# --------------------------------------------------------------------------- tracking
def test_overlay_shows_the_given_box_and_results_carry_score_and_state(video, tmp_path):
    path, frames, boxes = video
    results, overlay = tmp_path / "r.txt", tmp_path / "ov.mp4"
    proc = fartrack("track", "--video", path, "--box", box_arg(boxes[0]), "--max-frames", 5,
                    "--results", results, "--results-format", "xywh-score-state",
                    "--overlay", overlay, *FAST)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split(",") for line in results.read_text().splitlines()]
    assert len(rows) == 5
    assert [float(v) for v in rows[0][:4]] == list(boxes[0]) and rows[0][4:] == ["1.0000", "init"]
    for row in rows[1:]:
        assert len(row) == 6 and 0.0 <= float(row[4]) <= 1.0 and row[5] in ("tracking", "lost")
    drawn = read_video(overlay)
    assert len(drawn) == 5
    # the given box is drawn (green edges) on the first frame
    x, y, w, h = boxes[0]
    edge = (slice(y - 1, y + 2), slice(x + 3, x + w - 3))
    added_green = drawn[0][edge][..., 1].astype(float).mean() - frames[0][edge][..., 1].astype(float).mean()
    assert added_green > 60, added_green


def test_start_frame_on_a_frame_folder_with_csv_results(video, tmp_path):
    _, frames, boxes = video
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:04d}.png"), f)
    results = tmp_path / "r.csv"
    proc = fartrack("track", "--video", folder, "--box", box_arg(boxes[3]), "--start-frame", 3,
                    "--max-frames", 3, "--results", results, "--results-format", "csv", *FAST)
    assert proc.returncode == 0, proc.stderr
    lines = results.read_text().splitlines()
    assert lines[0] == "frame,stamp_ns,x,y,w,h,score,state"
    rows = [line.split(",") for line in lines[1:]]
    assert [r[0] for r in rows] == ["3", "4", "5"]
    assert [r[1] for r in rows] == ["", "", ""]          # a frame folder has no time stamps
    assert [float(v) for v in rows[0][2:6]] == list(boxes[3]) and rows[0][7] == "init"


def test_ctrl_c_ends_cleanly_and_keeps_what_was_written(tmp_path):
    frames, boxes = moving_square_frames(150)
    path = write_video(tmp_path / "long.avi", frames)
    results, overlay = tmp_path / "r.txt", tmp_path / "ov.mp4"
    proc = subprocess.Popen(FARTRACK + ["track", "--video", str(path), "--box", box_arg(boxes[0]),
                                        "--results", str(results), "--overlay", str(overlay), *FAST],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=headless_env())
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and len(results.read_text().splitlines()) >= 4:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "interrupted after" in err, err
    written = results.read_text().splitlines()
    assert 4 <= len(written) < 150
    assert all(len(line.split(",")) == 4 for line in written)       # no half-written line
    assert len(read_video(overlay)) == len(written)                   # the video file is finalised

