"""Training the learned confidence head (``fartrack_ros.model.score_head``) with the backbone
frozen.

Targets come from running the tracker closed-loop (official behaviour: no head, the template
bank updated every frame) over annotated sequences: each frame gives the head's input features
and the IoU of the tracker's box with the ground truth (0 when the target is absent), so the
drift the head learns to see is the tracker's own. Two more kinds of samples make it see what
it must judge in use:

* drift injection: now and then the tracker's state is moved onto the background (IoU < 0.1
  with the target) and tracking goes on from there, as after a real drift;
* off-centre crops: now and then one more forward on a crop centred elsewhere (near the target
  or anywhere in the frame) is scored without changing the tracker, as re-acquisition does.

Sources: the generated sequences of ``data.scenes`` made to need a confidence (targets
leaving and re-entering the frame, occluders, look-alike distractors) and, when given, real
annotated video (OTB layout, e.g. the real ``train`` split). The fit is a few seconds on the
collected samples; the collection (closed-loop tracking) is the cost.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from fartrack_ros.core.boxes import iou_xywh
from fartrack_ros.core.confidence_features import NUM_FEATURES
from fartrack_ros.model.score_head import ScoreHead


@dataclass
class Samples:
    features: list = field(default_factory=list)
    iou: list = field(default_factory=list)
    source: list = field(default_factory=list)

    def add(self, features: np.ndarray, iou: float, source: str) -> None:
        self.features.append(np.asarray(features, dtype=np.float32))
        self.iou.append(float(iou))
        self.source.append(source)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.stack(self.features) if self.features else np.zeros((0, NUM_FEATURES), np.float32),
                np.asarray(self.iou, dtype=np.float32), np.asarray(self.source))


def _iou(box, gt, visible: bool) -> float:
    return float(iou_xywh(box, gt)) if visible else 0.0


def _random_box_away(rng: np.random.Generator, size: tuple[float, float], gt, visible: bool,
                     height: int, width: int) -> Optional[list[float]]:
    w, h = size
    w, h = min(w, width - 1.0), min(h, height - 1.0)
    for _ in range(20):
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        if not visible or iou_xywh((x, y, w, h), gt) < 0.1:
            return [float(x), float(y), float(w), float(h)]
    return None


def collect_sequence(tracker, read_frame: Callable[[int], np.ndarray], boxes: np.ndarray,
                     visible: np.ndarray, source: str, samples: Samples,
                     rng: np.random.Generator, drift_rate: float = 0.0,
                     crop_rate: float = 0.25) -> None:
    """Track one sequence closed-loop from its first box and add its samples.

    ``drift_rate``: per-frame probability of moving the state onto the background;
    ``crop_rate``: per-frame probability of scoring one more, off-centre crop."""
    first = read_frame(0)
    tracker.initialize(first, boxes[0])
    for i in range(1, len(boxes)):
        image = read_frame(i)
        result = tracker.track(image)
        samples.add(tracker.last_features, _iou(result.box_xywh, boxes[i], visible[i]), source)
        height, width = image.shape[:2]
        if rng.random() < crop_rate:
            size = tuple(boxes[i][2:]) if visible[i] else tuple(result.box_xywh[2:])
            if rng.random() < 0.5 and visible[i]:             # near the target, off-centre
                side = tracker.cfg.search_factor * math.sqrt(size[0] * size[1])
                cx = boxes[i][0] + size[0] / 2 + rng.uniform(-0.4, 0.4) * side
                cy = boxes[i][1] + size[1] / 2 + rng.uniform(-0.4, 0.4) * side
                crop = [cx - size[0] / 2, cy - size[1] / 2, size[0], size[1]]
            else:
                crop = _random_box_away(rng, size, boxes[i], visible[i], height, width)
            if crop is not None:
                _, box, _, features, _ = tracker.forward_at(image, crop)
                samples.add(features, _iou(box, boxes[i], visible[i]), source + "/crop")
        if drift_rate and rng.random() < drift_rate:
            away = _random_box_away(rng, tuple(result.box_xywh[2:]), boxes[i], visible[i],
                                    height, width)
            if away is not None:
                tracker.state = away


def generated_sequences(count: int, frames: int, seed: int, split: str = "train"):
    """Generated sequences built to need a confidence: more exits, distractors and occluders
    than the default generator. Yields (name, frames list, boxes, visible)."""
    from fartrack_ros.data.photos import packaged_images
    from fartrack_ros.data.scenes import GeneratorConfig, generate_sequence
    cfg = GeneratorConfig(num_frames=frames, exit_probability=0.3, max_distractors=3,
                          max_occluders=3)
    images = packaged_images()
    for index in range(count):
        imgs, ann = generate_sequence(cfg, images, seed, split, index)
        yield f"gen-{split}-{index:04d}", imgs, ann.boxes_xywh, ann.absence == 0


def fit_head(features: np.ndarray, iou: np.ndarray, weights: Optional[np.ndarray] = None,
             hidden: int = 32, steps: int = 1500, seed: int = 0) -> ScoreHead:
    """Full-batch Adam on the soft-label binary cross-entropy (IoU as the target)."""
    torch.manual_seed(seed)
    x = torch.from_numpy(np.asarray(features, dtype=np.float32))
    y = torch.from_numpy(np.clip(np.asarray(iou, dtype=np.float32), 0.0, 1.0))
    wt = torch.ones_like(y) if weights is None else torch.from_numpy(
        np.asarray(weights, dtype=np.float32))
    wt = wt / wt.sum()
    head = ScoreHead(x.shape[1], hidden)
    with torch.no_grad():
        head.feature_mean.copy_(x.mean(0))
        head.feature_std.copy_(x.std(0).clamp_min(1e-4))
    opt = torch.optim.Adam(head.parameters(), lr=1e-2, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        opt.zero_grad()
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(
            head.logit(x), y, reduction="none") * wt).sum()
        loss.backward()
        opt.step()
        sched.step()
    head.invalidate_cache()
    return head.eval()


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> Optional[float]:
    """Area under the ROC curve (ties count one half); None without both classes."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):                                # average ranks of ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def train_score_head(weights: str | Path, out: str | Path, real_roots: Sequence[str | Path] = (),
                     generated: int = 48, frames: int = 120, seed: int = 0,
                     variant: str = "pico", threads: Optional[int] = None,
                     log: Callable[[str], None] = print) -> dict:
    """Collect samples with ``weights`` (frozen), fit the head, write ``out`` (weights + head).

    Returns the training summary stored with the head."""
    from fartrack_ros.config import TrackerConfig
    from fartrack_ros.model.score_head import write_weights_with_head
    from fartrack_ros.runtime.tracker import build_tracker
    from fartrack_ros.data.training_sets import read_otb

    started = time.perf_counter()
    tracker = build_tracker(TrackerConfig(weights=str(weights), variant=variant, threads=threads))
    tracker.score_head = None                 # collect with the official behaviour
    rng = np.random.default_rng(seed)
    samples = Samples()
    for root in real_roots:
        for seq in read_otb(root):
            for drift in (0.0, 0.02):         # plain, then with drift injection
                collect_sequence(tracker, seq.read_frame_rgb, seq.boxes_xywh, seq.visible,
                                 "real", samples, rng, drift_rate=drift)
            log(f"  real {seq.name}: {len(seq)} frames, {len(samples.iou)} samples so far "
                f"({time.perf_counter() - started:.0f} s)")
    for k, (name, imgs, boxes, visible) in enumerate(generated_sequences(generated, frames, seed)):
        collect_sequence(tracker, imgs.__getitem__, boxes, visible, "generated", samples, rng,
                         drift_rate=0.01 if k % 2 else 0.0)
        if (k + 1) % 8 == 0 or k + 1 == generated:
            log(f"  generated {k + 1}/{generated}: {len(samples.iou)} samples so far "
                f"({time.perf_counter() - started:.0f} s)")
    collected = time.perf_counter() - started
    x, y, src = samples.arrays()
    if len(y) < 50:
        raise ValueError(f"only {len(y)} training samples collected; give more sequences")
    # each source (real, generated) weighs as much in total as the other
    kinds = np.array([s.split("/")[0] for s in src])
    wt = np.ones(len(y), dtype=np.float32)
    for kind in np.unique(kinds):
        wt[kinds == kind] = 1.0 / (kinds == kind).sum()
    head = fit_head(x, y, wt, seed=seed)
    with torch.no_grad():
        pred = head(torch.from_numpy(x)).numpy()
    decided = (y >= 0.5) | (y < 0.1)
    info = {"weights": Path(weights).name, "variant": variant, "samples": int(len(y)),
            "samples_real": int((kinds == "real").sum()),
            "samples_generated": int((kinds == "generated").sum()),
            "real_roots": [str(r) for r in real_roots], "generated_sequences": generated,
            "frames_per_generated_sequence": frames, "seed": seed,
            "train_auc": roc_auc(pred[decided], y[decided] >= 0.5),
            "train_auc_heuristic": roc_auc(x[decided, 20], y[decided] >= 0.5),
            "collect_seconds": round(collected, 1),
            "total_seconds": round(time.perf_counter() - started, 1)}
    write_weights_with_head(weights, out, head, info)
    return info
