"""Score result folders against a data set: per-sequence and overall numbers, a text table, a
JSON document and success / precision plots (PNG, matplotlib without a display).

For the GOT-10k layout the headline numbers are the GOT-10k toolkit's AO / SR0.5 / SR0.75; the
OPE numbers (AUC, precision, normalised precision) are given beside them. For LaSOT and OTB
the OPE numbers are the headline. Sequences whose ground truth holds only the first box (the
GOT-10k test split) cannot be scored here: their results are a submission for the server.

Each tracker's entry can carry the run it comes from (``run``: run id, key, a one-line summary,
whether this invocation computed it; see ``fartrack_ros.evaluation.runs``); the table shows
the run id per row and the summaries below it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fartrack_ros.data.eval_sets import EvalSequence
from fartrack_ros.data.images import read_image_bgr
from fartrack_ros.evaluation import metrics
from fartrack_ros.evaluation.results import read_result_runs, read_result_times


def image_wh_of(sequence: EvalSequence) -> tuple[int, int]:
    """The sequence resolution: from its metadata, else from its first image."""
    if sequence.image_wh is not None:
        return sequence.image_wh
    height, width = read_image_bgr(sequence.frame_paths[0]).shape[:2]
    return width, height


def _ope_scores_dict(scores: metrics.OpeScores) -> dict:
    return {"auc": scores.auc, "precision": scores.precision, "norm_precision": scores.norm_precision,
            "op50": scores.op50, "op75": scores.op75}


def sequence_average_overlap(pred_xywh: np.ndarray, seq: EvalSequence) -> float | None:
    """AO of one sequence outside GOT-10k: the mean IoU over the frames after the first (the
    tracker was given that one) whose target is annotated; None when there is no such frame.
    The overall AO is the mean of these per-sequence values, as GOT-10k's protocol averages."""
    err = metrics.ope_frame_errors(pred_xywh, seq.gt_xywh, seq.target_visible)
    scored = err.valid.copy()
    scored[0] = False
    return float(err.overlap[scored].mean()) if scored.any() else None


def evaluate_tracker(tracker_dir: Path, sequences: list[EvalSequence], dataset_format: str) -> dict:
    """Scores of the results in ``tracker_dir`` on ``sequences`` (those with results)."""
    scored = [s for s in sequences if s.has_full_ground_truth]
    per_sequence: dict[str, dict] = {}
    got10k_ious: dict[str, np.ndarray] = {}
    times_all: dict[str, np.ndarray | None] = {}
    curves: dict[str, metrics.OpeCurves] = {}
    missing = []
    for seq in sequences:
        runs = read_result_runs(tracker_dir, dataset_format, seq.name)
        if not runs:
            missing.append(seq.name)
            continue
        times = read_result_times(tracker_dir, dataset_format, seq.name)
        times_all[seq.name] = times
        entry = {"length": len(seq), "speed_fps": metrics.speed_fps_from_times(times)}
        if seq.has_full_ground_truth:
            entry["absent_frames"] = int(metrics.absent_frames(seq.gt_xywh).sum())
            for run in runs:
                if len(run) != len(seq.gt_xywh):
                    raise ValueError(f"{tracker_dir}: {seq.name} has {len(run)} boxes for "
                                     f"{len(seq.gt_xywh)} frames")
            if dataset_format == "got10k":
                image_wh = image_wh_of(seq)
                ious = np.concatenate([metrics.got10k_sequence_ious(r, seq.gt_xywh, seq.cover, image_wh)
                                       for r in runs])
                got10k_ious[seq.name] = ious
                if len(ious):
                    g = metrics.got10k_scores(ious)
                    entry.update(ao=g.ao, sr50=g.sr50, sr75=g.sr75)
            curves[seq.name] = metrics.ope_sequence_curves(runs[0], seq.gt_xywh, seq.target_visible)
            entry.update(_ope_scores_dict(metrics.ope_scores(curves[seq.name])))
            if dataset_format != "got10k":
                entry["ao"] = sequence_average_overlap(runs[0], seq)
        per_sequence[seq.name] = entry

    overall: dict = {"sequences_scored": len(curves), "sequences_with_results": len(per_sequence),
                     "sequences_total": len(sequences), "missing": missing,
                     "ground_truth_withheld": len(sequences) - len(scored)}
    if dataset_format == "got10k":
        overall["speed_fps"] = metrics.speed_fps_from_times(
            np.concatenate([t for t in times_all.values() if t is not None])
            if any(t is not None for t in times_all.values()) else None)
    else:   # the got10k toolkit's OTB/LaSOT rule: mean of the per-sequence speeds
        speeds = [e["speed_fps"] for e in per_sequence.values() if e["speed_fps"] > 0]
        overall["speed_fps"] = float(np.mean(speeds)) if speeds else -1.0
    if got10k_ious and sum(len(v) for v in got10k_ious.values()):
        g = metrics.got10k_overall(got10k_ious)
        overall.update(ao=g.ao, sr50=g.sr50, sr75=g.sr75, got10k_success_curve=g.success_curve.tolist())
    if dataset_format != "got10k":
        aos = [e["ao"] for e in per_sequence.values() if e.get("ao") is not None]
        if aos:
            overall["ao"] = float(np.mean(aos))
    if curves:
        o = metrics.ope_overall(curves)
        overall.update(_ope_scores_dict(o))
        overall.update(success_curve=o.curves.success.tolist(), precision_curve=o.curves.precision.tolist(),
                       norm_precision_curve=o.curves.norm_precision.tolist())
    return {"overall": overall, "sequences": per_sequence}


