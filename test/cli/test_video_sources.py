"""Frame sources beyond files: a stream URL (a local HTTP server) read in-process and through
`fartrack track`, and what a camera index means."""
from __future__ import annotations

import functools
import http.server
import socketserver
import threading

import numpy as np
import pytest
from cli_data import fartrack, moving_square_frames, read_video, write_video

from fartrack_ros.data.video import open_frames


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture()
def served_video(tmp_path):
    frames, boxes = moving_square_frames(6)
    write_video(tmp_path / "clip.avi", frames)
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/clip.avi", tmp_path / "clip.avi", boxes
    finally:
        server.shutdown()
        server.server_close()


def test_stream_url_gives_the_frames_of_the_file(served_video):
    url, path, _ = served_video
    source = open_frames(url)
    assert source.kind == "stream" and source.count == 0          # a stream's length is unknown
    got = list(source.frames())
    expected = read_video(path)
    assert len(got) == len(expected) == 6
    assert all(np.array_equal(f.image, e) for f, e in zip(got, expected))
    assert all(f.stamp_ns > 0 for f in got)                         # capture times
    with pytest.raises(ValueError, match="only once"):
        next(source.frames())


def test_track_reads_a_stream_url(served_video, tmp_path):
    url, _, boxes = served_video
    results = tmp_path / "r.txt"
    proc = fartrack("track", "--video", url, "--box", ",".join(map(str, boxes[0])),
                    "--max-frames", 3, "--results", results, "--backend", "torch", "--threads", 1,
                    "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert len(results.read_text().splitlines()) == 3


def test_unopenable_stream_and_camera_are_named(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="OpenCV cannot open stream http://127.0.0.1:9/none.avi"):
        open_frames("http://127.0.0.1:9/none.avi")
    with pytest.raises(ValueError, match="OpenCV cannot open camera 9"):
        open_frames("9")
    # a file that happens to be called like a camera index is a file
    frames, _ = moving_square_frames(2)
    write_video(tmp_path / "7.avi", frames).rename(tmp_path / "7")
    monkeypatch.chdir(tmp_path)
    assert open_frames("7").kind == "video"


def test_video_file_start_frame_skips_and_stamps_follow_the_file_position(tmp_path):
    frames, _ = moving_square_frames(5)
    path = write_video(tmp_path / "clip.avi", frames, fps=10.0)
    got = list(open_frames(path).frames(start=2))
    assert [f.index for f in got] == [2, 3, 4]
    expected = read_video(path)
    assert all(np.array_equal(f.image, expected[f.index]) for f in got)
    assert [f.stamp_ns for f in got] == [200_000_000, 300_000_000, 400_000_000]
