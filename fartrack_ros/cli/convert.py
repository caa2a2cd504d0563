"""`fartrack convert`: official .pth.tar -> the project's safetensors (weights + config)."""
from __future__ import annotations

HELP = "convert an official FARTrack .pth.tar checkpoint to the project's safetensors format"


def add_arguments(p) -> None:
    p.add_argument("src", help="official checkpoint, e.g. FARTrackSparse_ep0015.pth.tar")
    p.add_argument("dst", help="output .safetensors file")


def run(args) -> int:
    from ..model.checkpoint import convert_official, load_weights

    if not str(args.dst).endswith(".safetensors"):
        raise ValueError(f"output must end in .safetensors, got {args.dst}")
    out = convert_official(args.src, args.dst)
    _, cfg, meta = load_weights(out)
    print(f"wrote {out} (stage {cfg.stage}, {cfg.total_blocks} blocks, from {meta.get('converted_from')})")
    return 0
