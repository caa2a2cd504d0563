"""`fartrack export`: the two static-shape ONNX graphs (first frame, steady state) of a model."""
from __future__ import annotations

from fartrack_ros.cli.common import add_variant_argument, add_weights_argument

HELP = "export a FARTrack variant to ONNX (445- and 397-token graphs, config in the metadata)"

DESCRIPTION = """\
Export the two static-shape ONNX graphs of a variant (first frame: 445 tokens; every later
frame: 397) with the model config and the weights hash in their metadata. The onnxruntime
backends export on first use into the user cache by themselves; run this to prepare the cache
ahead (e.g. on a robot before it goes offline) or to get the graphs for another runtime."""

EXAMPLES = """\
examples:
  fartrack export                                       # shipped weights, Pico, into the cache
  fartrack export --weights FARTrackSparse_ep0015.pth.tar --variant tiny --int8
  fartrack export --variant nano --out out/onnx
"""


def add_arguments(p) -> None:
    add_weights_argument(p)
    add_variant_argument(p)
    p.add_argument("--out", metavar="DIR",
                   help="output folder (default: the user cache that the onnxruntime backends "
                        "read: $FARTRACK_CACHE/onnx, else $XDG_CACHE_HOME/fartrack_ros/onnx, else "
                        "~/.cache/fartrack_ros/onnx)")
    p.add_argument("--int8", action="store_true",
                   help="also write the dynamically quantised int8 graphs (default: fp32 only)")


def run(args) -> int:
    from fartrack_ros.config import depth_for_variant
    from fartrack_ros.model.checkpoint import build_model
    from fartrack_ros.runtime.export import cache_dir, export_model, read_metadata
    from fartrack_ros.runtime.tracker import resolve_weights

    model = build_model(resolve_weights(args.weights), depth=depth_for_variant(args.variant))
    precisions = ("fp32", "int8") if args.int8 else ("fp32",)
    paths = export_model(model, args.out or cache_dir(), precisions=precisions)
    for name, path in paths.items():
        meta = read_metadata(path)
        print(f"{name}: {path} ({meta['template_tokens']} template tokens, "
              f"weights {meta['weights_hash']})")
    return 0
