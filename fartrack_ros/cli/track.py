"""`fartrack track`: track one object through a video, a frame folder, a camera, a stream or a bag."""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import cv2

from fartrack_ros.cli.common import add_tracker_arguments, non_negative_int, positive_int, tracker_config_from_args

HELP = "track one object through a video, frame folder, camera, stream URL or ROS 2 bag"

DESCRIPTION = """\
Track one object: give its box on the first frame (--box, or draw it when a display is
available), get one box per frame (--results) and/or an overlay video (--overlay).
Outputs are checked before the model loads; Ctrl-C stops cleanly and keeps what was written.

--results formats (one line per frame, from --start-frame on; the first line is the given box):
  xywh              x,y,w,h  (GOT-10k style)
  xywh-score-state  x,y,w,h,score,state  (state: init on the first line, then tracking / lost;
                    score in [0, 1], 1 on the first line)
  csv               a header line, then frame,stamp_ns,x,y,w,h,score,state  (frame: index in the
                    source; stamp_ns: the image message's header stamp for bags (the recording
                    time where that stamp is zero), the position in the file for videos, the
                    capture time for cameras and streams, empty for frame folders)
"""

EXAMPLES = """\
examples:
  fartrack track --video clip.mp4 --box 639,240,46,82 --results out/boxes.txt --overlay out/overlay.mp4
  fartrack track --video frames/ --box 10,20,40,60 --start-frame 100 --max-frames 500
  fartrack track --video 0                                  # camera 0, draw the box in a window
  fartrack track --video rtsp://192.168.1.10/stream --box 300,200,50,80 --overlay out/cam.mp4
  fartrack track --bag rec/ --topic /camera/image_raw --box 100,80,40,90 --results out/bag.csv
  fartrack track --video clip.mp4 --box -10,40,60,80        # a box may start left of the image
  fartrack track --video clip.mp4 --box 5,5,40,40 --weights FARTrackSparse_ep0015.pth.tar --variant tiny
"""

RESULT_FORMATS = ("xywh", "xywh-score-state", "csv")
CSV_HEADER = "frame,stamp_ns,x,y,w,h,score,state"


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("input (one of --video / --bag)")
    one = src.add_mutually_exclusive_group(required=True)
    one.add_argument("--video", metavar="SOURCE",
                     help="video file (anything OpenCV reads), folder of frames (sorted by name), "
                          "camera index (0, 1, ...) or stream URL (rtsp://, http://, ...)")
    one.add_argument("--bag", metavar="BAG",
                     help="rosbag2 folder or its .db3 / .mcap file (sensor_msgs/Image or "
                          "CompressedImage)")
    src.add_argument("--topic", help="image topic in --bag (default: the bag's only image topic); "
                                     "a raw topic name also finds <topic>/compressed")
    src.add_argument("--start-frame", type=non_negative_int, default=0, metavar="N",
                     help="initialise on frame N of the source, 0-based (default: 0)")
    src.add_argument("--max-frames", type=positive_int, default=None, metavar="N",
                     help="stop after N frames, the first one included (default: all)")
    src.add_argument("--box", metavar="X,Y,W,H",
                     help="target on the start frame: top-left corner and size in pixels "
                          "(default: draw it on the start frame; needs a display)")
    model = p.add_argument_group("model")
    add_tracker_arguments(model)
    out = p.add_argument_group("outputs (checked before the model loads; folders are created)")
    out.add_argument("--results", metavar="FILE", help="write one box per frame here (default: none)")
    out.add_argument("--results-format", choices=RESULT_FORMATS, default=None,
                     help="columns of --results, see above (default: xywh; csv with --bag)")
    out.add_argument("--overlay", metavar="FILE",
                     help="write the frames with box, score and state drawn: .mp4, .m4v, .mov, "
                          ".mkv or .avi (default: none)")
    out.add_argument("--quiet", action="store_true", help="no progress bar (default: shown)")


# --------------------------------------------------------------------------- the box
def display_problem() -> str | None:
    """Why no window can be opened here, or None."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY and WAYLAND_DISPLAY are unset)"
    gui = re.search(r"^\s*GUI:\s*(\S+)", cv2.getBuildInformation(), re.MULTILINE)
    if gui and gui.group(1).upper() == "NONE":
        return "this OpenCV build has no GUI (a -headless package)"
    return None


def draw_box(image_bgr, title: str) -> tuple[float, float, float, float]:
    """Let the user draw the box on ``image_bgr`` with cv2.selectROI."""
    problem = display_problem()
    if problem:
        raise ValueError(f"--box X,Y,W,H is needed: cannot draw the box here, {problem}")
    try:
        x, y, w, h = cv2.selectROI(title, image_bgr, showCrosshair=True, fromCenter=False)
        cv2.destroyWindow(title)
    except cv2.error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "OpenCV error"
        raise ValueError(f"--box X,Y,W,H is needed: cannot open a window to draw it ({reason})") from None
    if w <= 0 or h <= 0:
        raise ValueError("no box drawn (selection cancelled); draw one, or give --box X,Y,W,H")
    print(f"box drawn: --box {x},{y},{w},{h}", file=sys.stderr)
    return float(x), float(y), float(w), float(h)


# --------------------------------------------------------------------------- outputs
def check_results_path(path: str) -> Path:
    """Refuse a folder; create the parent folder (as --overlay does)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"--results {path} is a folder; give a file name, e.g. {path / 'boxes.txt'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def format_row(fmt: str, frame_index: int, stamp_ns, box, score: float, state: str) -> str:
    xywh = ",".join(f"{v:.4f}" for v in box)
    if fmt == "xywh":
        return xywh
    if fmt == "xywh-score-state":
        return f"{xywh},{score:.4f},{state}"
    return f"{frame_index},{'' if stamp_ns is None else stamp_ns},{xywh},{score:.4f},{state}"


