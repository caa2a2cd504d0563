"""`fartrack convert`: official .pth.tar -> the project's safetensors (weights + config), or the
project's safetensors -> the official .pth.tar layout (runs in the official code)."""
from __future__ import annotations

HELP = "convert an official FARTrack .pth.tar checkpoint to the project's safetensors format"

DESCRIPTION = """\
Convert an official FARTrack checkpoint (FARTrack_*.pth.tar, FARTrackDistill_*.pth.tar or
FARTrackSparse_ep0015.pth.tar from the authors' release) to a .safetensors file: the same
weights with the model config in its metadata, no pickle. Both files give identical boxes;
--weights and the node's weights parameter take either. A .pth.tar / .pth destination writes
the other way: the project's weights in the official layout."""

EXAMPLES = """\
examples:
  fartrack convert FARTrackSparse_ep0015.pth.tar fartrack_sparse.safetensors
  fartrack track --video clip.mp4 --box 10,20,40,60 --weights fartrack_sparse.safetensors
"""

OFFICIAL_SUFFIXES = (".pth.tar", ".pth")


def add_arguments(p) -> None:
    p.add_argument("src", help="official checkpoint, e.g. FARTrackSparse_ep0015.pth.tar")
    p.add_argument("dst", help="output file: .safetensors (project format), or .pth.tar / .pth "
                               "(official layout); its folder is created")


def run(args) -> int:
    from fartrack_ros.model.checkpoint import convert_official, export_official, load_weights

    dst = str(args.dst)
    if dst.endswith(OFFICIAL_SUFFIXES):
        out = export_official(args.src, dst)
        _, cfg, meta = load_weights(out)
        print(f"wrote {out} (official layout, net_type {meta.get('net_type')}, "
              f"{cfg.total_blocks} blocks, from {args.src})")
        return 0
    if not dst.endswith(".safetensors"):
        raise ValueError(f"output must end in .safetensors (project format) or "
                         f".pth.tar / .pth (official layout), got {args.dst}")
    out = convert_official(args.src, args.dst)
    _, cfg, meta = load_weights(out)
    print(f"wrote {out} (stage {cfg.stage}, {cfg.total_blocks} blocks, from {meta.get('converted_from')})")
    return 0
