"""``fartrack train``: run a training recipe (frame / distill / sparse), on one CPU or under torchrun.

    fartrack train --config config/train/frame.yaml
    fartrack train --config config/train/frame.yaml --set optim.epochs=3 --set run.output_dir=runs/try
    fartrack train --config config/train/frame.yaml --resume runs/frame        # newest checkpoint there
    torchrun --nproc_per_node 4 -m fartrack_ros.cli.train --config config/train/frame.yaml
"""
from __future__ import annotations

import argparse
import sys

HELP = "train FARTrack with a stage recipe (frame | distill | sparse)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="recipe YAML (e.g. config/train/frame.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe value, e.g. optim.lr=1e-4 or data.workers=4; repeatable")
    parser.add_argument("--resume", metavar="PATH",
                        help="a *.train_state.pt file or a run folder (its newest checkpoint)")
    parser.add_argument("--output-dir", help="shortcut for --set run.output_dir=DIR")
    parser.add_argument("--init", help="shortcut for --set init.weights=FILE (previous stage's weights)")
    parser.add_argument("--max-steps", type=int, help="shortcut for --set run.max_steps=N")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..training.config import load_train_config
    from ..training.trainer import train

    overrides = list(args.overrides)
    if args.output_dir:
        overrides.append(f"run.output_dir={args.output_dir}")
    if args.init:
        overrides.append(f"init.weights={args.init}")
    if args.max_steps is not None:
        overrides.append(f"run.max_steps={args.max_steps}")
    if args.no_progress:
        overrides.append("run.progress=false")
    cfg = load_train_config(args.config, overrides)
    last = train(cfg, resume=args.resume)
    print(f"last checkpoint: {last}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``torchrun -m fartrack_ros.cli.train``."""
    parser = argparse.ArgumentParser(prog="fartrack train", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"fartrack train: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
