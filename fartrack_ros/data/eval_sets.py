"""Readers for evaluation datasets in their official folder layouts.

* ``got10k``: ``ROOT/<seq>/00000001.jpg ...``, ``groundtruth.txt`` (one line on the test split,
  every frame on val), optional ``absence.label``, ``cover.label``, ``meta_info.ini``;
  ``ROOT/list.txt`` (optional) fixes the order. ROOT is the split folder (``GOT-10k/val``).
  The generated data set of the training tools uses the same layout.
* ``lasot``: ``ROOT/<class>/<class>-<n>/img/00000001.jpg``, ``groundtruth.txt``,
  ``full_occlusion.txt``, ``out_of_view.txt``; ``ROOT/testing_set.txt`` (optional) selects the
  test sequences.
* ``otb``: ``ROOT/<Seq>/img/0001.jpg``, ``groundtruth_rect.txt`` (separators: comma, tab or
  spaces); several targets as ``groundtruth_rect.1.txt`` ... give sequences ``<Seq>.1`` ...

Boxes are returned in ``xywh``. Images are not read here (the runner reads them lazily).
A ground-truth row of ``NaN`` (UAV123, DTB70, LaSOT-style "target absent") is kept as NaN, and
the frame is marked not visible in ``target_visible`` (created, all other frames visible, where
the layout has no visibility files); the metrics leave such frames out of every score. The first
row must be a box: it initialises the trackers.
The readers are named ``read_*_eval_sequence(s)``: they return :class:`EvalSequence`, while
those of ``fartrack_ros.data.training_sets`` return training sequences. Unlike the training
readers, evaluation needs the GOT-10k test split (first box only), OTB, the raw ``cover``
levels and the resolution, and must not fold box validity into visibility (the toolkits keep
the two apart).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fartrack_ros.data.annotations import read_boxes_txt, read_flags, read_name_list, require_dir

FORMATS = ("got10k", "lasot", "otb")
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")

# OTB sequences whose image folder holds more frames than the annotation covers; the ranges
# (0-based, end exclusive) are those of the benchmark (and of the got10k toolkit).
OTB_FRAME_RANGES = {
    "david": (299, 770),
    "football1": (0, 74),
    "freeman3": (0, 460),
    "freeman4": (0, 283),
    "diving": (0, 215),
}


@dataclass(frozen=True)
class EvalSequence:
    name: str
    frame_paths: tuple[Path, ...]
    gt_xywh: np.ndarray                    # (N, 4), or (1, 4) when only the first box is known
    target_visible: np.ndarray | None = None   # (N,) bool, None = not annotated
    cover: np.ndarray | None = None        # GOT-10k cover.label (0 = invisible .. 8 = full)
    image_wh: tuple[int, int] | None = None  # from meta_info.ini where given

    @property
    def init_box_xywh(self) -> tuple[float, float, float, float]:
        return tuple(float(v) for v in self.gt_xywh[0])

    @property
    def has_full_ground_truth(self) -> bool:
        return len(self.gt_xywh) == len(self.frame_paths)

    def __len__(self) -> int:
        return len(self.frame_paths)


def list_frames(folder: Path) -> tuple[Path, ...]:
    frames = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
    if not frames:
        raise FileNotFoundError(f"no images ({', '.join(FRAME_SUFFIXES)}) in {folder}")
    return tuple(frames)


def _check_lengths(name: str, frames: tuple[Path, ...], gt: np.ndarray, allow_first_only: bool) -> None:
    if np.isnan(gt[0]).any():
        raise ValueError(f"sequence {name}: the first ground-truth box is NaN; it must give the initial box")
    if len(gt) == len(frames) or (allow_first_only and len(gt) == 1):
        return
    raise ValueError(f"sequence {name}: {len(frames)} images but {len(gt)} ground-truth boxes")


def _visible_with_boxes(gt: np.ndarray, visible: np.ndarray | None) -> np.ndarray | None:
    """``visible`` with the frames whose ground truth is NaN (no box, target absent) marked
    not visible; None stays None when every frame has a box."""
    absent = np.isnan(gt).any(axis=1)
    if not absent.any() or len(gt) == 1:
        return visible
    return ~absent if visible is None else visible & ~absent


def _read_got10k_resolution(meta_file: Path) -> tuple[int, int] | None:
    if not meta_file.is_file():
        return None
    for line in meta_file.read_text().splitlines():
        # GOT-10k writes "resolution: (W, H)"; configparser-style "resolution = (W, H)" too
        key, _, value = line.replace("=", ":", 1).partition(":")
        if key.strip() == "resolution":
            numbers = re.findall(r"\d+", value)
            if len(numbers) == 2:
                return int(numbers[0]), int(numbers[1])
    return None


def read_got10k_eval_sequence(seq_dir: Path) -> EvalSequence:
    seq_dir = Path(seq_dir)
    frames = list_frames(seq_dir)
    gt = read_boxes_txt(seq_dir / "groundtruth.txt")
    _check_lengths(seq_dir.name, frames, gt, allow_first_only=True)
    cover_file, absence_file = seq_dir / "cover.label", seq_dir / "absence.label"
    cover = read_flags(cover_file, len(frames)) if cover_file.is_file() else None
    absence = read_flags(absence_file, len(frames)) if absence_file.is_file() else None
    if cover is not None:
        visible = cover > 0
    elif absence is not None:
        visible = absence == 0
    else:
        visible = None
    visible = _visible_with_boxes(gt, visible)
    return EvalSequence(name=seq_dir.name, frame_paths=frames, gt_xywh=gt, target_visible=visible,
                        cover=cover, image_wh=_read_got10k_resolution(seq_dir / "meta_info.ini"))


def read_got10k_eval_sequences(root: Path) -> list[EvalSequence]:
    root = require_dir(Path(root), "dataset folder")
    list_file = root / "list.txt"
    if list_file.is_file():
        names = read_name_list(list_file)
        missing = [n for n in names if not (root / n).is_dir()]
        if missing:
            raise FileNotFoundError(f"{list_file} names sequences that are not in {root}: {missing[:5]}")
    else:
        names = sorted(p.name for p in root.iterdir() if (p / "groundtruth.txt").is_file())
    if not names:
        hint = [s for s in ("val", "test", "train") if (root / s).is_dir()]
        extra = f" (did you mean {root / hint[0]}?)" if hint else ""
        raise FileNotFoundError(f"no GOT-10k sequences (folders with groundtruth.txt) in {root}{extra}")
    return [read_got10k_eval_sequence(root / n) for n in names]


def read_lasot_eval_sequence(seq_dir: Path) -> EvalSequence:
    seq_dir = Path(seq_dir)
    frames = list_frames(seq_dir / "img")
    gt = read_boxes_txt(seq_dir / "groundtruth.txt")
    _check_lengths(seq_dir.name, frames, gt, allow_first_only=False)
    visible = None
    occlusion_file, out_of_view_file = seq_dir / "full_occlusion.txt", seq_dir / "out_of_view.txt"
    if occlusion_file.is_file() and out_of_view_file.is_file():
        visible = (read_flags(occlusion_file, len(gt)) == 0) & (read_flags(out_of_view_file, len(gt)) == 0)
    visible = _visible_with_boxes(gt, visible)
    return EvalSequence(name=seq_dir.name, frame_paths=frames, gt_xywh=gt, target_visible=visible)


def read_lasot_eval_sequences(root: Path) -> list[EvalSequence]:
    root = require_dir(Path(root), "dataset folder")
    list_file = root / "testing_set.txt"
    if list_file.is_file():
        names = read_name_list(list_file)
        dirs = [root / n.rsplit("-", 1)[0] / n for n in names]
        missing = [d for d in dirs if not d.is_dir()]
        if missing:
            raise FileNotFoundError(f"{list_file} names sequences not found under {root}: "
                                    f"{[str(m) for m in missing[:5]]}")
    else:
        dirs = sorted(p.parent for p in root.glob("*/*/groundtruth.txt"))
    if not dirs:
        raise FileNotFoundError(f"no LaSOT sequences (<class>/<seq>/groundtruth.txt) in {root}")
    return [read_lasot_eval_sequence(d) for d in dirs]


def read_otb_eval_sequences(root: Path) -> list[EvalSequence]:
    root = require_dir(Path(root), "dataset folder")
    sequences = []
    for seq_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        gt_files = sorted(seq_dir.glob("groundtruth_rect*.txt"))
        if not gt_files or not (seq_dir / "img").is_dir():
            continue
        all_frames = list_frames(seq_dir / "img")
        start, end = OTB_FRAME_RANGES.get(seq_dir.name.lower(), (0, len(all_frames)))
        frames = all_frames[start:end]
        for gt_file in gt_files:
            target = gt_file.name[len("groundtruth_rect"):-len(".txt")]   # "" or ".1", ".2"
            name = seq_dir.name + target
            gt = read_boxes_txt(gt_file)
            _check_lengths(name, frames, gt, allow_first_only=False)
            sequences.append(EvalSequence(name=name, frame_paths=frames, gt_xywh=gt,
                                          target_visible=_visible_with_boxes(gt, None)))
    if not sequences:
        raise FileNotFoundError(f"no OTB sequences (<Seq>/img/ + groundtruth_rect.txt) in {root}")
    return sequences


def read_eval_sequences(root: Path, dataset_format: str) -> list[EvalSequence]:
    """All sequences of the data set at ``root`` in layout ``dataset_format``."""
    readers = {"got10k": read_got10k_eval_sequences, "lasot": read_lasot_eval_sequences, "otb": read_otb_eval_sequences}
    if dataset_format not in readers:
        raise ValueError(f"unknown dataset format {dataset_format!r}; expected one of {FORMATS}")
    return readers[dataset_format](Path(root))