class Outputs:
    """The results file and the overlay writer, opened before the model loads."""

    def __init__(self, args, fmt: str, fps: float, size_wh: tuple[int, int]):
        from fartrack_ros.data.video import open_overlay_writer

        self.fmt, self.created, self.rows = fmt, [], 0
        self.results = self.writer = None
        try:
            if args.results:
                path = check_results_path(args.results)
                self.results = open(path, "w", buffering=1)      # line-buffered: kept on a crash
                self.created.append(path)
                if fmt == "csv":
                    self.results.write(CSV_HEADER + "\n")
            if args.overlay:
                self.writer = open_overlay_writer(args.overlay, fps, size_wh)
                self.created.append(Path(args.overlay))
        except BaseException:
            self.close(remove=True)
            raise

    def write(self, frame, box, score, state, overlay_image) -> None:
        if self.results is not None:
            self.results.write(format_row(self.fmt, frame.index, frame.stamp_ns, box, score, state) + "\n")
        if self.writer is not None:
            self.writer.write(overlay_image)
        self.rows += 1

    def close(self, remove: bool = False) -> None:
        if self.results is not None:
            self.results.close()
        if self.writer is not None:
            self.writer.release()
        self.results = self.writer = None
        if remove:                     # nothing was tracked: leave no empty files behind
            for path in self.created:
                path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- run
def run(args) -> int:
    from tqdm import tqdm

    from fartrack_ros.core.boxes import validate_box_xywh
    from fartrack_ros.core.types import TRACKING, TrackResult
    from fartrack_ros.data.video import check_overlay_path, open_bag, open_frames, parse_box_xywh
    from fartrack_ros.runtime.visualize import draw_track_overlay

    if args.topic and not args.bag:
        raise ValueError("--topic goes with --bag")
    fmt = args.results_format or ("csv" if args.bag else "xywh")
    if args.results_format and not args.results:
        raise ValueError("--results-format needs --results FILE")
    box = parse_box_xywh(args.box) if args.box else None
    if args.results:
        check_results_path(args.results)
    if args.overlay:
        check_overlay_path(args.overlay)

    source = open_bag(args.bag, args.topic) if args.bag else open_frames(args.video)
    frames = source.frames(start=args.start_frame)
    outputs = None
    try:
        first = next(frames, None)
        if first is None:
            raise ValueError(f"--start-frame {args.start_frame}: {source.describe()} has only "
                             f"{source.count} frames")
        height, width = first.image.shape[:2]
        if box is None:
            box = draw_box(first.image, f"fartrack: draw the target on frame {first.index}, "
                                        "then ENTER or SPACE (c cancels)")
        box = validate_box_xywh(box, height, width)
        outputs = Outputs(args, fmt, source.fps, (width, height))
        try:
            tracker = build_tracker_for(args)
        except BaseException:
            outputs.close(remove=True)
            raise
        return track_frames(args, source, first, frames, box, tracker, outputs,
                            tqdm, draw_track_overlay, TrackResult(box, 1.0, TRACKING, 0))
    finally:
        frames.close()
        if outputs is not None:
            outputs.close()
        close = getattr(source, "close", None)
        if close:
            close()


def build_tracker_for(args):
    from fartrack_ros.runtime.tracker import build_tracker
    return build_tracker(tracker_config_from_args(args))


def track_frames(args, source, first, frames, box, tracker, outputs, tqdm, draw_overlay,
                 initial) -> int:
    remaining = max(source.count - args.start_frame, 0) if source.count else 0
    total = min(remaining or args.max_frames or 0, args.max_frames or remaining) or None
    bar = tqdm(total=total, unit="frame", disable=args.quiet, file=sys.stderr)
    track_time, tracked, interrupted = 0.0, 0, False
    try:
        tracker.initialize(cv2.cvtColor(first.image, cv2.COLOR_BGR2RGB), box)
        outputs.write(first, box, 1.0, "init",
                      draw_overlay(first.image, initial, None, "initial box") if outputs.writer else None)
        bar.update(1)
        for frame in frames:
            if args.max_frames and outputs.rows >= args.max_frames:
                break
            t0 = time.perf_counter()
            result = tracker.track(cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB))
            track_time += time.perf_counter() - t0
            tracked += 1
            fps = tracked / track_time
            outputs.write(frame, result.box_xywh, result.score, result.state,
                          draw_overlay(frame.image, result, fps) if outputs.writer else None)
            bar.update(1)
            bar.set_postfix(fps=f"{fps:.1f}")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        outputs.close()
    fps = tracked / track_time if track_time else 0.0
    kept = [str(p) for p in outputs.created]
    if interrupted:
        print(f"interrupted after {outputs.rows} frames; kept {', '.join(kept) or 'nothing'}",
              file=sys.stderr)
        return 130
    print(f"tracked {tracked} frames after the first: {fps:.1f} frames/s "
          f"({1000 * track_time / max(tracked, 1):.1f} ms per track())"
          + (f"; wrote {', '.join(kept)}" if kept else ""))
    return 0
