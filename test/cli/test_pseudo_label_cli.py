"""`fartrack pseudo-label` as a user runs it: a video in, track-layout sequences out that
training reads; missing teacher files are a one-line error."""
from __future__ import annotations

import cv2
import numpy as np

from fartrack_ros.data.training_sets import read_track_output

from cli_data import assert_one_line_error, fartrack, headless_env


def write_patch_video(path, count=24):
    """A textured square gliding over a smooth background (KCF holds it both ways)."""
    rng = np.random.default_rng(1)
    patch = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
    ramp = np.linspace(60, 120, 240, dtype=np.float32)
    background = np.repeat(np.repeat(ramp[None, :, None], 180, 0), 3, 2).astype(np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (240, 180))
    for i in range(count):
        frame = background.copy()
        frame[50 + i:90 + i, 30 + 3 * i:70 + 3 * i] = patch
        writer.write(frame)
    writer.release()


def test_a_video_becomes_training_sequences(tmp_path):
    video = tmp_path / "glide.avi"
    write_patch_video(video)
    out = tmp_path / "pseudo"
    proc = fartrack("pseudo-label", "--source", video, "--out", out, "--teacher", "kcf",
                    "--clip-length", 20, "--clip-stride", 20, "--starts-per-clip", 2)
    assert proc.returncode == 0, proc.stderr
    assert "glide: 24 frames" in proc.stderr
    dataset = read_track_output(out)
    assert len(dataset) >= 1
    first = dataset[0]
    assert len(first) == 20 and first.visible.all()
    assert first.read_frame_rgb(0).shape == (180, 240, 3)
    assert len(list((out / "_frames" / "glide").glob("*.jpg"))) == 24


def test_missing_nanotrack_files_are_named(tmp_path):
    video = tmp_path / "glide.avi"
    write_patch_video(video, count=3)
    env = headless_env()
    env.pop("FARTRACK_NANOTRACK_DIR", None)
    proc = fartrack("pseudo-label", "--source", video, "--out", tmp_path / "o", env=env)
    assert_one_line_error(proc, "nanotrack", "--nanotrack-dir")
    proc = fartrack("pseudo-label", "--source", tmp_path / "missing.avi", "--out", tmp_path / "o",
                    "--teacher", "kcf")
    assert_one_line_error(proc, "missing.avi")
