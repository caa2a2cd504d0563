"""Run fartrack_node and the camera stand-in as separate processes and talk to the node from
this one: the common part of `fartrack demo` and `fartrack bench-node`.
"""
from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from fartrack_ros.ros.stats import percentiles_ms
from fartrack_ros.ros.tools.client import TrackerClient


def prepare_ros_environment(log_dir: Path) -> int:
    """DDS settings for this process and its children, the node included (docs/ros.md): the
    shipped local Fast DDS profile unless one is set (shared memory for the frames under every
    discovery range; no TCP, so that no process of the session can hang deleting it), and
    LARGE_DATA for a user's own profile that leaves the builtin transports on; returns the
    domain id (the environment's, else a random one so that other runs stay apart)."""
    from fartrack_ros.ros.dds import LOCAL_PROFILE_FILE_NAME, use_shipped_profile

    log_dir.mkdir(parents=True, exist_ok=True)
    use_shipped_profile(name=LOCAL_PROFILE_FILE_NAME)
    os.environ.setdefault("ROS_LOG_DIR", str(log_dir))
    os.environ.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(100, 199)))
    return int(os.environ["ROS_DOMAIN_ID"])


class NodeSession:
    """The node process, the camera process and a client, cleaned up by ``close``."""

    def __init__(self, output_dir: Path, namespace: str = "/fartrack_demo") -> None:
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.namespace = namespace
        self.node_fqn = f"{namespace}/fartrack_node"
        self.camera_topic = f"{namespace}/camera/image_raw"
        self.domain_id = prepare_ros_environment(self.output_dir / "ros_log")
        self.node: Optional[subprocess.Popen] = None
        self.camera: Optional[subprocess.Popen] = None
        self.client: Optional[TrackerClient] = None
        self._logs = []

    def _spawn(self, args: list, log_name: str, stdout=None) -> subprocess.Popen:
        log = open(self.output_dir / log_name, "wb")
        self._logs.append(log)
        return subprocess.Popen(args, stdout=stdout or log, stderr=log)

    def start_node(self, params_file: Optional[Path], parameters: dict,
                   timeout: float = 120.0, extra_subscriptions: tuple = ()) -> None:
        """Start the managed node and bring it to active through its lifecycle services
        (configure loads the model: a failure raises with the node's reason)."""
        args = [sys.executable, "-m", "fartrack_ros.ros.lifecycle_node", "--ros-args",
                "-r", f"__ns:={self.namespace}", "-r", f"image:={self.camera_topic}"]
        if params_file:
            args += ["--params-file", str(params_file)]
        for name, value in parameters.items():       # after the file: these win
            args += ["-p", f"{name}:={value}"]
        self.node = self._spawn(args, "node.log")
        self.client = TrackerClient(self.node_fqn, domain_id=self.domain_id,
                                    client_name="fartrack_session",
                                    extra_subscriptions=extra_subscriptions)
        deadline = time.monotonic() + timeout
        while not self.client.wait_for_lifecycle(0.5):
            if self.node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fartrack_node did not start (exit code {self.node.poll()}); "
                                   f"see {self.output_dir / 'node.log'}:\n{self.node_log_tail()}")
        for transition in ("configure", "activate"):
            if not self.client.change_state(transition, timeout=max(deadline - time.monotonic(), 30.0)):
                raise RuntimeError(f"fartrack_node: {transition} failed; see "
                                   f"{self.output_dir / 'node.log'}:\n{self.node_log_tail()}")
        if not self.client.wait_for_node(max(deadline - time.monotonic(), 10.0)):
            raise RuntimeError(f"fartrack_node's services did not come up:\n"
                               f"{self.client.discovery_report()}")
        status_seen = self.client.wait_for(lambda: self.client.latest_status() is not None, 5.0)
        if status_seen and self.client.latest_status().state_name == "error":
            raise RuntimeError(f"fartrack_node: {self.client.latest_status().last_error}")

    def node_log_tail(self, lines: int = 15) -> str:
        for log in self._logs:
            log.flush()
        text = (self.output_dir / "node.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def start_camera(self, source_args: list, wait_subscribers: int = 1,
                     first_frame_timeout: float = 20.0, attempts: int = 2) -> int:
        """Start the camera process; returns the stamp of its first frame.

        The camera waits until ``wait_subscribers`` subscriptions matched its publisher. Fast DDS
        discovery has (rarely, under load) left a new participant unmatched for over a minute;
        a camera that has not sent its first frame after ``first_frame_timeout`` is therefore
        started once more as a new participant.
        """
        args = [sys.executable, "-m", "fartrack_ros.ros.tools.camera", *source_args,
                "--topic", self.camera_topic, "--wait-subscribers", str(wait_subscribers),
                "--wait-timeout", str(first_frame_timeout + 5)]
        for attempt in range(1, attempts + 1):
            self.camera = self._spawn(args, f"camera{'' if attempt == 1 else attempt}.log",
                                      stdout=subprocess.PIPE)
            ready, _, _ = select.select([self.camera.stdout], [], [], first_frame_timeout)
            line = self.camera.stdout.readline() if ready else b""
            if line:
                return int(json.loads(line)["first_frame_stamp_ns"])
            self.camera.kill()
            self.camera.wait(5)
            print(f"camera: no frame sent after {first_frame_timeout:g} s (its publisher did not "
                  f"match {wait_subscribers} subscriber(s)); attempt {attempt} of {attempts}",
                  file=sys.stderr, flush=True)
        raise RuntimeError(f"the camera never matched {wait_subscribers} subscriber(s) on "
                           f"{self.camera_topic}; see {self.output_dir}/camera*.log and node.log")

    def wait_for_node_frames(self, timeout: float = 30.0) -> None:
        """Until the node's status counts a received frame (set_target needs one)."""
        def received():
            status = self.client.latest_status()
            return status is not None and status.frames_received > 0
        if not self.client.wait_for(received, timeout):
            raise RuntimeError(f"no camera frame reached the node within {timeout:g} s; see "
                               f"{self.output_dir / 'node.log'} and {self.output_dir}/camera*.log")

    def wait_camera(self, timeout: float) -> dict:
        """Wait for the camera's JSON summary (its last line of output); the process then gets a
        few seconds to exit. rclpy's destroy_node has hung in that exit under load (the camera
        stuck in destroy_when_not_in_use after printing its summary); a camera that printed it
        has done its work, so it is killed then instead of stalling the caller."""
        summary = self._read_camera_summary(timeout)
        if summary is None and self.camera.poll() is None:
            self.camera.send_signal(signal.SIGINT)      # stop publishing: it prints its summary
            summary = self._read_camera_summary(10.0)
        try:
            self.camera.wait(5)
        except subprocess.TimeoutExpired:
            self.camera.kill()
            self.camera.wait(5)
        if summary is None:
            log = "".join(p.read_text(errors="replace") for p in self.output_dir.glob("camera*.log"))
            raise RuntimeError(f"camera process failed ({self.camera.returncode}): {log[-2000:]}")
        return summary

    def _read_camera_summary(self, timeout: float) -> Optional[dict]:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.camera.stdout], [], [], remaining)
            line = self.camera.stdout.readline() if ready else b""
            if not line:                                # timed out, or the process ended
                return None
            text = line.decode(errors="replace").strip()
            if text.startswith("{") and '"published"' in text:
                return json.loads(text)
        return None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        for process in (self.camera, self.node):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
        for log in self._logs:
            log.close()

    def __enter__(self) -> "NodeSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def stream_figures(camera: dict, detections: list) -> dict:
    """Figures of one run from the client's view.

    ``camera``: the camera process's summary (published, stamps_ns = [first, last], rate);
    ``detections``: (image stamp ns, received ns) of every Detection2DArray received. Latency =
    image stamp -> detections received by the client (one DDS hop more than the node's figure).
    """
    published, stamps_ns = camera["published"], camera["stamps_ns"]
    first, last = stamps_ns
    ours = [(s, r) for s, r in detections if first <= s <= last]
    latencies = [(r - s) / 1e6 for s, r in ours]
    p50, p95 = percentiles_ms(latencies)
    span_s = (max(s for s, _ in ours) - min(s for s, _ in ours)) / 1e9 if len(ours) > 1 else 0.0
    return {
        "input_fps": camera["rate"],
        "processed_fps": round((len(ours) - 1) / span_s, 2) if span_s > 0 else 0.0,
        "published": published,
        "processed": len(ours),
        "dropped": published - len(ours),
        "latency_ms_p50": round(p50, 2) if p50 is not None else None,
        "latency_ms_p95": round(p95, 2) if p95 is not None else None,
    }


def node_figures(camera: dict, statuses: list) -> dict:
    """The node's own view of the run, from its per-frame TrackStatus messages: latency (image
    stamp -> detections published) and processing time percentiles over every frame of the run,
    plus its counters at the end."""
    first, last = camera["stamps_ns"]
    per_frame = {}
    for status in statuses:
        stamp_ns = status.header.stamp.sec * 1_000_000_000 + status.header.stamp.nanosec
        if first <= stamp_ns <= last:
            per_frame[stamp_ns] = status
    latency_p50, latency_p95 = percentiles_ms(s.latency_ms for s in per_frame.values())
    processing_p50, processing_p95 = percentiles_ms(s.processing_ms for s in per_frame.values())
    final = statuses[-1]

    def rounded(value):
        return round(value, 2) if value is not None else None
    return {
        "frames_received": final.frames_received,
        "frames_processed": final.frames_processed,
        "frames_dropped_in_slot": final.frames_dropped,
        "latency_ms_p50": rounded(latency_p50), "latency_ms_p95": rounded(latency_p95),
        "processing_ms_p50": rounded(processing_p50), "processing_ms_p95": rounded(processing_p95),
        "last_error": final.last_error,
    }
