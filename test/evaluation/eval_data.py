"""Small synthetic data sets in the official layouts, written to a temporary folder."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np


def moving_square_frames(num_frames: int, size_wh=(64, 48), seed: int = 0):
    """BGR frames of a textured square moving over a textured background, and its xywh boxes."""
    rng = np.random.default_rng(seed)
    width, height = size_wh
    background = rng.integers(0, 120, size=(height, width, 3), dtype=np.uint8)
    patch = rng.integers(140, 256, size=(14, 16, 3), dtype=np.uint8)
    frames, boxes = [], []
    for i in range(num_frames):
        x, y = 8 + 2 * i, 10 + i
        image = background.copy()
        image[y:y + 14, x:x + 16] = patch
        frames.append(image)
        boxes.append((float(x), float(y), 16.0, 14.0))
    return frames, np.asarray(boxes)


def write_got10k_split(root: Path, num_sequences: int = 2, num_frames: int = 6,
                       with_meta: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    names = [f"GOT-10k_Val_{i + 1:06d}" for i in range(num_sequences)]
    for s, name in enumerate(names):
        seq_dir = root / name
        seq_dir.mkdir()
        frames, boxes = moving_square_frames(num_frames, seed=s)
        for i, frame in enumerate(frames):
            cv2.imwrite(str(seq_dir / f"{i + 1:08d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        np.savetxt(seq_dir / "groundtruth.txt", boxes, fmt="%.4f", delimiter=",")
        cover = np.full(num_frames, 8, dtype=int)
        cover[-1] = 0                                   # last frame: target invisible
        np.savetxt(seq_dir / "cover.label", cover, fmt="%d")
        np.savetxt(seq_dir / "absence.label", (cover == 0).astype(int), fmt="%d")
        np.savetxt(seq_dir / "cut_by_image.label", np.zeros(num_frames, dtype=int), fmt="%d")
        if with_meta:
            (seq_dir / "meta_info.ini").write_text(
                "[METAINFO]\nobject_class: square\nresolution: (64, 48)\n")
    (root / "list.txt").write_text("\n".join(names) + "\n")
    return root


def write_otb_sequence(root: Path, name: str = "Square", num_frames: int = 8,
                       absent_rows: tuple[int, ...] = (), seed: int = 0) -> Path:
    """One OTB-layout sequence (``ROOT/<name>/img/0001.jpg``, tab-separated ground truth) whose
    rows ``absent_rows`` are written as ``NaN,NaN,NaN,NaN`` (target absent, UAV123 style)."""
    frames, boxes = moving_square_frames(num_frames, seed=seed)
    (root / name / "img").mkdir(parents=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(root / name / "img" / f"{i + 1:04d}.jpg"), frame)
    lines = ["NaN,NaN,NaN,NaN" if i in absent_rows else ",".join(f"{v:.1f}" for v in box)
             for i, box in enumerate(boxes)]
    (root / name / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    return root


# ---------------------------------------------------------------------------- the real command
_SCRIPT = Path(sys.executable).parent / "fartrack"
FARTRACK_COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "fartrack_ros"]


def run_fartrack(*args, env_update: dict | None = None, env_remove: tuple[str, ...] = (), cwd=None,
                 timeout: float = 600, merge_stderr: bool = False) -> subprocess.CompletedProcess:
    """``fartrack ARGS`` in a subprocess, as a user runs it; stdout and stderr captured
    (``merge_stderr``: both in stdout, in the order they were written)."""
    env = {k: v for k, v in os.environ.items() if k not in env_remove}
    env.update(env_update or {})
    return subprocess.run(FARTRACK_COMMAND + [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE, text=True,
                          env=env, cwd=cwd, timeout=timeout)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The single ``error:`` line of a command that failed with exit code 2 (no traceback)."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, proc.stderr
    return errors[0]
