"""A generated tracking dataset made of real photographs, written in the GOT-10k layout.

The scenes are drawn and rendered by ``fartrack_ros.data.scenes`` from the pictures of
``fartrack_ros.data.photos``; this module writes them. Per sequence folder:

* ``00000001.jpg`` ...: the frames (JPEG, ``GeneratorConfig.jpeg_quality``).
* ``groundtruth.txt``: the box ``x,y,w,h`` of the visible part of the target (``0,0,0,0``
  when no target pixel is visible); ``data.scenes`` says exactly what is counted.
* ``absence.label``: 1 when no target pixel is visible (fully occluded or out of the frame).
* ``cover.label``: the visible fraction of the whole target in GOT-10k's 9 levels (0 = none,
  8 = all of it).
* ``meta_info.ini``: the generator, seed, split, index, resolution and the scene's sources.

Beside them ``list.txt`` and ``generator.json`` (everything needed to regenerate the set).
The same seed gives byte-identical ground truth and frames (see ``data.scenes``).
"""
from __future__ import annotations

import configparser
import io
import json
import os
from pathlib import Path
from typing import Iterable, Sequence as Seq

import cv2
import numpy as np

from fartrack_ros.data.photos import background_images, cutout_images, folder_images, packaged_images, tree_images
from fartrack_ros.data.scenes import SPLITS, GeneratorConfig, SequenceAnnotation, generate_sequence

GENERATOR_VERSION = 1


def format_box_line(box: Iterable[float]) -> str:
    return ",".join(f"{v:.4f}" for v in box)


def write_sequence(folder: Path, frames: Seq[np.ndarray], ann: SequenceAnnotation,
                   meta: dict, jpeg_quality: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    params = [int(cv2.IMWRITE_JPEG_QUALITY), jpeg_quality]
    for i, frame in enumerate(frames, 1):
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise ValueError(f"JPEG encoding failed for frame {i} of {folder}")
        (folder / f"{i:08d}.jpg").write_bytes(data.tobytes())
    (folder / "groundtruth.txt").write_text("".join(format_box_line(b) + "\n" for b in ann.boxes_xywh))
    (folder / "absence.label").write_text("".join(f"{a}\n" for a in ann.absence))
    (folder / "cover.label").write_text("".join(f"{c}\n" for c in ann.cover))
    ini = configparser.ConfigParser()
    ini["METAINFO"] = {k: str(v) for k, v in meta.items()}
    buf = io.StringIO()
    ini.write(buf)
    (folder / "meta_info.ini").write_text(buf.getvalue())


def sequence_name(split: str, index: int) -> str:
    return f"GEN_{split}_{index + 1:06d}"


def generate_dataset(out_dir: str | os.PathLike, num_sequences: int, seed: int = 0,
                     split: str = "train", cfg: GeneratorConfig = GeneratorConfig(),
                     extra_image_dirs: Seq[str] = (), extra_image_trees: Seq[str] = (),
                     progress: bool = False, cutout_dirs: Seq[str] = (),
                     background_dirs: Seq[str] = ()) -> Path:
    """Write ``num_sequences`` sequences of ``split`` to ``out_dir`` in the GOT-10k layout.

    ``cutout_dirs``: folders of RGBA object cut-outs (``cutout_images``); ``background_dirs``:
    folders of background photographs (``background_images``).

    Also writes ``generator.json`` with everything needed to regenerate the set.
    """
    if num_sequences < 1:
        raise ValueError(f"num_sequences must be >= 1, got {num_sequences}")
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of {sorted(SPLITS)}")
    images = packaged_images()
    for folder in extra_image_dirs:
        images += folder_images(folder)
    for folder in extra_image_trees:
        images += tree_images(folder)
    for folder in background_dirs:
        images += background_images(folder)
    for folder in cutout_dirs:
        found = cutout_images(folder)
        if not found:
            raise ValueError(f"no usable cut-out (PNG with an alpha mask, not a drawing) in {folder}")
        images += found
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = [sequence_name(split, i) for i in range(num_sequences)]
    indices: Iterable[int] = range(num_sequences)
    if progress:
        from tqdm import tqdm
        indices = tqdm(indices, desc=f"generating {split}", unit="seq")
    for i in indices:
        frames, ann = generate_sequence(cfg, images, seed, split, i)
        meta = {"generator": f"fartrack_ros.training.generate v{GENERATOR_VERSION}", "seed": seed,
                "split": split, "index": i, "resolution": f"({cfg.width}, {cfg.height})",
                "anno_fps": "30Hz", **ann.meta}
        write_sequence(out / names[i], frames, ann, meta, cfg.jpeg_quality)
    (out / "list.txt").write_text("".join(n + "\n" for n in names))
    info = {"generator_version": GENERATOR_VERSION, "seed": seed, "split": split,
            "num_sequences": num_sequences, "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
            "images": [{"name": im.name, "pool": im.pool,
                        **({"kind": im.kind} if im.kind != "photo" else {})} for im in images]}
    (out / "generator.json").write_text(json.dumps(info, indent=1) + "\n")
    return out


def contact_sheet(folder: str | os.PathLike, out_png: str | os.PathLike, sequences: int = 6,
                  frames_per_sequence: int = 6, tile_width: int = 200) -> Path:
    """A PNG grid of frames with their ground-truth boxes drawn (green; red = absent)."""
    from fartrack_ros.data.training_sets import read_got10k

    ds = read_got10k(folder)
    rows = []
    for seq in list(ds)[:sequences]:
        idx = np.linspace(0, len(seq) - 1, frames_per_sequence).round().astype(int)
        tiles = []
        for i in idx:
            img = cv2.cvtColor(seq.read_frame_rgb(int(i)), cv2.COLOR_RGB2BGR)
            x, y, w, h = seq.boxes_xywh[i]
            if seq.visible[i]:
                cv2.rectangle(img, (int(x), int(y)), (int(x + w - 1), int(y + h - 1)), (0, 255, 0), 1)
            else:
                cv2.putText(img, "absent", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1)
            scale = tile_width / img.shape[1]
            tiles.append(cv2.resize(img, (tile_width, int(round(img.shape[0] * scale)))))
        rows.append(np.hstack(tiles))
    out_png = Path(out_png)
    if not cv2.imwrite(str(out_png), np.vstack(rows)):
        raise ValueError(f"cannot write {out_png}")
    return out_png
