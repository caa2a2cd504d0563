"""``fartrack make-dataset``: write the generated tracking dataset (GOT-10k layout)."""
from __future__ import annotations

import argparse
import time

HELP = "generate a tracking dataset from packaged photographs (GOT-10k layout)"

EXAMPLES = """\
examples:
  fartrack make-dataset --out data/generated/train --sequences 400 --split train --seed 0
  fartrack make-dataset --out data/generated/test --sequences 24 --split test --seed 1
  fartrack make-dataset --out data/gen_broadtest --sequences 120 --split test --seed 5 \\
      --extra-images /usr/share/doc/opencv-doc/examples/data \\
      --extra-image-tree /usr/share/doc/opencv-doc/opencv4/html
  fartrack make-dataset --out /tmp/peek --sequences 4 --contact-sheet /tmp/peek.png
"""


def _frame_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"frame size must look like 320x240, got {text!r}") from None
    return w, h


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    parser.add_argument("--sequences", type=int, default=100, help="number of sequences (default 100)")
    parser.add_argument("--frames", type=int, default=100, help="frames per sequence (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--split", choices=("train", "test"), default="train",
                        help="train, or test (targets from held-out photographs) (default: train)")
    parser.add_argument("--size", type=_frame_size, default=(320, 240), metavar="WxH",
                        help="frame size (default 320x240)")
    parser.add_argument("--extra-images", action="append", default=[], metavar="DIR",
                        help="add the photographs of DIR (e.g. /usr/share/doc/opencv-doc/examples/data); "
                             "repeatable (default: none)")
    parser.add_argument("--extra-image-tree", action="append", default=[], metavar="DIR",
                        help="add the photograph-like images anywhere under DIR, screenshots and "
                             "diagrams left out (e.g. /usr/share/doc/opencv-doc/opencv4/html); "
                             "repeatable (default: none)")
    parser.add_argument("--contact-sheet", metavar="PNG",
                        help="also write a PNG grid of frames with their boxes (default: none)")


def run(args: argparse.Namespace) -> int:
    from ..training.generate import GeneratorConfig, contact_sheet, generate_dataset

    cfg = GeneratorConfig(width=args.size[0], height=args.size[1], num_frames=args.frames)
    start = time.perf_counter()
    out = generate_dataset(args.out, args.sequences, seed=args.seed, split=args.split, cfg=cfg,
                           extra_image_dirs=args.extra_images,
                           extra_image_trees=args.extra_image_tree, progress=True)
    elapsed = time.perf_counter() - start
    print(f"wrote {args.sequences} {args.split} sequences x {args.frames} frames to {out} "
          f"in {elapsed:.1f} s")
    if args.contact_sheet:
        print(f"contact sheet: {contact_sheet(out, args.contact_sheet)}")
    return 0
