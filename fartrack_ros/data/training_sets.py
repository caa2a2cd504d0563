"""Training datasets read from folders in their published layouts.

Every reader returns a :class:`TrackingDataset`: a list of :class:`Sequence` objects, each with
its frames (read lazily, RGB uint8), one box per frame in ``xywh`` (float pixels, GOT-10k
convention) and one visibility flag per frame. Visibility follows pytracking's readers, so the
training samplers pick the same frames as the official code:

=============  ====================================================================================
layout         a frame is visible when
=============  ====================================================================================
GOT-10k        ``absence.label`` is 0, ``cover.label`` > 0 and the box has positive size
LaSOT          ``full_occlusion.txt`` and ``out_of_view.txt`` are 0 and the box has positive size
TrackingNet    the box has positive size
OTB            the line of ``groundtruth_rect.txt`` holds 4 finite numbers with positive size
               (UAV123 / DTB70-style files write ``NaN`` rows where the target is absent)
COCO           always (each non-crowd annotation is a one-frame sequence)
fartrack track the line holds 4 finite numbers with positive width and height
=============  ====================================================================================

Frame paths are formed from a pattern, not listed, so opening LaSOT or TrackingNet does not
touch millions of files.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence as Seq

import numpy as np

from fartrack_ros.data.annotations import positive_size, read_flags, read_name_list, read_numbers, require_dir
from fartrack_ros.data.images import (IMAGE_SUFFIXES, VIDEO_SUFFIXES, ImageFiles, NumberedFrames,
                                      VideoFrames, video_frame_count)


# --------------------------------------------------------------------------- sequences

@dataclass(frozen=True)
class Sequence:
    """One annotated target track.

    ``boxes_xywh`` (N, 4) float64; ``visible`` (N,) bool; ``visible_ratio`` (N,) float64 in
    [0, 1] when the layout records how much of the target is visible (GOT-10k ``cover.label``,
    level / 8), else None.
    """

    name: str
    frames: object                       # NumberedFrames | ImageFiles | VideoFrames
    boxes_xywh: np.ndarray
    visible: np.ndarray
    visible_ratio: Optional[np.ndarray] = None
    dataset: str = ""

    def __post_init__(self):
        n = len(self.frames)
        if self.boxes_xywh.shape != (n, 4):
            raise ValueError(f"sequence {self.name}: {self.boxes_xywh.shape[0]} boxes for {n} frames")
        if self.visible.shape != (n,):
            raise ValueError(f"sequence {self.name}: {self.visible.shape[0]} visibility flags "
                             f"for {n} frames")

    def __len__(self) -> int:
        return len(self.frames)

    def read_frame_rgb(self, index: int) -> np.ndarray:
        return self.frames.read_rgb(index)

    def frame_path(self, index: int) -> str:
        return self.frames.path(index)


class TrackingDataset:
    """A named, indexable collection of sequences.

    ``is_video`` is False for image datasets (COCO), whose "sequences" are single frames; the
    samplers then repeat that frame for every template and search crop, as the official sampler does.
    """

    def __init__(self, name: str, sequences: Seq[Sequence] | None = None, is_video: bool = True):
        self.name = name
        self.is_video = is_video
        self._sequences = list(sequences or [])

    def __len__(self) -> int:
        return len(self._sequences)

    def __getitem__(self, index: int) -> Sequence:
        return self._sequences[index]

    def __iter__(self) -> Iterator[Sequence]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {len(self)} sequences)"


class LazyTrackingDataset(TrackingDataset):
    """A dataset whose sequences are built on access (COCO has ~860k annotations)."""

    def __init__(self, name: str, count: int, build: Callable[[int], Sequence], is_video: bool):
        super().__init__(name, None, is_video)
        self._count = count
        self._build = build

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> Sequence:
        if not -self._count <= index < self._count:
            raise IndexError(f"sequence index {index} outside 0..{self._count - 1}")
        return self._build(index % self._count)


# --------------------------------------------------------------------------- GOT-10k

def read_got10k(root: str | os.PathLike, sequence_list: str | os.PathLike | None = None,
                name: str = "got10k") -> TrackingDataset:
    """GOT-10k train/val (and the generated set): ``root/list.txt`` and one folder per sequence
    with ``00000001.jpg``..., ``groundtruth.txt``, ``absence.label``, ``cover.label``.

    ``sequence_list``: a file of sequence names to use instead of ``list.txt`` (e.g. pytracking's
    vot-train split). Without ``list.txt`` the sequence folders are found by listing ``root``.
    """
    root = require_dir(Path(root), "GOT-10k folder")
    if sequence_list is not None:
        names = read_name_list(Path(sequence_list))
    elif (root / "list.txt").is_file():
        names = read_name_list(root / "list.txt")
    else:
        names = sorted(p.name for p in root.iterdir() if (p / "groundtruth.txt").is_file())
    sequences = [read_got10k_sequence(root / n, name) for n in names]
    return TrackingDataset(name, sequences)


def read_got10k_sequence(folder: Path, dataset: str = "got10k") -> Sequence:
    require_dir(folder, "GOT-10k sequence folder")
    boxes = read_numbers(folder / "groundtruth.txt", 4)
    n = len(boxes)
    valid = positive_size(boxes)
    visible = valid.copy()
    ratio = None
    absence_path, cover_path = folder / "absence.label", folder / "cover.label"
    if absence_path.is_file():               # the test split ships only the first box
        visible &= read_flags(absence_path, n) == 0
    if cover_path.is_file():
        cover = read_flags(cover_path, n)
        if cover.min(initial=0) < 0 or cover.max(initial=0) > 8:
            raise ValueError(f"{cover_path}: cover levels must be 0..8")
        visible &= cover > 0
        ratio = cover / 8.0
    frames = NumberedFrames(str(folder), "{:08d}.jpg", 1, n)
    return Sequence(folder.name, frames, boxes, visible, ratio, dataset)


# --------------------------------------------------------------------------- LaSOT

def read_lasot(root: str | os.PathLike, sequence_list: str | os.PathLike | None = None,
               classes: Seq[str] | None = None, name: str = "lasot") -> TrackingDataset:
    """LaSOT: ``root/<class>/<class>-<k>/img/00000001.jpg``, ``groundtruth.txt``,
    ``full_occlusion.txt``, ``out_of_view.txt``.

    ``sequence_list``: a file of sequence names (``airplane-1`` ...), e.g. the official training
    split; ``classes``: restrict to these class folders. Default: every sequence found.
    """
    root = require_dir(Path(root), "LaSOT folder")
    if sequence_list is not None:
        names = read_name_list(Path(sequence_list))
        folders = [root / n.rsplit("-", 1)[0] / n for n in names]
    else:
        class_dirs = sorted(p for p in root.iterdir() if p.is_dir())
        if classes is not None:
            wanted = set(classes)
            missing = wanted - {p.name for p in class_dirs}
            if missing:
                raise FileNotFoundError(f"LaSOT classes not found under {root}: {sorted(missing)}")
            class_dirs = [p for p in class_dirs if p.name in wanted]
        folders = [s for c in class_dirs for s in sorted(c.iterdir(), key=_natural_key)
                   if (s / "groundtruth.txt").is_file()]
    return TrackingDataset(name, [read_lasot_sequence(f, name) for f in folders])


def read_lasot_sequence(folder: Path, dataset: str = "lasot") -> Sequence:
    require_dir(folder, "LaSOT sequence folder")
    boxes = read_numbers(folder / "groundtruth.txt", 4)
    n = len(boxes)
    visible = positive_size(boxes)
    for flag_file in ("full_occlusion.txt", "out_of_view.txt"):
        path = folder / flag_file
        if path.is_file():
            visible &= read_flags(path, n) == 0
    frames = NumberedFrames(str(folder / "img"), "{:08d}.jpg", 1, n)
    return Sequence(folder.name, frames, boxes, visible, None, dataset)


def _natural_key(path: Path):
    head, _, tail = path.name.rpartition("-")
    return (head, int(tail)) if tail.isdigit() else (path.name, -1)


# --------------------------------------------------------------------------- TrackingNet

def read_trackingnet(root: str | os.PathLike, chunks: Seq[str] | None = None,
                     name: str = "trackingnet") -> TrackingDataset:
    """TrackingNet: ``root/TRAIN_<k>/frames/<seq>/<i>.jpg`` (from 0) and ``root/TRAIN_<k>/anno/<seq>.txt``.

    ``chunks``: the chunk folders to use (``TRAIN_0`` ...); default every ``TRAIN_*`` folder.
    """
    root = require_dir(Path(root), "TrackingNet folder")
    if chunks is None:
        chunk_dirs = sorted((p for p in root.iterdir() if p.is_dir() and p.name.startswith("TRAIN_")),
                            key=lambda p: int(p.name.split("_")[1]) if p.name.split("_")[1].isdigit() else 0)
        if not chunk_dirs:
            raise FileNotFoundError(f"no TRAIN_* chunk folders under {root}")
    else:
        chunk_dirs = [require_dir(root / c, "TrackingNet chunk") for c in chunks]
    sequences = []
    for chunk in chunk_dirs:
        anno_dir = require_dir(chunk / "anno", "TrackingNet anno folder")
        for anno in sorted(anno_dir.glob("*.txt")):
            boxes = read_numbers(anno, 4)
            frames = NumberedFrames(str(chunk / "frames" / anno.stem), "{}.jpg", 0, len(boxes))
            sequences.append(Sequence(anno.stem, frames, boxes, positive_size(boxes), None, name))
    return TrackingDataset(name, sequences)


# --------------------------------------------------------------------------- COCO

def read_coco(images_dir: str | os.PathLike, annotations_json: str | os.PathLike,
              name: str = "coco") -> TrackingDataset:
    """COCO detection: every non-crowd annotation with a positive-size box is a one-frame sequence."""
    images_dir = require_dir(Path(images_dir), "COCO image folder")
    ann_path = Path(annotations_json)
    if not ann_path.is_file():
        raise FileNotFoundError(f"COCO annotation file not found: {ann_path}")
    with ann_path.open() as f:
        data = json.load(f)
    for key in ("images", "annotations"):
        if key not in data:
            raise ValueError(f"{ann_path}: no {key!r} list; is this an instances_*.json file?")
    file_names = {img["id"]: img["file_name"] for img in data["images"]}
    image_files, boxes, ann_ids = [], [], []
    for ann in data["annotations"]:
        if ann.get("iscrowd", 0):
            continue
        box = [float(v) for v in ann["bbox"]]
        if len(box) != 4 or not (box[2] > 0 and box[3] > 0):
            continue
        if ann["image_id"] not in file_names:
            raise ValueError(f"{ann_path}: annotation {ann.get('id')} names unknown image {ann['image_id']}")
        image_files.append(file_names[ann["image_id"]])
        boxes.append(box)
        ann_ids.append(ann.get("id", len(ann_ids)))
    boxes_array = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    root = str(images_dir)

    def build(i: int) -> Sequence:
        frames = ImageFiles((os.path.join(root, image_files[i]),))
        return Sequence(f"{ann_ids[i]}", frames, boxes_array[i:i + 1].copy(),
                        np.ones(1, dtype=bool), None, name)

    return LazyTrackingDataset(name, len(boxes), build, is_video=False)


# --------------------------------------------------------------------------- OTB (real video)

def read_otb(root: str | os.PathLike, name: str = "otb") -> TrackingDataset:
    """OTB layout, as the real development sequences come: ``root/<Seq>/img/<frames>`` and
    ``root/<Seq>/groundtruth_rect.txt``. Frames are taken in name order; the box file must have
    one row per frame. ``NaN`` rows (target absent) are kept as invisible frames, so the samplers
    never draw them as a template or search frame.
    """
    root = require_dir(Path(root), "OTB folder")
    folders = sorted(p for p in root.iterdir()
                     if (p / "groundtruth_rect.txt").is_file() and (p / "img").is_dir())
    if not folders:
        raise FileNotFoundError(f"no OTB sequences (<Seq>/img/ + groundtruth_rect.txt) in {root}")
    return TrackingDataset(name, [read_otb_sequence(f, name) for f in folders])


def read_otb_sequence(folder: Path, dataset: str = "otb") -> Sequence:
    boxes = read_numbers(folder / "groundtruth_rect.txt", 4)
    images = sorted((p for p in (folder / "img").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                    key=_frame_sort_key)
    if len(images) != len(boxes):
        raise ValueError(f"{folder}: {len(images)} images but {len(boxes)} ground-truth rows")
    visible = positive_size(boxes)
    return Sequence(folder.name, ImageFiles(tuple(str(p) for p in images)), np.nan_to_num(boxes),
                    visible, None, dataset)


# --------------------------------------------------------------------------- fartrack track output

def read_track_output(folder: str | os.PathLike, frames: str | os.PathLike | None = None,
                      boxes_file: str = "boxes.txt", name: str = "track") -> TrackingDataset:
    """What ``fartrack track`` writes: ``boxes.txt`` (one ``x,y,w,h`` per frame) with the frames.

    The frames are, in this order of preference: ``frames`` when given (an image folder or a
    video file), a ``frames/`` sub-folder, the images in ``folder`` itself, or the single video
    file in ``folder``. Lines of ``nan`` or with non-positive size mark frames without a target.
    ``folder`` may also be a parent holding several such folders; each becomes one sequence.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"track output not found: {folder}")
    if (folder / boxes_file).is_file() or frames is not None:
        return TrackingDataset(name, [read_track_sequence(folder, frames, boxes_file, name)])
    subdirs = sorted(p for p in folder.iterdir() if (p / boxes_file).is_file())
    if not subdirs:
        raise FileNotFoundError(f"no {boxes_file} in {folder} or its sub-folders")
    return TrackingDataset(name, [read_track_sequence(p, None, boxes_file, name) for p in subdirs])


