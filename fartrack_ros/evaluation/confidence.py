"""How the tracker's confidence relates to what happens: is the score low when the target is gone?

For every tracked frame of a dataset with per-frame visibility (GOT-10k layout with
``absence.label``, e.g. the generated test split), the frame is put in one of three groups:
target visible and box correct (IoU >= 0.5), target visible but box wrong, target absent
(fully occluded or out of frame). The report gives the mean score and the share of frames the
tracker called "lost" in each group.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional

import numpy as np

from fartrack_ros.core.boxes import iou_xywh
from fartrack_ros.core.types import LOST, REACQUIRED, TRACKING
from fartrack_ros.data.eval_sets import EvalSequence
from fartrack_ros.data.images import read_image_rgb

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
            image = read_image_rgb(path)
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


# --------------------------------------------------------------------------- issue-17 report
# How well the confidence says "lost" and how well re-acquisition finds the target again, for
# the heuristic score and the learned head side by side (``fartrack eval-confidence``).

OFF_IOU = 0.1          # a frame with IoU below this (or the target absent) has the box off it
ON_IOU = 0.5           # a frame with IoU at or above this has the box on it
RELOCK_WINDOW = 30     # frames after a re-entry within which a re-lock counts
FLAG_WINDOW = 15       # frames after drift / exit within which "lost" should come


def track_records(tracker, read_frame: Callable[[int], np.ndarray], boxes: np.ndarray,
                  visible: np.ndarray) -> dict:
    """Run ``tracker`` closed-loop from the first box -> per-frame arrays (frames 1..n-1):
    score, heuristic score, state, IoU (0 when absent), visible."""
    tracker.initialize(read_frame(0), boxes[0])
    score, heuristic, state, iou = [], [], [], []
    for i in range(1, len(boxes)):
        r = tracker.track(read_frame(i))
        score.append(r.score)
        heuristic.append(tracker.last_heuristic_score)
        state.append(r.state)
        iou.append(float(iou_xywh(r.box_xywh, boxes[i])) if visible[i] else 0.0)
    return {"score": np.asarray(score), "heuristic": np.asarray(heuristic),
            "state": np.asarray(state), "iou": np.asarray(iou),
            "visible": np.asarray(visible[1:], dtype=bool)}


def _events_off(rec: dict) -> list[int]:
    """Frames where the box goes off the target (IoU < OFF_IOU or absent) right after a frame
    with the box on it (IoU >= ON_IOU)."""
    on = rec["iou"] >= ON_IOU
    off = (rec["iou"] < OFF_IOU) | ~rec["visible"]
    return [t for t in range(1, len(on)) if off[t] and on[t - 1]]


def _reentries(rec: dict, min_absent: int = 5) -> list[int]:
    """Frames where the target is visible again after at least ``min_absent`` absent frames."""
    vis = rec["visible"]
    out, run = [], 0
    for t in range(len(vis)):
        if vis[t] and run >= min_absent:
            out.append(t)
        run = 0 if vis[t] else run + 1
    return out


def _lost_episodes(rec: dict) -> list[tuple[int, Optional[int]]]:
    """(first lost frame, first frame after the episode or None when it lasts to the end)."""
    lost = rec["state"] == LOST
    out, start = [], None
    for t, v in enumerate(lost):
        if v and start is None:
            start = t
        elif not v and start is not None:
            out.append((start, t))
            start = None
    if start is not None:
        out.append((start, None))
    return out


def confidence_metrics(records: list[dict], score_key: str = "score") -> dict:
    """The issue-17 figures over sequences recorded by ``track_records``."""
    from fartrack_ros.training.score_head import roc_auc
    cat = {k: np.concatenate([r[k] for r in records]) for k in ("score", "heuristic", "state",
                                                                   "iou", "visible")}
    pos = cat["visible"] & (cat["iou"] >= ON_IOU)
    neg = ~cat["visible"] | (cat["iou"] < OFF_IOU)
    decided = pos | neg
    lost = cat["state"] == LOST
    delays, flagged_in_window, events = [], 0, 0
    relocked, reentries, episodes, false_relocks = 0, 0, 0, 0
    for rec in records:
        rec_lost = rec["state"] == LOST
        for t in _events_off(rec):
            events += 1
            after = np.flatnonzero(rec_lost[t:])
            if after.size:
                delays.append(int(after[0]))
                flagged_in_window += int(after[0] <= FLAG_WINDOW)
        good = (rec["iou"] >= ON_IOU) & ~rec_lost
        for t in _reentries(rec):
            reentries += 1
            relocked += int(good[t:t + RELOCK_WINDOW].any())
        for start, end in _lost_episodes(rec):
            if end is None:
                continue
            episodes += 1
            off = (not rec["visible"][end]) or rec["iou"][end] < OFF_IOU
            false_relocks += int(off)
    visible = cat["visible"]
    return {
        "frames": int(len(cat["iou"])), "frames_on": int(pos.sum()), "frames_off": int(neg.sum()),
        "roc_auc": roc_auc(cat[score_key][decided], pos[decided]),
        "not_tracking_when_off": float(lost[neg].mean()) if neg.any() else None,
        "lost_when_on": float(lost[pos].mean()) if pos.any() else None,
        "off_events": events,
        "off_events_flagged_within_15": (flagged_in_window / events) if events else None,
        "median_frames_to_lost": float(np.median(delays)) if delays else None,
        "reentries": reentries,
        "reentries_relocked_within_30": (relocked / reentries) if reentries else None,
        "lost_episodes_ended": episodes,
        "false_relocks_per_episode": (false_relocks / episodes) if episodes else None,
        "reacquired_frames": int((cat["state"] == REACQUIRED).sum()),
        "ao": float(cat["iou"][visible].mean()) if visible.any() else None,
    }


def simulate_states(score: np.ndarray, threshold: float, enter: int, exit_: int,
                    exit_threshold: Optional[float] = None) -> np.ndarray:
    """The tracker's hysteresis replayed on recorded scores -> per-frame "lost" flags. (Replayed,
    so without the feedback of the lost state on later frames: the frozen template bank.)

    ``exit_threshold``: the score needed on ``exit_`` consecutive frames to leave "lost" (with
    re-acquisition on, the tracker's ``reacquire_threshold``; its wider search and the position
    agreement are not replayed); None: ``threshold``."""
    leave = threshold if exit_threshold is None else exit_threshold
    lost, below, above = False, 0, 0
    out = np.zeros(len(score), dtype=bool)
    for t, s in enumerate(score):
        if not lost:
            below = below + 1 if s < threshold else 0
            if below >= enter:
                lost, above = True, 0
        else:
            above = 0 if s < leave else above + 1
            if above >= exit_:
                lost, below = False, 0
        out[t] = lost
    return out


def sweep_hysteresis(records: list[dict],
                     thresholds=(0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5),
                     enters=(1, 2, 3, 5, 8), exits=(1, 2, 3, 5),
                     exit_thresholds=(None, 0.2, 0.3, 0.4, 0.5)) -> list[dict]:
    """Lost on off-target frames, lost on on-target frames and frames to lost after drift for
    each (threshold, k, m, exit threshold), from recorded scores (``track_records``)."""
    rows = []
    for th in thresholds:
        for k in enters:
            for m in exits:
                for leave in exit_thresholds:
                    if leave is not None and leave <= th:
                        continue
                    sim = [{**r, "state": np.where(simulate_states(r["score"], th, k, m, leave),
                                                   LOST, TRACKING)} for r in records]
                    f = confidence_metrics(sim)
                    rows.append({"lost_threshold": th, "lost_enter_frames": k,
                                 "lost_exit_frames": m, "exit_threshold": leave,
                                 **{key: f[key] for key in (
                                     "not_tracking_when_off", "lost_when_on",
                                     "off_events_flagged_within_15", "median_frames_to_lost",
                                     "false_relocks_per_episode")}})
    return rows
