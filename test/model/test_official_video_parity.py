"""Whole-video parity with the official FARTrack sparse tracker: the ``reference`` backend gives
the official boxes bit for bit, free-running over real video, at 15, 10 and 6 blocks.

``data/official_video.npz`` holds what the *official* code (MIV-XJTU/FARTrack, CPU) produced with
the project's trained weights converted to the official layout (``checkpoint.export_official``),
tracking OpenCV's ``vtest.avi`` and ``Megamind.avi`` from a fixed box: the state after every
frame and an 8-byte hash of every template and search crop. ``scripts/official_video_fixture.py``
made it (docs/parity.md says how). A tracker that rounds one value differently somewhere
(a crop side one pixel larger after ``ceil``, an origin after ``round``) changes a crop hash and,
a few frames later, the boxes; here both must be equal on every frame, no tolerance.

The weights are identified by their SHA-256: the shipped file when it still is that file,
otherwise the same file read from the git history (its blob id is stored too).
"""
from __future__ import annotations

import hashlib
import importlib.util
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "data" / "official_video.npz"
VARIANTS = ("tiny", "nano", "pico")


def _fixture_script():
    spec = importlib.util.spec_from_file_location("official_video_fixture",
                                                  ROOT / "scripts" / "official_video_fixture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = _fixture_script()      # RUNS, read_frames, crop_hash, frames_hash: one recipe for both


@pytest.fixture(scope="module")
def official():
    if not FIXTURE.is_file():
        pytest.fail(f"fixture missing: {FIXTURE}")
    with np.load(FIXTURE) as data:
        fixture = {k: data[k] for k in data.files}
    import torch
    made_on = str(fixture["cpu_capability"])
    if torch.backends.cpu.get_cpu_capability() != made_on:
        # float32 results are equal only for equal kernels (vector width changes summation order)
        pytest.skip(f"fixture made with {made_on} CPU kernels, this machine runs "
                    f"{torch.backends.cpu.get_cpu_capability()}: regenerate it here (docs/parity.md)")
    return fixture


@pytest.fixture(scope="module")
def weights(official, tmp_path_factory) -> Path:
    """The weights file the fixture was made with (shipped file, or its blob from git)."""
    from fartrack_ros.weights import default_weights_path

    want = str(official["weights_sha256"])
    shipped = Path(default_weights_path())
    if shipped.is_file() and hashlib.sha256(shipped.read_bytes()).hexdigest() == want:
        return shipped
    blob = str(official["weights_git_blob"])
    try:
        data = subprocess.run(["git", "-C", str(ROOT), "cat-file", "blob", blob],
                              capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"the fixture's weights (git blob {blob}) are neither the shipped file nor in "
                    f"this checkout's git history ({exc}); regenerate the fixture (docs/parity.md)")
    assert hashlib.sha256(data).hexdigest() == want, f"git blob {blob} is not the fixture's weights"
    path = tmp_path_factory.mktemp("weights") / "fixture_weights.safetensors"
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def videos(official):
    frames = {}
    for name, (file, *_rest) in script.RUNS.items():
        if not (script.VIDEO_DIR / file).is_file():
            pytest.skip(f"{script.VIDEO_DIR / file} is not installed (Debian package opencv-doc)")
        frames[name] = script.read_frames(name)
        got = int(script.frames_hash(frames[name]))
        assert got == int(official[f"{name}_frames_hash"]), \
            f"{file} decodes to other pixels here than where the fixture was made (OpenCV build?)"
    return frames


def track_recording_crops(tracker, frames, box):
    """Free-run the tracker; the real backend is called, the crops it receives are hashed."""
    backend = tracker.backend
    prepare, infer = backend.prepare_template, backend.infer
    templates, searches = [], []

    def recording_prepare(crop):
        templates.append(script.crop_hash(crop))
        return prepare(crop)

    def recording_infer(handles, keeps, search):
        searches.append(script.crop_hash(search))
        return infer(handles, keeps, search)

    backend.prepare_template, backend.infer = recording_prepare, recording_infer
    tracker.initialize(frames[0], box)
    boxes = [list(box)] + [list(tracker.track(f).box_xywh) for f in frames[1:]]
    return np.asarray(boxes, dtype=np.float64), np.asarray(templates, "<u8"), np.asarray(searches, "<u8")


@pytest.mark.parametrize("variant", VARIANTS)
def test_reference_backend_reproduces_official_tracks(official, weights, videos, variant):
    from fartrack_ros.config import TrackerConfig
    from fartrack_ros.runtime.tracker import build_tracker

    for name, frames in videos.items():
        tracker = build_tracker(TrackerConfig(weights=str(weights), variant=variant,
                                              backend="reference"))
        boxes, templates, searches = track_recording_crops(tracker, frames, script.RUNS[name][3])
        want = official[f"{name}_{variant}_boxes"]
        assert boxes.shape == want.shape
        differ = np.flatnonzero((boxes != want).any(axis=1))
        assert differ.size == 0, (
            f"{name}/{variant}: first box that differs from the official one is frame "
            f"{differ[0]}: {boxes[differ[0]].tolist()} vs {want[differ[0]].tolist()} "
            f"({differ.size} frames differ; fixture made with torch {official['torch_version']})")
        for kind, got in (("search", searches), ("template", templates)):
            ref = official[f"{name}_{variant}_{kind}_hashes"]
            bad = np.flatnonzero(got != ref)
            assert got.shape == ref.shape and bad.size == 0, \
                f"{name}/{variant}: {kind} crops differ from the official ones at {bad[:5].tolist()}"
