"""`fartrack track --bag`: rosbag2 recordings written by rosbags' own writer (SQLite3 and MCAP
storage, sensor_msgs/Image and CompressedImage) read back and tracked, results stamped with the
messages' header stamps."""
from __future__ import annotations

import numpy as np
import pytest
from cli_data import assert_one_line_error, fartrack, moving_square_frames, write_bag

pytest.importorskip("rosbags")

from fartrack_ros.data.video import open_bag  # noqa: E402

FAST = ("--backend", "torch", "--threads", "1", "--quiet")


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
@pytest.mark.parametrize("encoding", ["bgr8", "rgb8", "mono8"])
def test_raw_images_come_back_exactly(tmp_path, storage, encoding):
    frames, _ = moving_square_frames(3)
    stamps = write_bag(tmp_path / "bag", frames, storage, encoding=encoding)
    source = open_bag(tmp_path / "bag", "/camera/image_raw")
    assert source.count == 3 and source.fps == pytest.approx(10.0, rel=0.05)
    got = list(source.frames())
    assert [f.stamp_ns for f in got] == stamps and [f.index for f in got] == [0, 1, 2]
    for frame, sent in zip(got, frames):
        if encoding == "mono8":
            assert (frame.image == frame.image[..., :1]).all()       # grey in all three channels
        else:
            assert np.array_equal(frame.image, sent)                   # BGR, channel order kept


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_compressed_images_decode_and_the_raw_name_finds_them(tmp_path, storage):
    frames, _ = moving_square_frames(3)
    write_bag(tmp_path / "bag", frames, storage, topic="/camera/image_raw/compressed", compressed=True)
    source = open_bag(tmp_path / "bag", "/camera/image_raw")
    assert source.topic == "/camera/image_raw/compressed"
    got = [f.image for f in source.frames(start=1)]
    assert len(got) == 2
    for image, sent in zip(got, frames[1:]):
        assert np.abs(image.astype(int) - sent).mean() < 4                 # JPEG at quality 95


@pytest.mark.parametrize("storage, compressed", [("sqlite3", False), ("mcap", True)])
def test_track_bag_results_are_stamped_with_the_message_times(tmp_path, storage, compressed):
    frames, boxes = moving_square_frames(4)
    stamps = write_bag(tmp_path / "rec", frames, storage, compressed=compressed,
                       topic="/camera/image_raw" + ("/compressed" if compressed else ""))
    results = tmp_path / "out" / "bag.csv"
    bag = tmp_path / "rec"
    if storage == "mcap":          # the storage file itself, as well as the bag folder
        bag = next(bag.glob("*.mcap"))
    proc = fartrack("track", "--bag", bag, "--topic", "/camera/image_raw",
                    "--box", ",".join(map(str, boxes[0])), "--results", results, *FAST)
    assert proc.returncode == 0, proc.stderr
    lines = results.read_text().splitlines()
    assert lines[0] == "frame,stamp_ns,x,y,w,h,score,state"
    rows = [line.split(",") for line in lines[1:]]
    assert [int(r[0]) for r in rows] == [0, 1, 2, 3]
    assert [int(r[1]) for r in rows] == stamps
    assert [float(v) for v in rows[0][2:6]] == list(boxes[0])
    assert all(r[7] in ("tracking", "lost") and 0 <= float(r[6]) <= 1 for r in rows[1:])


def test_bag_errors_name_the_topics(tmp_path):
    frames, boxes = moving_square_frames(2)
    write_bag(tmp_path / "bag", frames, "sqlite3")
    box = ",".join(map(str, boxes[0]))
    assert_one_line_error(fartrack("track", "--bag", tmp_path / "bag", "--topic", "/nope", "--box", box),
                          "/nope", "/camera/image_raw (Image)")
    assert_one_line_error(fartrack("track", "--bag", tmp_path / "bag", "--topic", "/chatter", "--box", box),
                          "/chatter", "std_msgs/msg/String")
    assert_one_line_error(fartrack("track", "--bag", tmp_path, "--box", box), "metadata.yaml")
    assert_one_line_error(fartrack("track", "--bag", tmp_path / "none", "--box", box), "bag not found")
    # without --topic: the only image topic is taken (the run then fails on the start frame)
    assert_one_line_error(fartrack("track", "--bag", tmp_path / "bag", "--box", box,
                                   "--start-frame", 5), "--start-frame 5", "2 messages")
