#!/usr/bin/env python3
"""Make test/model/data/official_video.npz: the official FARTrack sparse tracker, free-running on
real video, with this project's weights converted to the official layout.

The official code is not part of this repository and nothing of it is copied here: it is imported
from a checkout given on the command line (``--official-root``, the ``MIV-XJTU/FARTrack``
repository), with timm 0.5.4 and easydict 1.9 on ``--site`` (``pip install --target DIR --no-deps
timm==0.5.4 easydict==1.9``). Runs on CPU. How it is run without editing any official file:

- ``.cuda()`` of tensors and modules returns the object itself (CPU run);
- import-only stubs for modules the inference path imports but never calls (torchvision, the mask
  decoder / head layers, ce_utils, vis_utils, visdom; ``lib.train.data``'s ``__init__``, which
  imports the training loader, is bypassed so ``processing_utils`` loads alone);
- Nano / Pico: the network's ``blocks`` / ``extension`` lists are cut to the first 10 / 6 blocks
  and no extension block after the strict load (what the official commented-out ``break`` lines
  do); Tiny runs all 12 + 3;
- the tracker module's ``sample_target`` is wrapped to hash every crop it returns.

Stored per run (video x variant): the official state after every frame (row 0 = the initial
box, float64), an 8-byte BLAKE2b hash of every template crop (initial one first) and search
crop (uint8 pixels), the initial box and frame range, and a hash of the decoded frames (so the
test can tell a different video decoder from a different tracker). docs/parity.md says how to
regenerate it.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.abc
import importlib.machinery
import sys
import tempfile
import types
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]

VIDEO_DIR = Path("/usr/share/doc/opencv-doc/examples/data")
# name -> (file, first frame, number of frames, initial box xywh)
RUNS = {
    "vtest": ("vtest.avi", 0, 400, (639.0, 240.0, 46.0, 82.0)),
    "megamind": ("Megamind.avi", 10, 200, (255.0, 165.0, 145.0, 150.0)),
}
VARIANT_DEPTHS = {"tiny": 15, "nano": 10, "pico": 6}


def crop_hash(crop: np.ndarray) -> np.uint64:
    data = np.ascontiguousarray(crop)
    digest = hashlib.blake2b(data.tobytes() + repr(data.shape).encode(), digest_size=8).digest()
    return np.frombuffer(digest, dtype="<u8")[0]


def frames_hash(frames: list[np.ndarray]) -> np.uint64:
    h = hashlib.blake2b(digest_size=8)
    for f in frames:
        h.update(np.ascontiguousarray(f).tobytes())
    return np.frombuffer(h.digest(), dtype="<u8")[0]


def weights_identity(data: bytes) -> dict[str, np.ndarray]:
    """SHA-256 of the weights file and its git blob id (to find it in the history once the
    shipped file has been replaced)."""
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    return {"weights_sha256": np.asarray(hashlib.sha256(data).hexdigest()),
            "weights_git_blob": np.asarray(blob)}


def read_frames(name: str, video_dir: Path = VIDEO_DIR) -> list[np.ndarray]:
    """RGB uint8 frames of one run (the official evaluation converts OpenCV's BGR to RGB)."""
    file, first, count, _ = RUNS[name]
    cap = cv2.VideoCapture(str(video_dir / file))
    frames = []
    while len(frames) < first + count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    if len(frames) < first + count:
        raise FileNotFoundError(f"{video_dir / file}: expected {first + count} frames, "
                                f"read {len(frames)}")
    return frames[first:]


# --------------------------------------------------------------------------- official harness

class _Inert(type):
    """Classes whose every attribute is another inert class (e.g. ``InterpolationMode.NEAREST``)."""

    def __getattr__(cls, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Inert(attr, (), {"__init__": lambda self, *a, **k: None})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Empty modules (any attribute is an inert class) for the given module prefixes."""

    def __init__(self, prefixes):
        self.prefixes = tuple(prefixes)

    def find_spec(self, name, path=None, target=None):
        if any(name == p or name.startswith(p + ".") for p in self.prefixes) \
                and name not in sys.modules:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []

        def __getattr__(attr, _name=spec.name):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return _Inert(attr, (), {"__init__": lambda self, *a, **k: None})
        module.__getattr__ = __getattr__
        module.__version__ = "0.0.0+stub"      # lib/utils/misc.py parses torchvision's version
        return module

    def exec_module(self, module):
        pass


def load_official(official_root: Path, site: list[Path]):
    for p in reversed([official_root, *site]):
        sys.path.insert(0, str(p))
    sys.meta_path.insert(0, _StubFinder([
        "torchvision", "lib.models.layers.mask_decoder", "lib.models.layers.head",
        "lib.utils.ce_utils", "lib.test.tracker.vis_utils", "lib.vis.visdom_cus"]))
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    # lib/train/data/__init__.py imports the training loader; load only the package's path
    import lib.train  # noqa: F401
    package = types.ModuleType("lib.train.data")
    package.__path__ = [str(official_root / "lib" / "train" / "data")]
    sys.modules["lib.train.data"] = package
    from lib.config.fartrack_sparse import config as official_config
    import lib.test.tracker.fartrack_sparse as official_tracker
    return official_config, official_tracker


def make_tracker(official_config, official_tracker, official_root: Path, checkpoint: Path,
                 depth: int):
    cfg = official_config.cfg
    official_config.update_config_from_file(
        str(official_root / "experiments" / "fartrack_sparse" / "fartrack_sparse_224_full.yaml"))
    cfg.MODEL.PRETRAIN_PTH = str(checkpoint)
    params = types.SimpleNamespace(
        cfg=cfg, template_factor=cfg.TEST.TEMPLATE_FACTOR, template_size=cfg.TEST.TEMPLATE_SIZE,
        search_factor=cfg.TEST.SEARCH_FACTOR, search_size=cfg.TEST.SEARCH_SIZE,
        checkpoint=str(checkpoint), debug=False, save_all_boxes=False)
    tracker = official_tracker.FARTrackSparse(params, "video")
    backbone = tracker.network.backbone
    n_blocks = len(backbone.blocks)
    backbone.blocks = backbone.blocks[:min(depth, n_blocks)]
    backbone.extension = backbone.extension[:max(0, depth - n_blocks)]
    return tracker


def run_official(official_tracker, tracker, frames, box):
    crops = {"template": [], "search": []}
    original = official_tracker.sample_target

    def recording_sample_target(im, target_bb, search_area_factor, output_sz=None, mask=None):
        result = original(im, target_bb, search_area_factor, output_sz=output_sz, mask=mask)
        kind = "search" if output_sz == tracker.params.search_size else "template"
        crops[kind].append(crop_hash(result[0]))
        return result

    official_tracker.sample_target = recording_sample_target
    try:
        with torch.no_grad():
            tracker.initialize(frames[0], {"init_bbox": list(box)}, "video")
            boxes = [list(box)]
            for k, frame in enumerate(frames[1:], 1):
                boxes.append(list(tracker.track(frame)["target_bbox"]))
                if k % 100 == 0:
                    print(f"  frame {k}/{len(frames) - 1}", flush=True)
    finally:
        official_tracker.sample_target = original
    return (np.asarray(boxes, dtype=np.float64), np.asarray(crops["template"], dtype="<u8"),
            np.asarray(crops["search"], dtype="<u8"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--official-root", type=Path, required=True,
                    help="checkout of MIV-XJTU/FARTrack (its lib/ and experiments/)")
    ap.add_argument("--site", type=Path, action="append", default=[],
                    help="directory with timm 0.5.4 and easydict 1.9 (repeatable)")
    ap.add_argument("--weights", type=Path, default=None,
                    help="project weights (default: the shipped file); converted to the official "
                         "layout with checkpoint.export_official")
    ap.add_argument("--out", type=Path, default=ROOT / "test" / "model" / "data" / "official_video.npz")
    ap.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    ap.add_argument("--variants", nargs="+", default=list(VARIANT_DEPTHS), choices=list(VARIANT_DEPTHS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-frames", type=int, default=None, help="shorter runs (smoke test)")
    args = ap.parse_args()

    from fartrack_ros.model.checkpoint import export_official
    from fartrack_ros.weights import default_weights_path

    torch.set_num_threads(args.threads)
    weights = args.weights or Path(default_weights_path())
    official_config, official_tracker = load_official(args.official_root.resolve(), args.site)
    out = weights_identity(weights.read_bytes())
    # bit-exact results hold for one set of CPU kernels: record which ones made the fixture
    out["torch_version"] = np.asarray(torch.__version__)
    out["cpu_capability"] = np.asarray(torch.backends.cpu.get_cpu_capability())
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = export_official(weights, Path(tmp) / "FARTrackSparse_ep0015.pth.tar")
        for name in args.runs:
            frames = read_frames(name)[:args.max_frames]
            box = RUNS[name][3]
            out[f"{name}_frames_hash"] = np.asarray(frames_hash(frames), dtype="<u8")
            for variant in args.variants:
                print(f"{name} {variant}: {len(frames)} frames", flush=True)
                tracker = make_tracker(official_config, official_tracker, args.official_root.resolve(),
                                       checkpoint, VARIANT_DEPTHS[variant])
                boxes, templates, searches = run_official(official_tracker, tracker, frames, box)
                out[f"{name}_{variant}_boxes"] = boxes
                out[f"{name}_{variant}_template_hashes"] = templates
                out[f"{name}_{variant}_search_hashes"] = searches
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
