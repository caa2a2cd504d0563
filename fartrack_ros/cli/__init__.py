"""The ``fartrack`` command: one subcommand per module in this package.

Each subcommand module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``, and optionally ``EXAMPLES`` (shown at the end of its ``--help``).
Modules are imported only when their subcommand runs, so ``fartrack track`` never imports
rclpy and ``fartrack train`` never imports OpenCV peers.
"""
from __future__ import annotations

import argparse
import importlib
import re
import sys

# subcommand -> module (relative to this package)
SUBCOMMANDS = {
    "track": "track",
    "convert": "convert",
    "export": "export",
    "eval": "eval",
    "bench": "bench",
    "compare": "compare",
    "box-sizes": "box_sizes",
    "precision": "precision",
    "train": "train",
    "make-dataset": "make_dataset",
    "demo": "demo",
    "bench-node": "bench_node",
    "train-score": "train_score",
    "eval-confidence": "eval_confidence",
    "pseudo-label": "pseudo_label",
}


# a value such as -10,20,30,40 (a box starting left of the image): argparse takes it for an option
_NEGATIVE_LIST = re.compile(r"-\d[\d.eE+-]*(,\s*-?[\d.eE+-]+)+")


def _load(name: str):
    return importlib.import_module(f"{__name__}.{SUBCOMMANDS[name]}")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("fartrack")
    except PackageNotFoundError:
        return "unknown (not installed; run from the source tree)"


def join_negative_values(argv: list[str]) -> list[str]:
    """``--box -10,5,40,60`` -> ``--box=-10,5,40,60`` so that argparse takes it as the value."""
    out: list[str] = []
    for token in argv:
        if (out and out[-1].startswith("--") and "=" not in out[-1]
                and _NEGATIVE_LIST.fullmatch(token)):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def build_parser(wanted: str | None = None) -> tuple[argparse.ArgumentParser, dict]:
    """The ``fartrack`` parser and its subcommand parsers by name; only ``wanted`` (all when
    None) gets its options, so that one subcommand does not import the others' modules."""
    parser = argparse.ArgumentParser(
        prog="fartrack", description="FARTrack single-object tracker: track videos, cameras and "
        "bags, run the ROS 2 node demo, train, evaluate, benchmark.",
        epilog="Run 'fartrack COMMAND --help' for a command's options and examples.")
    parser.add_argument("--version", action="version", version=f"fartrack {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parsers = {}
    for name in SUBCOMMANDS:
        if wanted is not None and name != wanted:
            sub.add_parser(name)
            continue
        try:
            mod = _load(name)
        except ImportError as exc:  # a subcommand whose optional deps are missing
            sub.add_parser(name, help=f"(unavailable: {exc})")
            continue
        p = sub.add_parser(name, help=getattr(mod, "HELP", None),
                           description=getattr(mod, "DESCRIPTION", None) or getattr(mod, "HELP", None),
                           epilog=getattr(mod, "EXAMPLES", None),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
        parsers[name] = p
    return parser, parsers


def main(argv: list[str] | None = None) -> int:
    argv = join_negative_values(list(sys.argv[1:] if argv is None else argv))
    parser, _ = build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (OSError, ValueError) as exc:      # missing / unwritable files, bad values
        print(f"fartrack {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fartrack {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
