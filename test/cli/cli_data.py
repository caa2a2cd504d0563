"""Helpers of the CLI tests: run the real `fartrack` command, write small videos and rosbag2
recordings (with rosbags' own writer, SQLite3 or MCAP storage)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).parent / "fartrack"
# the installed console script when the tests run in the venv, else the module
FARTRACK = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "fartrack_ros"]


def headless_env(**extra) -> dict:
    """The environment of a user without a display."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(extra)
    return env


def fartrack(*args, env=None, timeout=300, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(FARTRACK + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, env=env or headless_env(), cwd=cwd)


def assert_one_line_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    """Exit code 2, no traceback, and one ``fartrack track: error:`` line naming ``words``."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if ": error:" in line]
    assert len(errors) == 1, proc.stderr
    for word in words:
        assert word in errors[0], (word, errors[0])
    return errors[0]


def write_video(path: Path, frames, fps: float = 10.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps,
                             (frames[0].shape[1], frames[0].shape[0]))
    assert writer.isOpened()
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def read_video(path: Path) -> list:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def moving_square_frames(n: int, size=(120, 160), start=(40, 30), box_wh=(25, 30)):
    """BGR frames of a red square moving right and down over a fixed noise background, with its
    x,y,w,h per frame."""
    rng = np.random.default_rng(0)         # smooth texture: survives JPEG, gives the tracker detail
    bg = cv2.resize(rng.integers(0, 255, (size[0] // 8, size[1] // 8, 3), dtype=np.uint8),
                    (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    frames, boxes = [], []
    for i in range(n):
        f = bg.copy()
        x, y = start[0] + 2 * i, start[1] + i
        f[y:y + box_wh[1], x:x + box_wh[0]] = (40, 40, 220)
        frames.append(f)
        boxes.append((x, y, box_wh[0], box_wh[1]))
    return frames, boxes


def write_bag(path: Path, frames, storage: str, topic: str = "/camera/image_raw",
              compressed: bool = False, encoding: str = "bgr8", t0_ns: int = 1_700_000_000_000_000_000,
              period_ns: int = 100_000_000, extra_topic: bool = True) -> list[int]:
    """Write ``frames`` (BGR) as sensor_msgs/Image (``encoding``) or CompressedImage (JPEG) on
    ``topic``; header stamps t0 + i*period, bag times 5 ms later. Returns the header stamps."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.LATEST)
    Image, CompressedImage = ts.types["sensor_msgs/msg/Image"], ts.types["sensor_msgs/msg/CompressedImage"]
    Header, Time = ts.types["std_msgs/msg/Header"], ts.types["builtin_interfaces/msg/Time"]
    String = ts.types["std_msgs/msg/String"]
    plugin = {"sqlite3": StoragePlugin.SQLITE3, "mcap": StoragePlugin.MCAP}[storage]
    stamps = []
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        msgtype = CompressedImage.__msgtype__ if compressed else Image.__msgtype__
        conn = writer.add_connection(topic, msgtype, typestore=ts)
        other = writer.add_connection("/chatter", String.__msgtype__, typestore=ts) if extra_topic else None
        for i, bgr in enumerate(frames):
            stamp = t0_ns + i * period_ns
            stamps.append(stamp)
            header = Header(stamp=Time(sec=stamp // 1_000_000_000, nanosec=stamp % 1_000_000_000),
                            frame_id="camera")
            if compressed:
                ok, jpg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
                msg = CompressedImage(header=header, format="jpeg", data=jpg.reshape(-1))
            else:
                pixels = {"bgr8": bgr, "rgb8": bgr[..., ::-1],
                          "mono8": cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)}[encoding]
                pixels = np.ascontiguousarray(pixels)
                h, w = pixels.shape[:2]
                step = pixels.strides[0]
                msg = Image(header=header, height=h, width=w, encoding=encoding, is_bigendian=0,
                            step=step, data=pixels.reshape(-1))
            writer.write(conn, stamp + 5_000_000, ts.serialize_cdr(msg, msgtype))
            if other is not None:
                writer.write(other, stamp + 6_000_000, ts.serialize_cdr(String(data=f"hi {i}"),
                                                                       String.__msgtype__))
    return stamps
