"""Options shared by several subcommands, typed and described the same way everywhere."""
from __future__ import annotations

import argparse

VARIANTS = ("tiny", "nano", "pico")
DEVICES = ("cpu", "cuda")
# fartrack_ros.runtime.backends.known_backends(), spelled out so that --help does not import
# torch (test/cli/test_cli_help.py keeps the two equal)
BACKENDS = ("onnxruntime", "onnxruntime-int8", "reference", "torch", "torch-bf16", "torch-fp16")


def int_at_least(minimum: int):
    """An argparse type: a whole number >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def add_weights_argument(p: argparse.ArgumentParser, default_text: str = "the shipped weights") -> None:
    p.add_argument("--weights", metavar="FILE",
                   help="official FARTrack*.pth.tar checkpoint or a .safetensors file written by "
                        f"fartrack (default: {default_text})")


def add_variant_argument(p: argparse.ArgumentParser, default: str | None = "pico",
                         default_text: str | None = None) -> None:
    p.add_argument("--variant", default=default, choices=VARIANTS,
                   help="model depth: tiny (15 blocks), nano (10) or pico (6) "
                        f"(default: {default_text or default})")


def add_backend_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="auto", choices=("auto",) + BACKENDS,
                   help="inference backend; auto = the fastest one whose boxes equal the reference "
                        "(onnxruntime on cpu, torch on cuda); torch-fp16 is cuda only "
                        "(default: auto)")


def add_device_argument(p: argparse.ArgumentParser, default: str | None = "cpu",
                        default_text: str | None = None) -> None:
    p.add_argument("--device", default=default, choices=DEVICES,
                   help=f"where the model runs (default: {default_text or default})")


def add_tracker_arguments(p: argparse.ArgumentParser) -> None:
    """Options of every command that builds a FARTrack tracker in this process."""
    add_weights_argument(p)
    add_variant_argument(p)
    add_backend_argument(p)
    add_device_argument(p)
    p.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="CPU threads for inference (default: torch's default, one per core)")


def tracker_config_from_args(args):
    from fartrack_ros.config import TrackerConfig
    return TrackerConfig(weights=args.weights, variant=args.variant, backend=args.backend,
                         device=args.device, threads=args.threads)
