"""How the tracker's confidence relates to what happens: is the score low when the target is gone?

For every tracked frame of a dataset with per-frame visibility (GOT-10k layout with
``absence.label``, e.g. the generated test split), the frame is put in one of three groups:
target visible and box correct (IoU >= 0.5), target visible but box wrong, target absent
(fully occluded or out of frame). The report gives the mean score and the share of frames the
tracker called "lost" in each group.
"""
from __future__ import annotations

from typing import Callable, Iterable

import cv2
import numpy as np

from ..core.boxes import iou_xywh
from ..core.types import LOST
from .datasets import EvalSequence

GROUPS = ("visible_correct", "visible_wrong", "absent")


def score_groups(tracker_factory: Callable[[], object],
                 sequences: Iterable[EvalSequence]) -> dict:
    scores = {g: [] for g in GROUPS}
    lost = {g: [] for g in GROUPS}
    tracker = tracker_factory()          # initialize() resets every per-target state
    for seq in sequences:
        if not seq.has_full_ground_truth or seq.target_visible is None:
            raise ValueError(f"sequence {seq.name} lacks per-frame ground truth and visibility")
        for index, path in enumerate(seq.frame_paths):
            image = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            if index == 0:
                tracker.initialize(image, seq.init_box_xywh)
                continue
            result = tracker.track(image)
            if not seq.target_visible[index]:
                group = "absent"
            elif iou_xywh(result.box_xywh, seq.gt_xywh[index]) >= 0.5:
                group = "visible_correct"
            else:
                group = "visible_wrong"
            scores[group].append(result.score)
            lost[group].append(result.state == LOST)
    return {g: {"frames": len(scores[g]),
                "mean_score": float(np.mean(scores[g])) if scores[g] else None,
                "lost_fraction": float(np.mean(lost[g])) if lost[g] else None}
            for g in GROUPS}