def read_track_sequence(folder: Path, frames: str | os.PathLike | None = None,
                        boxes_file: str = "boxes.txt", dataset: str = "track") -> Sequence:
    boxes = read_numbers(folder / boxes_file, 4)
    source = _track_frames(folder, Path(frames) if frames is not None else None)
    if len(source) < len(boxes):
        raise ValueError(f"{folder / boxes_file}: {len(boxes)} boxes but only {len(source)} frames "
                         f"in {_describe(source)}")
    if len(source) > len(boxes):          # a run stopped early: keep the annotated prefix
        source = _truncate(source, len(boxes))
    visible = positive_size(boxes)
    return Sequence(folder.name, source, np.nan_to_num(boxes), visible, None, dataset)


def _track_frames(folder: Path, frames: Optional[Path]):
    candidates = [frames] if frames is not None else [folder / "frames", folder]
    for cand in candidates:
        if cand.is_file():
            return VideoFrames(str(cand), video_frame_count(cand))
        if cand.is_dir():
            images = sorted((p for p in cand.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                            key=_frame_sort_key)
            if images:
                return ImageFiles(tuple(str(p) for p in images))
            if frames is None and cand == folder:
                videos = [p for p in cand.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES]
                if len(videos) == 1:
                    return VideoFrames(str(videos[0]), video_frame_count(videos[0]))
                if len(videos) > 1:
                    raise ValueError(f"{folder}: several videos {sorted(v.name for v in videos)}; "
                                     "name the one the boxes belong to")
    raise FileNotFoundError(f"no frames for {folder}: expected a frames/ folder, images or a video"
                            + (f" at {frames}" if frames is not None else ""))


def _frame_sort_key(path: Path):
    digits = "".join(ch for ch in path.stem if ch.isdigit())
    return (int(digits) if digits else math.inf, path.name)


def _truncate(source, count: int):
    if isinstance(source, ImageFiles):
        return ImageFiles(source.paths[:count])
    return VideoFrames(source.video_path, count)


def _describe(source) -> str:
    return source.video_path if isinstance(source, VideoFrames) else "the image folder"


# --------------------------------------------------------------------------- by name (configs)

DATASET_KINDS = ("got10k", "lasot", "trackingnet", "coco", "otb", "track")


@dataclass(frozen=True)
class DatasetSpec:
    """One training dataset as a recipe names it.

    ``kind``: got10k | lasot | trackingnet | coco | otb | track. ``root``: the dataset folder (for COCO
    the image folder). ``annotations``: COCO's instances json. ``sequence_list``: optional file
    of sequence names (GOT-10k, LaSOT). ``weight``: relative sampling probability.
    """

    kind: str
    root: str
    annotations: Optional[str] = None
    sequence_list: Optional[str] = None
    weight: float = 1.0

    def __post_init__(self):
        if self.kind not in DATASET_KINDS:
            raise ValueError(f"dataset kind {self.kind!r} is not one of {DATASET_KINDS}")
        if self.kind == "coco" and not self.annotations:
            raise ValueError(f"COCO dataset at {self.root} needs 'annotations' (instances json)")
        if self.annotations and self.kind != "coco":
            raise ValueError(f"'annotations' is only for COCO, not {self.kind}")
        if self.sequence_list and self.kind not in ("got10k", "lasot"):
            raise ValueError(f"'sequence_list' is only for got10k and lasot, not {self.kind}")
        if not self.weight > 0:
            raise ValueError(f"dataset weight must be > 0, got {self.weight}")


def open_dataset(spec: DatasetSpec, base_dir: str | os.PathLike | None = None) -> TrackingDataset:
    """Open a dataset described by ``spec``; relative paths are taken from ``base_dir``."""
    def resolve(p: Optional[str]) -> Optional[Path]:
        if p is None:
            return None
        path = Path(os.path.expanduser(p))
        return path if path.is_absolute() or base_dir is None else Path(base_dir) / path

    root = resolve(spec.root)
    if spec.kind == "got10k":
        return read_got10k(root, resolve(spec.sequence_list))
    if spec.kind == "lasot":
        return read_lasot(root, resolve(spec.sequence_list))
    if spec.kind == "trackingnet":
        return read_trackingnet(root)
    if spec.kind == "coco":
        return read_coco(root, resolve(spec.annotations))
    if spec.kind == "otb":
        return read_otb(root)
    return read_track_output(root)
