"""``fartrack eval``: run trackers over a data set, write official result files, print the table."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "evaluate FARTrack and OpenCV peers on GOT-10k / LaSOT / OTB layouts (table, JSON, plots)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fartrack_ros.evaluation.trackers import TRACKER_NAMES

    parser.add_argument("--dataset-root", required=True, type=Path,
                        help="folder of sequences (GOT-10k: the split folder, e.g. GOT-10k/val)")
    parser.add_argument("--format", required=True, choices=("got10k", "lasot", "otb"), dest="dataset_format",
                        help="folder layout of the data set")
    parser.add_argument("--trackers", default="fartrack-pico,csrt,kcf,mil",
                        help=f"comma-separated, from: {','.join(TRACKER_NAMES)} (default: %(default)s); "
                             "empty with --compare to only score existing results")
    parser.add_argument("--weights", default=None, help="FARTrack weights file (default: shipped weights)")
    parser.add_argument("--backend", default="auto", help="FARTrack backend (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="FARTrack device: cpu | cuda (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="FARTrack threads per worker (default: cores / workers)")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None,
                        help="result folder (default: results/<format>-<dataset folder name>)")
    parser.add_argument("--compare", type=Path, action="append", default=[],
                        help="another tracker's result folder, or a folder of them (repeatable)")
    parser.add_argument("--max-sequences", type=int, default=None, help="only the first N sequences")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from fartrack_ros.evaluation.datasets import read_sequences
    from fartrack_ros.evaluation.report import build_report, format_table, plot_report, write_report_json
    from fartrack_ros.evaluation.results import find_tracker_dirs
    from fartrack_ros.evaluation.runner import run_evaluation
    from fartrack_ros.evaluation.trackers import TrackerSpec, parse_tracker_names

    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if args.max_sequences is not None and args.max_sequences < 1:
        raise ValueError(f"--max-sequences must be >= 1, got {args.max_sequences}")
    if args.weights is not None and not Path(args.weights).is_file():
        raise FileNotFoundError(f"weights file not found: {args.weights}")
    names = parse_tracker_names(args.trackers) if args.trackers.strip() or not args.compare else []
    if args.weights is None and any(n.startswith("fartrack-") for n in names):
        from fartrack_ros.weights import default_weights_path

        default_weights_path()          # fail now, with the path, rather than in every worker
    sequences = read_sequences(args.dataset_root, args.dataset_format)
    if args.max_sequences is not None:
        sequences = sequences[: args.max_sequences]
    out_dir = args.out or Path("results") / f"{args.dataset_format}-{args.dataset_root.resolve().name}"

    specs = [TrackerSpec(name=n, weights=args.weights, backend=args.backend, device=args.device,
                         threads=args.threads) for n in names]
    if specs:
        summary = run_evaluation(specs, sequences, out_dir, args.dataset_format, workers=args.workers,
                                 progress=not args.no_progress)
        print(f"ran {summary.ran} tracker/sequence pairs ({summary.frames} frames), "
              f"skipped {summary.skipped} with existing results; results in {out_dir}", file=sys.stderr)

    tracker_dirs = {n: out_dir / n for n in names}
    seq_names = [s.name for s in sequences]
    for folder in args.compare:
        for name, path in find_tracker_dirs(folder, args.dataset_format, seq_names).items():
            if name in tracker_dirs and tracker_dirs[name].resolve() != path.resolve():
                name = f"{name} ({folder.name})"
            tracker_dirs[name] = path
    if not tracker_dirs:
        raise ValueError("nothing to report: give --trackers or --compare")

    report = build_report(tracker_dirs, sequences, args.dataset_format, args.dataset_root)
    report_dir = out_dir / "report"
    write_report_json(report, report_dir / "report.json")
    table = format_table(report)
    (report_dir / "report.txt").write_text(table + "\n")
    plots = plot_report(report, report_dir)
    print(table)
    print(f"report: {report_dir / 'report.json'}, {report_dir / 'report.txt'}"
          + "".join(f", {p}" for p in plots))
    return 0
