"""`fartrack bench-node`: images from a second process into the running node at a fixed rate;
one JSON object with what the node kept up with.

The camera process publishes the generated scene (fartrack_ros.data.synthetic.SyntheticScene) for
``duration`` seconds; the target is set on its first frame through the service; this process
only collects the node's detections and status. Latency = image stamp -> detections received
here; ``node_latency_ms_*`` is the node's own figure (stamp -> publish, last 100 frames).
``node_rss_mb`` samples the node process's resident memory (Linux /proc) when tracking starts,
after 1,000 processed frames and at the end: a long run (a soak) shows whether memory grows
with the frame count.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Optional

from fartrack_ros.data.synthetic import SyntheticScene
from fartrack_ros.ros.tools.camera import parse_size
from fartrack_ros.ros.package_files import find_config_file
from fartrack_ros.ros.tools.session import NodeSession, node_figures, stream_figures


RSS_CHECKPOINT_FRAMES = 1000


def resident_mb(pid: int) -> Optional[float]:
    """VmRSS of a live process in MB, None where /proc does not tell (other systems, exited)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024.0, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


class RssProbe:
    """Samples a process's RSS at the start, after ``checkpoint`` detections, and at the end."""

    def __init__(self, pid: int, checkpoint: int = RSS_CHECKPOINT_FRAMES) -> None:
        self.pid, self.checkpoint = pid, checkpoint
        self.samples = {"start": resident_mb(pid)}
        self._count = 0
        self._lock = threading.Lock()

    def listener(self, kind: str, _msg) -> None:
        if kind != "detections":
            return
        with self._lock:
            self._count += 1
            if self._count == self.checkpoint:
                self.samples[f"after_{self.checkpoint}_frames"] = resident_mb(self.pid)

    def finish(self) -> dict:
        self.samples["end"] = resident_mb(self.pid)
        after = self.samples.get(f"after_{self.checkpoint}_frames")
        if after is not None and self.samples["end"] is not None:
            self.samples[f"growth_after_{self.checkpoint}_frames"] = round(self.samples["end"] - after, 1)
        return dict(self.samples)


def run_bench(size: str, rate: float, duration: float, node_parameters: dict,
              params_file: Optional[str], output: Path) -> dict:
    size_wh = parse_size(size)
    if rate <= 0 or duration <= 0:
        raise ValueError(f"rate and duration must be > 0, got {rate} Hz, {duration} s")
    params_path = Path(params_file) if params_file else find_config_file("cpu_drone.yaml")
    with NodeSession(Path(output), namespace="/fartrack_bench") as session:
        session.start_node(params_path, {"debug_image": False, **node_parameters})
        client = session.client
        rss = RssProbe(session.node.pid)
        client.add_listener(rss.listener)
        first_stamp = session.start_camera(["--synthetic", size, "--rate", str(rate),
                                            "--duration", str(duration)])
        session.wait_for_node_frames()
        response = client.set_target(SyntheticScene(size_wh).box_xywh(0), stamp_ns=first_stamp)
        if not response.success:
            raise RuntimeError(f"set_target failed: {response.message}")
        camera = session.wait_camera(timeout=duration * 2 + 60)
        last_stamp = camera["stamps_ns"][1]
        client.wait_for(lambda: last_stamp in client.detections_by_stamp(), 5.0)
        detections = [(r.message.header.stamp.sec * 1_000_000_000 + r.message.header.stamp.nanosec,
                       r.received_ns) for r in client.snapshot("detections")]
        statuses = [r.message for r in client.snapshot("statuses")]
        node_rss_mb = rss.finish()
    figures = stream_figures(camera, detections)
    node = node_figures(camera, statuses)
    return {
        **{k: figures[k] for k in ("input_fps", "processed_fps", "dropped", "latency_ms_p50",
                                    "latency_ms_p95")},
        "published": figures["published"],
        "processed": figures["processed"],
        "node_dropped_in_slot": node["frames_dropped_in_slot"],
        "node_never_received": figures["published"] - node["frames_received"],
        "node_latency_ms_p50": node["latency_ms_p50"],
        "node_latency_ms_p95": node["latency_ms_p95"],
        "processing_ms_p50": node["processing_ms_p50"],
        "processing_ms_p95": node["processing_ms_p95"],
        "node_rss_mb": node_rss_mb,
        "size": f"{size_wh[0]}x{size_wh[1]}",
        "rate": rate,
        "duration_s": duration,
        "initialized_on_first_frame": response.initialized_on_stamped_frame,
        "parameters": {"params_file": str(params_path), **node_parameters},
    }


def write_bench_result(result: dict, output: Path) -> None:
    Path(output).mkdir(parents=True, exist_ok=True)
    (Path(output) / "bench_node.json").write_text(json.dumps(result, indent=2) + "\n")
