"""`fartrack track`: track one object through a video file or a folder of frames."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2

HELP = "track one object through a video or a folder of frames"


def add_tracker_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that builds a FARTrack tracker."""
    p.add_argument("--weights", help="official .pth.tar or own .safetensors (default: shipped weights)")
    p.add_argument("--variant", default="pico", choices=["tiny", "nano", "pico"])
    p.add_argument("--backend", default="auto", help="inference backend (default: fastest exact)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")


def tracker_config_from_args(args):
    from ..config import TrackerConfig
    return TrackerConfig(weights=args.weights, variant=args.variant, backend=args.backend,
                         device=args.device, threads=args.threads)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--video", required=True, help="video file or folder of frames (sorted by name)")
    p.add_argument("--box", required=True, help="initial box x,y,w,h in pixels of the first frame")
    add_tracker_arguments(p)
    p.add_argument("--results", help="write boxes here, one x,y,w,h line per frame (GOT-10k style)")
    p.add_argument("--overlay", help="write an overlay video (e.g. out.mp4)")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from tqdm import tqdm

    from ..runtime.tracker import build_tracker
    from ..runtime.video import open_frames, parse_box_xywh
    from ..runtime.visualize import draw_track_overlay

    box = parse_box_xywh(args.box)
    source = open_frames(args.video)
    tracker = build_tracker(tracker_config_from_args(args))
    results = open(args.results, "w") if args.results else None
    writer = None
    total = source.count if not args.max_frames else min(source.count or args.max_frames, args.max_frames)
    bar = tqdm(total=total or None, unit="frame", disable=args.quiet, file=sys.stderr)
    track_time, tracked = 0.0, 0
    try:
        for index, frame_bgr in enumerate(source):
            if args.max_frames and index >= args.max_frames:
                break
            rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
            if index == 0:
                tracker.initialize(rgb, box)
                out_box, result = box, None
            else:
                t0 = time.perf_counter()
                result = tracker.track(rgb)
                track_time += time.perf_counter() - t0
                tracked += 1
                out_box = result.box_xywh
            if results:
                results.write(",".join(f"{v:.4f}" for v in out_box) + "\n")
            if args.overlay:
                if writer is None:
                    Path(args.overlay).parent.mkdir(parents=True, exist_ok=True)
                    h, w = frame_bgr.shape[:2]
                    writer = cv2.VideoWriter(args.overlay, cv2.VideoWriter_fourcc(*"mp4v"),
                                             source.fps, (w, h))
                fps = tracked / track_time if track_time else None
                writer.write(draw_track_overlay(frame_bgr, result, fps))
            bar.update(1)
            if tracked:
                bar.set_postfix(fps=f"{tracked / track_time:.1f}")
    finally:
        bar.close()
        if results:
            results.close()
        if writer is not None:
            writer.release()
    fps = tracked / track_time if track_time else 0.0
    print(f"tracked {tracked} frames after the first: {fps:.1f} frames/s "
          f"({1000 * track_time / max(tracked, 1):.1f} ms per track())")
    return 0
