"""`fartrack export`: the two static-shape ONNX graphs (first frame, steady state) of a model."""
from __future__ import annotations

HELP = "export a FARTrack variant to ONNX (445- and 397-token graphs, config in the metadata)"


def add_arguments(p) -> None:
    p.add_argument("--weights", help="official .pth.tar or own .safetensors (default: shipped weights)")
    p.add_argument("--variant", default="pico", choices=["tiny", "nano", "pico"])
    p.add_argument("--out", help="output folder (default: the user cache the onnxruntime "
                                 "backends read, see fartrack_ros.runtime.export.cache_dir)")
    p.add_argument("--int8", action="store_true",
                   help="also write the dynamically quantised int8 graphs")


def run(args) -> int:
    from ..config import depth_for_variant
    from ..model.checkpoint import build_model
    from ..runtime.export import cache_dir, export_model, read_metadata
    from ..runtime.tracker import resolve_weights

    model = build_model(resolve_weights(args.weights), depth=depth_for_variant(args.variant))
    precisions = ("fp32", "int8") if args.int8 else ("fp32",)
    paths = export_model(model, args.out or cache_dir(), precisions=precisions)
    for name, path in paths.items():
        meta = read_metadata(path)
        print(f"{name}: {path} ({meta['template_tokens']} template tokens, "
              f"weights {meta['weights_hash']})")
    return 0
