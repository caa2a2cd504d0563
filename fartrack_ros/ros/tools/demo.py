"""The demo: a real video played as a camera topic (its own process, native frame rate), the
node tracking (its own process), the target set through the SetTarget service, and this
process recording the overlay video and the detections.

Outputs in the output folder: overlay.mp4 (every camera frame, with the box the node published
for it), detections.jsonl (one line per Detection2DArray), summary.json, node.log, camera.log.
"""
from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from typing import Optional

import cv2
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from fartrack_ros.core.types import TRACKING, TrackResult
from fartrack_ros.data.video import open_frames
from fartrack_ros.runtime.visualize import draw_track_overlay
from fartrack_ros.ros.conversions import box_xywh_from_detection, image_msg_to_rgb, stamp_to_ns
from fartrack_ros.ros.package_files import find_config_file, repository_root
from fartrack_ros.ros.tools.session import NodeSession, node_figures, stream_figures

VTEST_NAME = "vtest.avi"
# The pedestrian walking right to left on the right-hand side of vtest.avi's first frame
# (found by looking at the frame: head at y 240, feet at y 321, x 639..684).
VTEST_BOX_XYWH = (639.0, 240.0, 46.0, 82.0)
SYSTEM_VTEST = Path("/usr/share/doc/opencv-doc/examples/data") / VTEST_NAME


def default_video() -> Path:
    """vtest.avi, fetched by scripts/get_demo_video.sh when the checkout has it."""
    if SYSTEM_VTEST.is_file():
        return SYSTEM_VTEST
    root = repository_root()
    if root is not None and (root / "scripts" / "get_demo_video.sh").is_file():
        run = subprocess.run([str(root / "scripts" / "get_demo_video.sh")],
                             stdout=subprocess.PIPE, text=True)
        if run.returncode == 0 and run.stdout.strip():
            return Path(run.stdout.strip().splitlines()[-1])
    raise FileNotFoundError(f"demo video {SYSTEM_VTEST} not found (Debian package opencv-doc); "
                            "pass --video FILE --box x,y,w,h")


class OverlayRecorder:
    """Pairs camera frames with the node's detections by stamp; writes, per camera frame, an
    overlay frame and a JSON line (frame, stamp_ns, processed, state, score, box_xywh,
    track_id, latency_ms = image stamp -> detections received).

    The callbacks (client executor thread) only note the arrival time and queue the message;
    a writer thread converts, draws and encodes, so the latency measured here is not inflated
    by the recording itself. Frames wait until their detections arrive (or a later frame's do:
    the node skipped them); nothing is written before the target is set, so the first frame
    shows the box it was set with.
    """

    MAX_PENDING = 100

    def __init__(self, video_path: Path, jsonl_path: Path, fps: float, now_ns) -> None:
        self.video_path, self.fps, self.now_ns = video_path, fps, now_ns
        self.writer: Optional[cv2.VideoWriter] = None
        self.jsonl = open(jsonl_path, "w")
        self.pending: deque = deque()              # (stamp_ns, index, bgr)
        self.index_by_stamp: dict[int, int] = {}
        self.results: dict = {}                    # stamp -> Detection2DArray not yet written
        self.detection_times: list[tuple[int, int]] = []
        self.target = None                          # SetTarget response once set
        self.last_result: Optional[TrackResult] = None
        self.node_fps: Optional[float] = None
        self.frames_written = 0
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="overlay_recorder", daemon=True)
        self._thread.start()

    # executor thread -------------------------------------------------------------------
    def on_image(self, msg: Image) -> None:
        self._queue.put(("image", msg))

    def on_message(self, kind: str, msg) -> None:
        if kind == "statuses":
            self.node_fps = msg.processed_fps or self.node_fps
        elif kind == "detections":
            self.detection_times.append((stamp_to_ns(msg.header.stamp), self.now_ns()))
            self._queue.put(("detections", msg))

    # caller's thread -------------------------------------------------------------------
    def set_target(self, response) -> None:
        self._queue.put(("target", response))

    def received_image(self, stamp_ns: int) -> bool:
        return stamp_ns in self.index_by_stamp

    # writer thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            kind, msg = self._queue.get()
            if kind == "stop":
                return
            if kind == "image":
                stamp_ns = stamp_to_ns(msg.header.stamp)
                index = len(self.index_by_stamp)
                self.pending.append((stamp_ns, index,
                                     cv2.cvtColor(image_msg_to_rgb(msg), cv2.COLOR_RGB2BGR)))
                self.index_by_stamp[stamp_ns] = index
                if len(self.pending) > self.MAX_PENDING and self.target is not None:
                    self._write(*self.pending.popleft())
                continue
            if kind == "target":
                self.target = msg
                continue
            stamp_ns = stamp_to_ns(msg.header.stamp)
            self.results[stamp_ns] = msg
            if self.target is not None:
                while self.pending and self.pending[0][0] <= stamp_ns:
                    self._write(*self.pending.popleft())

    def _write(self, stamp_ns: int, index: int, bgr) -> None:
        """One overlay frame and one JSON line per camera frame."""
        record = {"frame": index, "stamp_ns": stamp_ns, "processed": stamp_ns in self.results}
        label = f"frame {index}"
        if record["processed"]:
            msg = self.results.pop(stamp_ns)
            record["latency_ms"] = round(
                (next(r for s, r in reversed(self.detection_times) if s == stamp_ns) - stamp_ns) / 1e6, 2)
            result = None
            if msg.detections:
                det = msg.detections[0]
                result = TrackResult(box_xywh_from_detection(det), det.results[0].hypothesis.score,
                                     TRACKING, index)
                record.update(state="tracking", track_id=det.id)
            elif stamp_to_ns(self.target.frame_stamp) == stamp_ns:
                result = TrackResult((self.target.x, self.target.y, self.target.width,
                                      self.target.height), 1.0, TRACKING, index)
                record.update(state="target set", track_id=self.target.track_id)
                label += ": target set"
            elif stamp_ns < stamp_to_ns(self.target.frame_stamp):
                record["state"] = "idle"
            else:
                record["state"] = "lost"
                label += ": lost"
            self.last_result = result
        else:
            result = self.last_result
            record["state"] = "not processed"
            label += ": not processed (previous box)"
        if result is not None and record["processed"]:
            record["score"] = round(result.score, 4)
            record["box_xywh"] = [round(v, 2) for v in result.box_xywh]
        self.jsonl.write(json.dumps(record) + "\n")
        if self.writer is None:
            self.video_path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = cv2.VideoWriter(str(self.video_path), cv2.VideoWriter_fourcc(*"mp4v"),
                                          self.fps, (bgr.shape[1], bgr.shape[0]))
        self.writer.write(draw_track_overlay(bgr, result, self.node_fps, label))
        self.frames_written += 1

    def close(self) -> None:
        self._queue.put(("stop", None))
        self._thread.join()
        while self.pending:
            self._write(*self.pending.popleft())
        if self.writer is not None:
            self.writer.release()
        self.jsonl.close()


