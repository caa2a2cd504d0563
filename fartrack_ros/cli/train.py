"""``fartrack train``: run a training recipe (frame / distill / sparse), on one CPU or under torchrun."""
from __future__ import annotations

import argparse
import sys

from fartrack_ros.cli.common import positive_int

HELP = "train FARTrack with a stage recipe (frame | distill | sparse)"

DESCRIPTION = """\
Train one of the paper's three stages from a YAML recipe (config/train/): frame-level,
distillation (every exit 5..15 learns from the next deeper one) or sequence-level sparse
training. Every recipe value can be overridden with --set; unknown keys are errors. The run
folder gets checkpoints, the recipe as run and a log; --resume continues where it stopped.
Data layouts, sampling and how this differs from the official trainer: docs/training.md."""

EXAMPLES = """\
examples:
  fartrack train --config config/train/frame.yaml
  fartrack train --config config/train/frame.yaml --set optim.epochs=3 --output-dir runs/try
  fartrack train --config config/train/distill.yaml --init runs/try/last.safetensors
  fartrack train --config config/train/frame.yaml --resume runs/try     # newest checkpoint there
  torchrun --nproc_per_node 4 -m fartrack_ros.cli.train --config config/train/frame.yaml
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="YAML",
                        help="recipe file, e.g. config/train/frame.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe value, e.g. optim.lr=1e-4 or data.workers=4; "
                             "repeatable (default: none)")
    parser.add_argument("--resume", metavar="PATH",
                        help="a *.train_state.pt file or a run folder (its newest checkpoint) "
                             "(default: start afresh)")
    parser.add_argument("--output-dir", metavar="DIR",
                        help="shortcut for --set run.output_dir=DIR (default: the recipe's)")
    parser.add_argument("--init", metavar="FILE",
                        help="shortcut for --set init.weights=FILE, e.g. the previous stage's "
                             "weights (default: the recipe's)")
    parser.add_argument("--max-steps", type=positive_int, metavar="N",
                        help="shortcut for --set run.max_steps=N (default: the recipe's)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (default: shown)")


def run(args: argparse.Namespace) -> int:
    from fartrack_ros.training.config import load_train_config
    from fartrack_ros.training.trainer import train

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
    parser = argparse.ArgumentParser(prog="fartrack train", description=DESCRIPTION, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"fartrack train: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
