"""``fartrack eval-confidence``: does the score say when the box is off the target, does the state
turn ``lost`` in time, does re-acquisition find the target again? The heuristic score and the
learned head (when the weights carry one) side by side, in one run."""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

HEURISTIC_THRESHOLD = 0.2      # the heuristic score's lost threshold before the learned head

HELP = "measure the confidence, the lost state and re-acquisition (heuristic vs learned head)"
EXAMPLES = """examples:
  fartrack eval-confidence --dataset-root data/real/val --format otb
  fartrack eval-confidence --dataset-root data/real/val --generated-reentry 20 --json out.json
  fartrack eval-confidence --dataset-root data/generated/test --format got10k --score-groups
"""

_FIGURES = (("roc_auc", "ROC AUC (IoU>=0.5 vs IoU<0.1/absent)", "{:.3f}"),
            ("not_tracking_when_off", "lost on frames IoU<0.1/absent", "{:.1%}"),
            ("lost_when_on", "lost on frames IoU>=0.5", "{:.1%}"),
            ("off_events", "drift/exit events", "{}"),
            ("off_events_flagged_within_15", "  flagged lost within 15 frames", "{:.1%}"),
            ("median_frames_to_lost", "  median frames to lost", "{:.0f}"),
            ("reentries", "re-entries", "{}"),
            ("reentries_relocked_within_30", "  re-locked within 30 frames", "{:.1%}"),
            ("lost_episodes_ended", "lost episodes ended", "{}"),
            ("false_relocks_per_episode", "  false re-locks / episode", "{:.1%}"),
            ("reacquired_frames", "frames 'reacquired'", "{}"),
            ("ao", "AO (visible frames)", "{:.3f}"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset-root", help="annotated sequences (e.g. data/real/val)")
    parser.add_argument("--format", choices=("otb", "got10k"), default="otb",
                        help="layout of --dataset-root (default otb)")
    parser.add_argument("--generated-reentry", type=int, default=0, metavar="N",
                        help="also N generated test sequences where the target leaves and "
                             "re-enters the frame (held-out target photographs)")
    parser.add_argument("--weights", help="weights file (default: the shipped weights)")
    parser.add_argument("--variant", default="pico", choices=("tiny", "nano", "pico"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--lost-threshold", type=float, default=None)
    parser.add_argument("--lost-enter-frames", type=int, default=None)
    parser.add_argument("--lost-exit-frames", type=int, default=None)
    parser.add_argument("--reacquire-threshold", type=float, default=None)
    parser.add_argument("--reacquire-crops", type=int, default=None)
    parser.add_argument("--runs", default="heuristic,learned,learned+reacquire",
                        help="comma-separated runs to make (default all three)")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--sweep", action="store_true",
                        help="also replay the hysteresis on the learned run's scores over "
                             "thresholds x enter x exit frames (to choose the defaults)")
    parser.add_argument("--records", metavar="DIR",
                        help="write the per-frame records (score, state, IoU) as .npz per run")
    parser.add_argument("--score-groups", action="store_true",
                        help="instead of the runs: the tracker's mean score and lost share on the "
                             "frames of --dataset-root where it is on the target (IoU>=0.5), off it, "
                             "and where the target is absent, as one JSON line (default: off)")


def _datasets(args):
    from fartrack_ros.data.training_sets import read_got10k, read_otb
    from fartrack_ros.training.score_head import generated_sequences
    out = {}
    if args.dataset_root:
        reader = read_otb if args.format == "otb" else read_got10k
        ds = reader(args.dataset_root)
        out[Path(args.dataset_root).name] = [(s.name, s.read_frame_rgb, s.boxes_xywh, s.visible)
                                             for s in ds]
    if args.generated_reentry:
        seqs = []
        for name, imgs, boxes, visible in generated_sequences(args.generated_reentry, 150,
                                                               seed=17, split="test"):
            seqs.append((name, imgs.__getitem__, boxes, visible))
        out["generated-reentry"] = seqs
    if not out:
        raise ValueError("give --dataset-root and/or --generated-reentry N")
    return out


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from fartrack_ros.config import TrackerConfig
    from fartrack_ros.evaluation.confidence import confidence_metrics, sweep_hysteresis, track_records
    from fartrack_ros.runtime.tracker import build_tracker

    overrides = {k: getattr(args, k) for k in ("lost_threshold", "lost_enter_frames",
                                                "lost_exit_frames", "reacquire_threshold",
                                                "reacquire_crops") if getattr(args, k) is not None}
    base = TrackerConfig(weights=args.weights, variant=args.variant, threads=args.threads,
                         **overrides)
    if args.score_groups:
        return _score_groups(args, base)
    tracker = build_tracker(base)
    head = tracker.score_head
    # "heuristic": the score as before the head (threshold 0.2, no hysteresis, official boxes)
    runs = [("heuristic", None, False)]
    if head is not None:
        runs += [("learned", head, False), ("learned+reacquire", head, True)]
    else:
        print("note: these weights carry no score head (train one with `fartrack train-score`); "
              "only the heuristic score is measured")
    wanted = set(args.runs.split(","))
    unknown = wanted - {"heuristic", "learned", "learned+reacquire"}
    if unknown:
        raise ValueError(f"unknown runs {sorted(unknown)}")
    runs = [r for r in runs if r[0] in wanted]
    report = {"config": dataclasses.asdict(base), "datasets": {}}
    for ds_name, seqs in _datasets(args).items():
        report["datasets"][ds_name] = {}
        for run_name, run_head, reacquire in runs:
            tracker.score_head, tracker.reacquire = run_head, reacquire
            if run_head is None:       # the score and state as they were before the head
                tracker.lost_threshold, tracker.lost_enter_frames = HEURISTIC_THRESHOLD, 1
                tracker.lost_exit_frames = 1
            else:
                tracker.lost_threshold = base.lost_threshold
                tracker.lost_enter_frames = base.lost_enter_frames
                tracker.lost_exit_frames = base.lost_exit_frames
            started = time.perf_counter()
            records = [track_records(tracker, read, boxes, visible)
                       for _, read, boxes, visible in seqs]
            figures = confidence_metrics(records)
            if run_head is not None:
                figures["roc_auc_heuristic_same_run"] = confidence_metrics(
                    records, "heuristic")["roc_auc"]
            figures["seconds"] = round(time.perf_counter() - started, 1)
            report["datasets"][ds_name][run_name] = figures
            if args.records:
                folder = Path(args.records)
                folder.mkdir(parents=True, exist_ok=True)
                np.savez(folder / f"{ds_name}__{run_name}.npz",
                         names=np.array([s[0] for s in seqs]),
                         **{f"{i}_{k}": v for i, r in enumerate(records) for k, v in r.items()})
            if args.sweep and run_name in ("learned", "heuristic"):
                rows = sweep_hysteresis(records)
                report["datasets"][ds_name][run_name + "_sweep"] = rows
                _print_sweep(f"{ds_name} / {run_name}", rows)
        _print_table(ds_name, report["datasets"][ds_name])
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
        print(f"wrote {args.json}")
    return 0


def _print_table(name: str, runs: dict) -> None:
    names = [n for n in runs if not n.endswith("_sweep")]
    print(f"\n{name}: " + ", ".join(f"{n} {runs[n]['frames']} frames in {runs[n]['seconds']} s"
                                    for n in names))
    print(f"{'':42}" + "".join(f"{n:>20}" for n in names))
    for key, label, fmt in _FIGURES:
        cells = []
        for n in names:
            v = runs[n].get(key)
            cells.append(f"{'-' if v is None else fmt.format(v):>20}")
        print(f"{label:42}" + "".join(cells))


def _print_sweep(name: str, rows: list) -> None:
    """The settings that keep lost on on-target frames at or below 5 %, best first."""
    ok = [r for r in rows if r["lost_when_on"] is not None and r["lost_when_on"] <= 0.05]
    ok.sort(key=lambda r: -(r["not_tracking_when_off"] or 0))
    print(f"\nhysteresis replay, {name}: settings with lost on IoU>=0.5 frames <= 5 %")
    print("(exit: the score needed to leave lost, re-acquisition's reacquire_threshold; "
          "'-' = the threshold itself)")
    print("threshold  k  m  exit  lost|off  lost|on  flagged<=15  median frames to lost")
    for r in ok[:12]:
        fl = r["off_events_flagged_within_15"]
        md = r["median_frames_to_lost"]
        ex = r.get("exit_threshold")
        print(f"{r['lost_threshold']:9.2f} {r['lost_enter_frames']:2d} {r['lost_exit_frames']:2d}"
              f"  {'-' if ex is None else f'{ex:.2f}':>4}"
              f"  {r['not_tracking_when_off'] or 0:8.1%} {r['lost_when_on']:8.1%}"
              f"  {'-' if fl is None else f'{fl:.1%}':>11}  {'-' if md is None else f'{md:.0f}':>5}")


def _score_groups(args: argparse.Namespace, config) -> int:
    from fartrack_ros.data.eval_sets import read_eval_sequences
    from fartrack_ros.evaluation.confidence import score_groups
    from fartrack_ros.runtime.tracker import build_tracker

    if not args.dataset_root:
        raise ValueError("--score-groups needs --dataset-root")
    sequences = read_eval_sequences(Path(args.dataset_root), args.format)
    report = score_groups(lambda: build_tracker(config), sequences)
    print(json.dumps({"variant": args.variant, "lost_threshold": config.lost_threshold, **report}))
    return 0