def build_report(tracker_dirs: dict[str, Path], sequences: list[EvalSequence], dataset_format: str,
                 dataset_root: Path | str = "", runs: dict[str, dict] | None = None) -> dict:
    """The JSON report for several trackers (name -> result folder) on one data set; ``runs``
    (name -> JSON-ready run description) says which run each row comes from."""
    runs = runs or {}
    trackers = {}
    for name, folder in tracker_dirs.items():
        trackers[name] = evaluate_tracker(folder, sequences, dataset_format)
        trackers[name]["results_dir"] = str(Path(folder).resolve())
        if name in runs:
            trackers[name]["run"] = runs[name]
    return {
        "dataset": {"root": str(dataset_root), "format": dataset_format, "sequences": len(sequences)},
        "thresholds": {
            "got10k_overlap": metrics.GOT10K_OVERLAP_THRESHOLDS.tolist(),
            "overlap": metrics.OPE_OVERLAP_THRESHOLDS.tolist(),
            "center_px": metrics.OPE_CENTER_THRESHOLDS_PX.tolist(),
            "norm_center": metrics.OPE_NORM_CENTER_THRESHOLDS.tolist(),
        },
        "trackers": trackers,
    }


def _pct(value) -> str:
    return "-" if value is None else f"{100.0 * value:.1f}"


def format_table(report: dict) -> str:
    """A plain-text table of the overall scores (percentages), best first."""
    fmt = report["dataset"]["format"]
    got10k = fmt == "got10k"
    columns = (["AO", "SR0.5", "SR0.75"] if got10k else ["AO"]) + ["AUC", "P@20", "NormP", "OP50", "OP75"]
    keys = (["ao", "sr50", "sr75"] if got10k else ["ao"]) + ["auc", "precision", "norm_precision", "op50", "op75"]
    rank_key = "ao" if fmt == "got10k" else "auc"
    trackers = report["trackers"]
    names = sorted(trackers, key=lambda n: -(trackers[n]["overall"].get(rank_key) or -1.0))
    width = max([len("tracker")] + [len(n) for n in names])
    run_ids = {n: (trackers[n].get("run") or {}).get("run_id") or "-" for n in names}
    run_width = max([len("run")] + [len(r) for r in run_ids.values()])
    header = (f"{'tracker':<{width}}  {'run':<{run_width}}  {'seqs':>9}  " + "  ".join(f"{c:>6}" for c in columns)
              + f"  {'FPS':>7}")
    lines = [f"{fmt} data set: {report['dataset']['root']} ({report['dataset']['sequences']} sequences)",
             header, "-" * len(header)]
    for name in names:
        o = trackers[name]["overall"]
        seqs = f"{o['sequences_scored']}/{o['sequences_total']}"
        fps = f"{o['speed_fps']:.1f}" if o["speed_fps"] > 0 else "-"
        lines.append(f"{name:<{width}}  {run_ids[name]:<{run_width}}  {seqs:>9}  "
                     + "  ".join(f"{_pct(o.get(k)):>6}" for k in keys) + f"  {fps:>7}")
    withheld = max(t["overall"]["ground_truth_withheld"] for t in trackers.values()) if trackers else 0
    if withheld:
        lines.append(f"{withheld} sequence(s) have only the first box (GOT-10k test split): "
                     "upload the result folder to the GOT-10k server to score them.")
    for name in names:
        run = trackers[name].get("run")
        if run:
            when = "computed or resumed now" if run.get("this_invocation") else f"earlier run, {run.get('created', '')}"
            lines.append(f"{name}: {run['summary']} ({when})")
        else:
            lines.append(f"{name}: results from {trackers[name].get('results_dir', '?')} (no run record)")
    for name in names:
        missing = trackers[name]["overall"]["missing"]
        if missing:
            lines.append(f"{name}: no results for {len(missing)} sequence(s), e.g. {missing[0]}")
    return "\n".join(lines)