def run_demo(video: Optional[str], box_xywh, output: Path, node_parameters: dict,
             params_file: Optional[str], rate: Optional[float], max_frames: Optional[int]) -> dict:
    video_path = Path(video) if video else default_video()
    if box_xywh is None:
        if video_path.name != VTEST_NAME:
            raise ValueError(f"--box x,y,w,h is needed for {video_path} (the default box is "
                             f"for {VTEST_NAME})")
        box_xywh = VTEST_BOX_XYWH
    source = open_frames(video_path)
    fps = rate or source.fps
    params_path = Path(params_file) if params_file else find_config_file("cpu_drone.yaml")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    print(f"demo: {video_path} ({source.count} frames at {fps:g} fps), target {box_xywh}, "
          f"parameters {params_path}", flush=True)
    recorder = OverlayRecorder(output / "overlay.mp4", output / "detections.jsonl", fps,
                               time.time_ns)       # the ROS clock of every process here
    camera_qos = QoSProfile(depth=50, history=HistoryPolicy.KEEP_LAST,
                            reliability=ReliabilityPolicy.RELIABLE)
    with NodeSession(output) as session:
        session.start_node(params_path, {"debug_image": False, **node_parameters},
                           extra_subscriptions=[(Image, session.camera_topic, recorder.on_image,
                                                 camera_qos)])
        client = session.client
        client.add_listener(recorder.on_message)
        camera_args = ["--video", str(video_path), "--rate", str(fps)]
        if max_frames:
            camera_args += ["--max-frames", str(max_frames)]
        first_stamp = session.start_camera(camera_args, wait_subscribers=2)
        # The box belongs to the first frame; the node initialises on it if it received it,
        # else on its newest frame (it says which).
        session.wait_for_node_frames()
        response = client.set_target(box_xywh, stamp_ns=first_stamp)
        if not response.success:
            raise RuntimeError(f"set_target failed: {response.message}")
        recorder.set_target(response)
        print(f"set_target: {response.message}", flush=True)
        expected_s = (max_frames or source.count or 1000) / fps
        camera = session.wait_camera(timeout=expected_s * 2 + 60)
        last_stamp = camera["stamps_ns"][1]
        client.wait_for(lambda: recorder.received_image(last_stamp) and
                        any(s == last_stamp for s, _ in list(recorder.detection_times)), 5.0)
        statuses = [r.message for r in client.snapshot("statuses")]
    recorder.close()
    figures = stream_figures(camera, recorder.detection_times)
    summary = {
        "video": str(video_path), "box_xywh": list(box_xywh), **figures,
        "node": node_figures(camera, statuses),
        "outputs": {"overlay": str(output / "overlay.mp4"),
                    "detections": str(output / "detections.jsonl"),
                    "node_log": str(output / "node.log")},
    }
    (output / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def print_summary(summary: dict) -> None:
    node = summary["node"]
    print(f"camera:    {summary['published']} frames at {summary['input_fps']} fps")
    print(f"processed: {summary['processed']} frames at {summary['processed_fps']} fps; "
          f"dropped {summary['dropped']} (node: {node['frames_dropped_in_slot']} replaced by a "
          f"newer frame, {summary['published'] - node['frames_received']} never received)")
    print(f"latency:   image stamp -> detections received here p50 {summary['latency_ms_p50']} ms, "
          f"p95 {summary['latency_ms_p95']} ms; in the node (stamp -> publish) p50 "
          f"{node['latency_ms_p50']} ms, p95 {node['latency_ms_p95']} ms; processing p50 "
          f"{node['processing_ms_p50']} ms")
    for name, path in summary["outputs"].items():
        print(f"{name + ':':11s}{path}")
