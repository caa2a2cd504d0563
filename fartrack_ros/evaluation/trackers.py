"""Names of the trackers an evaluation can run, and how to build each one.

``fartrack-<variant>`` (tiny | nano | pico) is the project's tracker, built through
``fartrack_ros.runtime.tracker.build_tracker``; ``csrt``, ``kcf`` and ``mil`` are OpenCV's.
All take RGB images and answer ``initialize(image_rgb, box_xywh)`` / ``track(image_rgb)``.
"""
from __future__ import annotations

from dataclasses import dataclass

from fartrack_ros.evaluation.peers import PEER_NAMES, OpenCvPeerTracker

FARTRACK_PREFIX = "fartrack-"
FARTRACK_VARIANTS = ("tiny", "nano", "pico")
TRACKER_NAMES = tuple(FARTRACK_PREFIX + v for v in FARTRACK_VARIANTS) + PEER_NAMES


@dataclass(frozen=True)
class TrackerSpec:
    """Everything a worker process needs to build one tracker."""
    name: str                       # e.g. "fartrack-pico", "csrt"; also the result folder name
    weights: str | None = None      # FARTrack weights file; None = shipped default
    backend: str = "auto"           # FARTrack backend
    device: str = "cpu"
    threads: int | None = None      # FARTrack compute threads (None = runtime default)

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
    if spec.name in PEER_NAMES:
        return OpenCvPeerTracker(spec.name)
    if spec.is_fartrack and spec.variant in FARTRACK_VARIANTS:
        from fartrack_ros.config import TrackerConfig
        from fartrack_ros.runtime.tracker import build_tracker

        return build_tracker(TrackerConfig(weights=spec.weights, variant=spec.variant,
                                           backend=spec.backend, device=spec.device,
                                           threads=spec.threads))
    raise ValueError(f"unknown tracker {spec.name!r}; choose from {', '.join(TRACKER_NAMES)}")
