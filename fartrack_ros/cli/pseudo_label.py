"""``fartrack pseudo-label``: training sequences from unlabelled real video, labelled by a teacher."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fartrack_ros.cli.common import positive_int

HELP = "label real video with a teacher tracker run forward and back (training data, track layout)"

EPILOG = """\
examples:
  # NanoTrack v2 as teacher over a folder of videos and image folders
  fartrack pseudo-label --source /usr/share/doc/opencv-doc/examples/data/vtest.avi \\
      --source data/real/train --teacher nanotrack --nanotrack-dir models/nanotrack-v2 \\
      --out data/pseudo
  # then train on it:  --set "data.datasets=[{kind: track, root: data/pseudo, weight: 1}]"

A --source is a video file, a folder of frames, or a folder whose sub-folders hold frames (an
OTB-layout data set: <Seq>/img/). Each kept track becomes OUT/<source>_<start>_<k>/ with
boxes.txt and frames/ (links to the frames; video frames are written once as JPEG under
OUT/_frames/). Kept: the teacher's backward pass retraces its forward one (every frame's boxes
overlap by --min-pair-iou) and returns to the start box (--min-return-iou).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("--source", action="append", required=True, type=Path, metavar="PATH",
                        help="video file or frame folder(s); repeatable")
    parser.add_argument("--out", required=True, type=Path, help="output folder (created)")
    parser.add_argument("--teacher", default="nanotrack", choices=("nanotrack", "csrt", "kcf", "mil"),
                        help="teacher tracker (default: %(default)s)")
    parser.add_argument("--nanotrack-dir", metavar="DIR",
                        help="folder with NanoTrack v2's two ONNX files (or FARTRACK_NANOTRACK_DIR)")
    parser.add_argument("--clip-length", type=positive_int, default=60,
                        help="frames tracked forward and back (default: %(default)s)")
    parser.add_argument("--clip-stride", type=positive_int, default=40,
                        help="frames between clip starts (default: %(default)s)")
    parser.add_argument("--starts-per-clip", type=positive_int, default=3,
                        help="boxes tried on each clip's first frame (default: %(default)s)")
    parser.add_argument("--min-pair-iou", type=float, default=0.5,
                        help="forward vs backward box on every frame (default: %(default)s)")
    parser.add_argument("--min-return-iou", type=float, default=0.7,
                        help="backward pass's last box vs the start box (default: %(default)s)")
    parser.add_argument("--min-motion", type=float, default=0.0,
                        help="keep tracks whose centre moves at least this many box sides "
                             "(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")


def _frame_sources(path: Path) -> list[tuple[str, list[str]]]:
    """(name, frame paths) for a video, a frame folder, or a folder of sequence folders."""
    from fartrack_ros.data.images import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    if path.is_file():
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise ValueError(f"{path} is not a video ({', '.join(VIDEO_SUFFIXES)})")
        return [(path.stem, [])]            # frames extracted later
    if not path.is_dir():
        raise FileNotFoundError(f"source not found: {path}")
    folder = path / "img" if (path / "img").is_dir() else path
    images = sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if images:
        return [(path.name, images)]
    found = []
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        folder = sub / "img" if (sub / "img").is_dir() else sub
        frames = sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if frames:
            found.append((sub.name, frames))
    if not found:
        raise FileNotFoundError(f"no video frames in {path} or its sub-folders")
    return found


def _extract_video(video: Path, out_dir: Path) -> list[str]:
    import cv2

    out_dir.mkdir(parents=True, exist_ok=True)
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise ValueError(f"cannot open video {video}")
    paths = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        paths.append(str(out_dir / f"{len(paths) + 1:06d}.jpg"))
        if not Path(paths[-1]).is_file():
            cv2.imwrite(paths[-1], frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    capture.release()
    if not paths:
        raise ValueError(f"no frames could be read from {video}")
    return paths


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from fartrack_ros.data.images import read_image_rgb
    from fartrack_ros.evaluation.peers import NanoTrackTracker, OpenCvPeerTracker, resolve_nanotrack_files
    from fartrack_ros.training.pseudo_labels import PseudoLabelConfig, pseudo_label_video, write_track

    cfg = PseudoLabelConfig(clip_length=args.clip_length, starts_per_clip=args.starts_per_clip,
                            clip_stride=args.clip_stride, min_pair_iou=args.min_pair_iou,
                            min_return_iou=args.min_return_iou, min_motion=args.min_motion,
                            seed=args.seed)
    if args.teacher == "nanotrack":
        backbone, head = resolve_nanotrack_files(directory=args.nanotrack_dir)
        NanoTrackTracker(backbone, head)          # a bad model file fails here, before any work

        def make_teacher():
            return NanoTrackTracker(backbone, head)
    else:
        def make_teacher():
            return OpenCvPeerTracker(args.teacher)
    sources = [(name, frames, path) for path in args.source for name, frames in _frame_sources(path)]
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    kept_total = tried_videos = 0
    for name, frames, path in sources:
        if not frames:
            frames = _extract_video(path, args.out / "_frames" / name)
        tried_videos += 1
        kept = 0
        for k, track in enumerate(pseudo_label_video(
                lambda s, n: [read_image_rgb(p) for p in frames[s:s + n]], len(frames),
                make_teacher, cfg, rng)):
            write_track(args.out / f"{name}_{track.start:06d}_{k}", frames, track)
            kept += 1
        kept_total += kept
        print(f"{name}: {len(frames)} frames, {kept} tracks kept", file=sys.stderr)
    print(f"wrote {kept_total} tracks of {cfg.clip_length} frames from {tried_videos} videos to {args.out}")
    return 0
