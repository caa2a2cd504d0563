"""``fartrack precision``: how far the reduced-precision backends' boxes are from fp32 torch's."""
from __future__ import annotations

import argparse
import json

from fartrack_ros.cli.common import BACKENDS, VARIANTS, add_weights_argument, positive_int

HELP = "accuracy of the reduced-precision backends (torch-bf16, onnxruntime-int8) against fp32 torch (JSON)"

DESCRIPTION = """\
Run each reduced-precision backend and the fp32 'torch' backend on the same sequences and print,
per variant and backend, as one JSON document (each variant's part also on stderr as soon as it
is measured):

closed loop: mean_iou, the mean IoU of the backend's boxes against the fp32 boxes (both trackers
  run on their own), next to its noise floor: the fp32 tracker started from an initial box moved
  by --floor-shift-px against the unshifted one; on annotated sequences ao_vs_ground_truth.
open loop: the backend sees exactly the fp32 tracker's inputs every frame: open_loop_coord_err_px
  (mean coordinate difference in search-crop pixels), argmax_agreement (share of coordinates
  whose most likely bin is the same), open_loop_mean_iou.

The sequences are generated synthetic clips, or with --dataset-root the first --sequences of a
GOT-10k-layout folder such as the generated test split. Without --weights a random model is
used: it tracks nothing and a closed loop amplifies any difference, so its IoU says little about
a trained model; the figure that counts is the trained weights' on real or generated sequences.
"""

EXAMPLES = """\
examples:
  fartrack precision                                       # random model, synthetic clips (quick look)
  fartrack precision --weights W.safetensors --dataset-root data/generated/test \\
      --sequences 24 --backends onnxruntime-int8 torch-bf16
  fartrack precision --variants pico --backends torch-bf16 --frames 100 --threads 1
"""

DEFAULT_BACKENDS = ["onnxruntime-int8", "torch-bf16"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_weights_argument(p, default_text="a random sparse model")
    p.add_argument("--variants", nargs="+", default=None, choices=VARIANTS, metavar="VARIANT",
                   help=f"variants to measure, from {', '.join(VARIANTS)} (default: {' '.join(VARIANTS)})")
    p.add_argument("--backends", nargs="+", default=None, choices=BACKENDS, metavar="BACKEND",
                   help="backends to compare with fp32 torch, from " + ", ".join(BACKENDS)
                        + f" (default: {' '.join(DEFAULT_BACKENDS)})")
    p.add_argument("--dataset-root", metavar="DIR",
                   help="GOT-10k-layout folder to take the sequences from (default: synthetic clips)")
    p.add_argument("--sequences", type=positive_int, default=3, metavar="N",
                   help="number of sequences (default: %(default)s)")
    p.add_argument("--frames", type=positive_int, default=60, metavar="N",
                   help="frames per sequence, at most (default: %(default)s)")
    p.add_argument("--threads", type=positive_int, default=2, metavar="N",
                   help="compute threads (default: %(default)s)")
    p.add_argument("--floor-shift-px", type=float, default=0.5, metavar="PX",
                   help="initial-box shift of the fp32 noise-floor run, pixels (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from fartrack_ros.evaluation.precision import precision_report

    if args.frames < 2:
        raise ValueError(f"--frames must be at least 2 (the first frame initialises), got {args.frames}")
    report = precision_report(args.variants or list(VARIANTS), args.backends or DEFAULT_BACKENDS,
                              weights=args.weights,
                              dataset_root=args.dataset_root, sequences=args.sequences,
                              frames=args.frames, threads=args.threads,
                              floor_shift_px=args.floor_shift_px)
    print(json.dumps(report, indent=2))
    return 0
