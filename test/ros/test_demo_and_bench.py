"""`fartrack demo` and `fartrack bench-node` end to end, each as its own process (which starts
the node and camera processes), on a short generated video and random weights."""
from __future__ import annotations

# First: skips this module where ROS is missing; fixtures come from here too.
from ros_harness import random_weights  # noqa: F401 (fixtures)

import json
import os
import subprocess
import sys

import cv2
import pytest

from fartrack_ros.ros.tools.camera import SyntheticScene

FRAMES, FPS = 24, 12.0


@pytest.fixture
def generated_video(tmp_path):
    scene = SyntheticScene((320, 240), seed=5)
    path = tmp_path / "scene.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (320, 240))
    for i in range(FRAMES):
        writer.write(scene.frame_bgr(i))
    writer.release()
    return path, scene.box_xywh(0)


def fartrack(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "fartrack_ros", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_demo_writes_overlay_detections_and_figures(generated_video, random_weights, tmp_path):
    video, box = generated_video
    out = tmp_path / "demo"
    run = fartrack("demo", "--video", str(video), "--box", ",".join(map(str, box)),
                   "--weights", random_weights, "--threads", "1", "--output", str(out))
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads((out / "summary.json").read_text())
    print(summary)                                   # shown when an assertion fails
    assert summary["published"] == FRAMES
    assert summary["processed"] + summary["dropped"] == FRAMES
    # how many get processed depends on machine load (frames are dropped, not queued)
    assert summary["processed"] >= 3
    assert 0 < summary["latency_ms_p50"] <= summary["latency_ms_p95"]
    assert abs(summary["input_fps"] - FPS) < 2.0
    lines = [json.loads(l) for l in (out / "detections.jsonl").read_text().splitlines()]
    assert [l["frame"] for l in lines] == list(range(FRAMES)), lines
    set_on = [l for l in lines if l["state"] == "target set"]
    assert len(set_on) <= 1 and all(l["box_xywh"] == list(box) for l in set_on)
    capture = cv2.VideoCapture(str(out / "overlay.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    for text in ("processed:", "dropped", "p50", "p95", "overlay:"):
        assert text in run.stdout


def test_demo_without_box_for_another_video_is_an_error(generated_video, tmp_path):
    video, _ = generated_video
    run = fartrack("demo", "--video", str(video), "--output", str(tmp_path / "d"))
    assert run.returncode == 2 and "--box x,y,w,h is needed" in run.stderr


def test_bench_node_prints_one_json_object(random_weights, tmp_path):
    run = fartrack("bench-node", "--rate", "15", "--size", "320x240", "--duration", "3",
                   "--weights", random_weights, "--threads", "1", "--output", str(tmp_path / "b"))
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    for key in ("input_fps", "processed_fps", "dropped", "latency_ms_p50", "latency_ms_p95"):
        assert key in result
    assert abs(result["input_fps"] - 15) < 2
    assert 0 < result["processed_fps"] <= result["input_fps"] + 1
    assert result["dropped"] == result["published"] - result["processed"] >= 0
    # (initialized_on_first_frame may be false: a best-effort reader can miss the very first
    # frame while the transport connects; the node then uses its newest frame)
    rss = result["node_rss_mb"]          # the node process holds a model: tens of MB at least
    assert rss["start"] > 20 and rss["end"] > 20, rss
    assert json.loads((tmp_path / "b" / "bench_node.json").read_text()) == result


def test_rss_probe_samples_at_the_checkpoint_and_the_end():
    from fartrack_ros.ros.tools.bench import RssProbe
    probe = RssProbe(os.getpid(), checkpoint=2)
    for kind in ("statuses", "detections", "detections", "detections"):
        probe.listener(kind, None)
    samples = probe.finish()
    assert set(samples) == {"start", "after_2_frames", "end", "growth_after_2_frames"}
    assert samples["start"] > 0
    assert samples["growth_after_2_frames"] == round(samples["end"] - samples["after_2_frames"], 1)
