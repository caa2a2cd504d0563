"""``fartrack train-score``: train the learned confidence head for a weights file (backbone
frozen) and write it with the weights (same safetensors file, ``score_head.*`` tensors)."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HELP = "train the learned confidence head for a weights file and store it with the weights"
DEFAULT_REAL_TRAIN = "data/real/train"


def default_output(weights: Path) -> Path:
    """Own .safetensors: the same file; an official .pth.tar: ``<name>.safetensors`` beside it
    (the converted weights plus the head)."""
    if weights.suffix == ".safetensors":
        return weights
    name = weights.name
    for suffix in (".pth.tar", ".pth", ".tar"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return weights.with_name(name + ".safetensors")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", required=True,
                        help="official .pth.tar or own .safetensors (its model stays frozen)")
    parser.add_argument("--out", help="output .safetensors (default: the weights file itself, "
                                      "or <name>.safetensors beside an official .pth.tar)")
    parser.add_argument("--real-train", action="append", default=None, metavar="DIR",
                        help="real annotated video in OTB layout (<Seq>/img + "
                             f"groundtruth_rect.txt); repeatable; default {DEFAULT_REAL_TRAIN} "
                             "when it exists")
    parser.add_argument("--generated", type=int, default=48,
                        help="generated sequences (exits, occluders, distractors; default 48)")
    parser.add_argument("--frames", type=int, default=120,
                        help="frames per generated sequence (default 120)")
    parser.add_argument("--variant", default="pico", choices=("tiny", "nano", "pico"),
                        help="depth the head is trained for (default pico)")
    parser.add_argument("--threads", type=int, default=None, help="inference threads")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from fartrack_ros.training.score_head import train_score_head

    weights = Path(args.weights)
    if not weights.is_file():
        raise FileNotFoundError(f"weights file not found: {weights}")
    out = Path(args.out) if args.out else default_output(weights)
    roots = args.real_train
    if roots is None:
        roots = [DEFAULT_REAL_TRAIN] if Path(DEFAULT_REAL_TRAIN).is_dir() else []
        if not roots:
            print(f"note: {DEFAULT_REAL_TRAIN} not found; training on generated sequences only")
    started = time.perf_counter()
    info = train_score_head(weights, out, real_roots=roots, generated=args.generated,
                            frames=args.frames, seed=args.seed, variant=args.variant,
                            threads=args.threads, log=lambda m: print(m, flush=True))
    print(json.dumps(info, indent=1))
    print(f"wrote {out} (score head trained in {time.perf_counter() - started:.0f} s)")
    return 0
