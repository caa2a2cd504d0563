"""``fartrack make-dataset``: write the generated tracking dataset (GOT-10k layout)."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
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
    parser.add_argument("--cutouts", action="append", default=[], metavar="DIR",
                        help="add the photographic object cut-outs under DIR (PNG with an alpha "
                             "mask, drawings left out) as targets, distractors and occluders, drawn "
                             "with their masks (e.g. /usr/share/tuxpaint/stamps); repeatable "
                             "(default: none)")
    parser.add_argument("--backgrounds", action="append", default=[], metavar="DIR",
                        help="add the photographs under DIR (jpg/png/webp, e.g. desktop wallpapers) "
                             "as backgrounds and occluding patches; repeatable (default: none)")
    parser.add_argument("--debian-sources", action="store_true",
                        help="add the pictures of Debian's tuxpaint-stamps-default (cut-outs), "
                             "plasma-workspace-wallpapers, mate-backgrounds, gnome-backgrounds "
                             "(backgrounds) and opencv-doc (photographs); stops with the apt-get "
                             "command to run when one is missing")
    parser.add_argument("--install-packages", action="store_true",
                        help="with --debian-sources: install the missing packages with apt-get "
                             "(needs root)")
    parser.add_argument("--contact-sheet", metavar="PNG",
                        help="also write a PNG grid of frames with their boxes (default: none)")


def _install(packages: list[str]) -> bool:
    """apt-get install the packages (after apt-get update when the first try fails)."""
    from fartrack_ros.data.photos import apt_install_command

    if hasattr(os, "geteuid") and os.geteuid() != 0:
        print("installing Debian packages needs root: run  sudo " + apt_install_command(packages),
              file=sys.stderr)
        return False
    command = apt_install_command(packages).split()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("running: " + " ".join(command), flush=True)
    if subprocess.run(command, env=env).returncode == 0:
        return True
    print("running: apt-get update, then the install again", flush=True)
    return (subprocess.run(["apt-get", "update"], env=env).returncode == 0
            and subprocess.run(command, env=env).returncode == 0)


def debian_source_dirs(install: bool, root: str = "/") -> dict[str, list[str]] | None:
    """The Debian source folders by role, or None (with a message) when packages are missing."""
    from fartrack_ros.data.photos import apt_install_command, debian_sources

    found, missing = debian_sources(root)
    if missing and install:
        if not _install(missing):
            return None
        found, missing = debian_sources(root)
    if missing:
        print(f"--debian-sources: missing Debian packages {', '.join(missing)}; install them with\n"
              f"  sudo {apt_install_command(missing)}\n"
              f"or run again with --install-packages (as root)", file=sys.stderr)
        return None
    return found


def run(args: argparse.Namespace) -> int:
    from fartrack_ros.data.scenes import GeneratorConfig
    from fartrack_ros.training.generate import contact_sheet, generate_dataset

    if args.install_packages and not args.debian_sources:
        print("--install-packages works with --debian-sources", file=sys.stderr)
        return 2
    cutouts, backgrounds = list(args.cutouts), list(args.backgrounds)
    images, trees = list(args.extra_images), list(args.extra_image_tree)
    if args.debian_sources:
        found = debian_source_dirs(args.install_packages)
        if found is None:
            return 2
        cutouts += found["cutouts"]
        backgrounds += found["backgrounds"]
        images += [d for d in found["images"] if d not in images]
        trees += [d for d in found["image_tree"] if d not in trees]
    cfg = GeneratorConfig(width=args.size[0], height=args.size[1], num_frames=args.frames)
    start = time.perf_counter()
    out = generate_dataset(args.out, args.sequences, seed=args.seed, split=args.split, cfg=cfg,
                           extra_image_dirs=images, extra_image_trees=trees, progress=True,
                           cutout_dirs=cutouts, background_dirs=backgrounds)
    elapsed = time.perf_counter() - start
    print(f"wrote {args.sequences} {args.split} sequences x {args.frames} frames to {out} "
          f"in {elapsed:.1f} s")
    if args.contact_sheet:
        print(f"contact sheet: {contact_sheet(out, args.contact_sheet)}")
    return 0
