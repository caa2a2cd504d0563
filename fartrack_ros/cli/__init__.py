"""The ``fartrack`` command: one subcommand per module in this package.

Each subcommand module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported only when their subcommand runs, so
``fartrack track`` never imports rclpy and ``fartrack train`` never imports OpenCV peers.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> module (relative to this package)
SUBCOMMANDS = {
    "track": "track",
    "convert": "convert",
    "export": "export",
    "eval": "eval",
    "bench": "bench",
    "train": "train",
    "make-dataset": "make_dataset",
    "demo": "demo",
    "bench-node": "bench_node",
}


def _load(name: str):
    return importlib.import_module(f"{__name__}.{SUBCOMMANDS[name]}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="fartrack", description="FARTrack tracker tools")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    for name in SUBCOMMANDS:
        if wanted is not None and name != wanted:
            sub.add_parser(name)
            continue
        try:
            mod = _load(name)
        except ImportError as exc:  # a subcommand whose optional deps are missing
            sub.add_parser(name, help=f"(unavailable: {exc})")
            continue
        p = sub.add_parser(name, help=getattr(mod, "HELP", None))
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (FileNotFoundError, ValueError) as exc:
        print(f"fartrack {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
