"""``fartrack eval``: run trackers over a data set, write official result files, print the table."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fartrack_ros.cli.common import add_backend_argument, add_device_argument, add_weights_argument, positive_int

HELP = "evaluate FARTrack and its peers (CSRT, KCF, MIL, NanoTrack) on GOT-10k / LaSOT / OTB layouts"

DESCRIPTION = """\
Run trackers over a data set folder, write their boxes in the official result layouts, score
them as the official toolkits do, and print a table (also written with JSON and plots to
OUT/report/).

Results are kept per run: a run is one tracker with everything that changes its boxes (weights
file content, variant, backend, device; OpenCV version and model files for the peers), and gets
its own folder OUT/<tracker>_<run id>/ with a record OUT/<tracker>_<run id>.run.json. Running
again with the same key resumes (finished sequences are skipped); other weights, backend or
device make a new run, computed afresh. Every run of this data set already in OUT stays in the
report, each row marked with its run id. Ground-truth rows of NaN (target absent) are left out
of every score.

NanoTrack v2 needs its two ONNX files (nothing is downloaded): --nanotrack-dir, or
--nanotrack-backbone and --nanotrack-head, or the environment variable FARTRACK_NANOTRACK_DIR.
"""

EXAMPLES = """\
examples:
  fartrack eval --dataset-root data/GOT-10k/val --format got10k \\
      --trackers fartrack-tiny,fartrack-nano,fartrack-pico,csrt,kcf,mil --workers 2
  fartrack eval --dataset-root data/real/val --format otb --trackers fartrack-pico,csrt,nanotrack \\
      --nanotrack-dir models/nanotrack-v2
  FARTRACK_NANOTRACK_DIR=models/nanotrack-v2 fartrack eval --dataset-root data/UAV123 --format otb \\
      --trackers fartrack-pico,nanotrack               # NaN rows (target absent) are left out
  fartrack eval --dataset-root data/LaSOTBenchmark --format lasot --trackers fartrack-pico \\
      --weights FARTrackSparse_ep0015.pth.tar            # a new run beside the shipped weights' one
  fartrack eval --dataset-root data/OTB100 --format otb --trackers "" --compare other_results/
