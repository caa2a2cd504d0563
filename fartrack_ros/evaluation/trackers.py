"""Names of the trackers an evaluation can run, how to build each one, and what its boxes depend on.

``fartrack-<variant>`` (tiny | nano | pico) is the project's tracker, built through
``fartrack_ros.runtime.tracker.build_tracker``; ``csrt``, ``kcf`` and ``mil`` are OpenCV's
classic trackers and ``nanotrack`` is NanoTrack v2 through ``cv2.TrackerNano`` (its two model
files travel in the spec). All take RGB images and answer ``initialize(image_rgb, box_xywh)`` /
``track(image_rgb)``.

``result_key`` lists everything that changes a tracker's boxes; the runner keeps results apart
by it (``fartrack_ros.evaluation.runs``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fartrack_ros.evaluation.peers import (CLASSIC_PEER_NAMES, NANOTRACK, PEER_NAMES, NanoTrackTracker,
                                           OpenCvPeerTracker)

FARTRACK_PREFIX = "fartrack-"
FARTRACK_VARIANTS = ("tiny", "nano", "pico")
TRACKER_NAMES = tuple(FARTRACK_PREFIX + v for v in FARTRACK_VARIANTS) + PEER_NAMES


@dataclass(frozen=True)
class TrackerSpec:
    """Everything a worker process needs to build one tracker."""
    name: str                       # e.g. "fartrack-pico", "csrt", "nanotrack"
    weights: str | None = None      # FARTrack weights file; None = shipped default
    backend: str = "auto"           # FARTrack backend
    device: str = "cpu"
    threads: int | None = None      # FARTrack compute threads (None = runtime default)
    nanotrack_backbone: str | None = None   # NanoTrack v2 ONNX files (required for "nanotrack")
    nanotrack_head: str | None = None

    @property
    def is_fartrack(self) -> bool:
        return self.name.startswith(FARTRACK_PREFIX)

    @property
    def variant(self) -> str | None:
        return self.name[len(FARTRACK_PREFIX):] if self.is_fartrack else None


def parse_tracker_names(text: str) -> list[str]:
    """``"fartrack-pico,csrt"`` -> ``["fartrack-pico", "csrt"]``, checking every name."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError("no tracker given; choose from " + ", ".join(TRACKER_NAMES))
    unknown = [n for n in names if n not in TRACKER_NAMES]
    if unknown:
        raise ValueError(f"unknown tracker(s) {unknown}; choose from {', '.join(TRACKER_NAMES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"tracker listed twice in {text!r}")
    return names


def build_eval_tracker(spec: TrackerSpec):
    """A ready tracker object for ``spec`` (imports the runtime only for FARTrack)."""
    if spec.name in CLASSIC_PEER_NAMES:
        return OpenCvPeerTracker(spec.name)
    if spec.name == NANOTRACK:
        if spec.nanotrack_backbone is None or spec.nanotrack_head is None:
            raise ValueError("nanotrack needs nanotrack_backbone and nanotrack_head in its TrackerSpec")
        return NanoTrackTracker(spec.nanotrack_backbone, spec.nanotrack_head)
    if spec.is_fartrack and spec.variant in FARTRACK_VARIANTS:
        from fartrack_ros.config import TrackerConfig
        from fartrack_ros.runtime.tracker import build_tracker

        return build_tracker(TrackerConfig(weights=spec.weights, variant=spec.variant,
                                           backend=spec.backend, device=spec.device,
                                           threads=spec.threads))
    raise ValueError(f"unknown tracker {spec.name!r}; choose from {', '.join(TRACKER_NAMES)}")


def file_sha256(path: str | Path) -> str:
    """sha256 (hex) of a file's content, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def result_key(spec: TrackerSpec) -> dict:
    """What the boxes of ``spec`` depend on, as a JSON-ready dict.

    FARTrack: the weights file's content (sha256; the shipped default resolved to its file), the
    variant, the backend ("auto" resolved to the backend it picks on the device, since the
    choice may change between releases) and the device. OpenCV trackers: the OpenCV version, and
    for NanoTrack the content of both model files. Threads change no box and are left out; file
    paths are kept for the reader but are not part of the key.
    """
    import cv2

    if spec.is_fartrack:
        from fartrack_ros.runtime.tracker import default_backend
        from fartrack_ros.weights import default_weights_path

        weights = Path(spec.weights) if spec.weights is not None else default_weights_path()
        backend = default_backend(spec.device) if spec.backend == "auto" else spec.backend
        return {"tracker": spec.name, "weights_sha256": file_sha256(weights), "variant": spec.variant,
                "backend": backend, "device": spec.device}
    key = {"tracker": spec.name, "opencv": cv2.__version__}
    if spec.name == NANOTRACK:
        key.update(nanotrack_backbone_sha256=file_sha256(spec.nanotrack_backbone),
                   nanotrack_head_sha256=file_sha256(spec.nanotrack_head))
    return key


def key_details(spec: TrackerSpec) -> dict:
    """Facts about ``spec`` worth showing beside its key (file paths), not part of it."""
    if spec.is_fartrack:
        return {"weights": spec.weights or "shipped default", "requested_backend": spec.backend}
    if spec.name == NANOTRACK:
        return {"nanotrack_backbone": spec.nanotrack_backbone, "nanotrack_head": spec.nanotrack_head}
    return {}