def write_report_json(report: dict, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))


def read_report_tracker(spec: str) -> tuple[dict, str, Path]:
    """``REPORT.json:TRACKER`` -> (the report written by ``write_report_json``, the tracker
    name, the report's path); ValueError naming what is wrong."""
    path, _, tracker = str(spec).rpartition(":")
    if not path or not tracker:
        raise ValueError(f"expected REPORT.json:TRACKER, got {spec!r}")
    report_path = Path(path)
    if not report_path.is_file():
        raise ValueError(f"report not found: {path}")
    report = json.loads(report_path.read_text())
    if tracker not in report.get("trackers", {}):
        raise ValueError(f"{path} has no tracker {tracker!r} "
                         f"(it has {sorted(report.get('trackers', {}))})")
    return report, tracker, report_path


def _plot(curves: list[tuple[str, list[float], float]], x: np.ndarray, title: str, xlabel: str,
          ylabel: str, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.8), dpi=100)
    FigureCanvasAgg(fig)          # Agg canvas: no display needed, no global pyplot state
    ax = fig.add_subplot(1, 1, 1)
    styles = ["-", "--", "-.", ":"]
    for i, (label, y, score) in enumerate(sorted(curves, key=lambda c: -c[2])):
        ax.plot(x, y, styles[(i // 10) % len(styles)], linewidth=2, label=f"{label} [{100 * score:.1f}]")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, xlim=(x[0], x[-1]), ylim=(0, 1))
    ax.grid(True, alpha=0.4)
    ax.legend(loc="lower left" if "Success" in title else "lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def plot_report(report: dict, out_dir: Path) -> list[Path]:
    """success.png and precision.png (and norm_precision.png for OPE data) in ``out_dir``."""
    out_dir = Path(out_dir)
    trackers = {n: t["overall"] for n, t in report["trackers"].items() if "success_curve" in t["overall"]}
    if not trackers:
        return []
    fmt = report["dataset"]["format"]
    written = []
    if fmt == "got10k":
        written.append(_plot([(n, o["got10k_success_curve"], o["ao"]) for n, o in trackers.items()
                              if "got10k_success_curve" in o],
                             metrics.GOT10K_OVERLAP_THRESHOLDS, "Success plot (GOT-10k, legend: AO)",
                             "Overlap threshold", "Success rate", out_dir / "success.png"))
    else:
        written.append(_plot([(n, o["success_curve"], o["auc"]) for n, o in trackers.items()],
                             metrics.OPE_OVERLAP_THRESHOLDS, f"Success plot of OPE ({fmt}, legend: AUC)",
                             "Overlap threshold", "Success rate", out_dir / "success.png"))
    written.append(_plot([(n, o["precision_curve"], o["precision"]) for n, o in trackers.items()],
                         metrics.OPE_CENTER_THRESHOLDS_PX, f"Precision plot of OPE ({fmt}, legend: P@20)",
                         "Location error threshold [px]", "Precision", out_dir / "precision.png"))
    written.append(_plot([(n, o["norm_precision_curve"], o["norm_precision"]) for n, o in trackers.items()],
                         metrics.OPE_NORM_CENTER_THRESHOLDS,
                         f"Normalised precision plot of OPE ({fmt}, legend: at 0.2)",
                         "Normalised location error threshold", "Normalised precision",
                         out_dir / "norm_precision.png"))
    return written