"""

DEFAULT_TRACKERS = "fartrack-pico,csrt,kcf,mil"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fartrack_ros.data.eval_sets import FORMATS
    from fartrack_ros.evaluation.peers import NANOTRACK_ENV, NANOTRACK_FILES
    from fartrack_ros.evaluation.trackers import TRACKER_NAMES

    data = parser.add_argument_group("data and trackers")
    data.add_argument("--dataset-root", required=True, type=Path, metavar="DIR",
                      help="folder of sequences (GOT-10k: the split folder, e.g. GOT-10k/val) (required)")
    data.add_argument("--format", required=True, choices=FORMATS, dest="dataset_format",
                      help="folder layout of the data set (required)")
    data.add_argument("--trackers", default=DEFAULT_TRACKERS, metavar="LIST",
                      help=f"comma-separated, from: {','.join(TRACKER_NAMES)} (default: %(default)s); "
                           "empty with --compare to only score existing results")
    data.add_argument("--max-sequences", type=positive_int, default=None, metavar="N",
                      help="only the first N sequences (default: all)")
    model = parser.add_argument_group("FARTrack model (fartrack-* trackers)")
    add_weights_argument(model)
    add_backend_argument(model)
    add_device_argument(model)
    nano = parser.add_argument_group("NanoTrack v2 model files (the nanotrack tracker)")
    nano.add_argument("--nanotrack-dir", metavar="DIR",
                      help=f"folder holding {NANOTRACK_FILES['backbone']} and {NANOTRACK_FILES['head']} "
                           f"(default: ${NANOTRACK_ENV} when set)")
    nano.add_argument("--nanotrack-backbone", metavar="FILE",
                      help="backbone ONNX file, instead of the one in the folder (default: from the folder)")
    nano.add_argument("--nanotrack-head", metavar="FILE",
                      help="neck/head ONNX file, instead of the one in the folder (default: from the folder)")
    run = parser.add_argument_group("running and output")
    run.add_argument("--workers", type=positive_int, default=1, metavar="N",
                     help="parallel processes, one sequence per task (default: %(default)s)")
    run.add_argument("--threads", type=positive_int, default=None, metavar="N",
                     help="compute threads per worker (default: cores / workers)")
    run.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="result folder (default: results/<format>-<dataset folder name>); runs with "
                          "different keys live side by side in it")
    run.add_argument("--compare", type=Path, action="append", default=[], metavar="DIR",
                     help="another tracker's result folder, or a folder of them, scored beside ours "
                          "(repeatable; default: none)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown)")


def _specs(args: argparse.Namespace, names: list[str]):
    from fartrack_ros.evaluation.peers import NANOTRACK, resolve_nanotrack_files
    from fartrack_ros.evaluation.trackers import TrackerSpec

    backbone = head = None
    if NANOTRACK in names:
        backbone, head = resolve_nanotrack_files(args.nanotrack_backbone, args.nanotrack_head,
                                                 args.nanotrack_dir, os.environ)
    if args.weights is not None and not Path(args.weights).is_file():
        raise FileNotFoundError(f"weights file not found: {args.weights}")
    if args.weights is None and any(n.startswith("fartrack-") for n in names):
        from fartrack_ros.weights import default_weights_path

        default_weights_path()          # fail now, with the path, rather than in every worker
    return [TrackerSpec(name=n, weights=args.weights, backend=args.backend, device=args.device,
                        threads=args.threads,
                        nanotrack_backbone=backbone if n == NANOTRACK else None,
                        nanotrack_head=head if n == NANOTRACK else None) for n in names]


def run(args: argparse.Namespace) -> int:
    from fartrack_ros.data.eval_sets import read_eval_sequences
    from fartrack_ros.evaluation.report import build_report, format_table, plot_report, write_report_json
    from fartrack_ros.evaluation.results import find_tracker_dirs
    from fartrack_ros.evaluation.runner import run_evaluation
    from fartrack_ros.evaluation.runs import (prepare_run, read_runs, report_names, run_of_folder,
                                              unrecorded_dirs)
    from fartrack_ros.evaluation.trackers import parse_tracker_names

    names = parse_tracker_names(args.trackers) if args.trackers.strip() or not args.compare else []
    specs = _specs(args, names)
    sequences = read_eval_sequences(args.dataset_root, args.dataset_format)
    if args.max_sequences is not None:
        sequences = sequences[: args.max_sequences]
    out_dir = args.out or Path("results") / f"{args.dataset_format}-{args.dataset_root.resolve().name}"

    current = [prepare_run(spec, out_dir, args.dataset_format, args.dataset_root) for spec in specs]
    if current:
        summary = run_evaluation(current, sequences, args.dataset_format, workers=args.workers,
                                 progress=not args.no_progress)
        print(f"ran {summary.ran} tracker/sequence pairs ({summary.frames} frames), "
              f"skipped {summary.skipped} with results of the same run; results in {out_dir}", file=sys.stderr)

    # every run of this data set in OUT (the current ones included) stays in the report
    current_ids = {r.run_id for r in current}
    recorded = read_runs(out_dir, args.dataset_format, args.dataset_root)
    rows = report_names(recorded)
    tracker_dirs = {name: run.dir for name, run in rows.items()}
    runs_info = {name: run.report_entry(run.run_id in current_ids) for name, run in rows.items()}
    for folder in unrecorded_dirs(out_dir):
        print(f"note: {folder} has no run record (results of an older fartrack eval?); not reported, "
              f"score it with --compare {folder}", file=sys.stderr)
    seq_names = [s.name for s in sequences]
    for folder in args.compare:
        for name, path in find_tracker_dirs(folder, args.dataset_format, seq_names).items():
            if name in tracker_dirs and tracker_dirs[name].resolve() != path.resolve():
                name = f"{name} ({folder.name})"
            tracker_dirs[name] = path
            compared_run = run_of_folder(path)
            if compared_run is not None:
                runs_info[name] = compared_run.report_entry(False)
    if not tracker_dirs:
        raise ValueError("nothing to report: give --trackers or --compare")

    report = build_report(tracker_dirs, sequences, args.dataset_format, args.dataset_root, runs=runs_info)
    report_dir = out_dir / "report"
    write_report_json(report, report_dir / "report.json")
    table = format_table(report)
    (report_dir / "report.txt").write_text(table + "\n")
    plots = plot_report(report, report_dir)
    print(table)
    print(f"report: {report_dir / 'report.json'}, {report_dir / 'report.txt'}"
          + "".join(f", {p}" for p in plots))
    return 0
