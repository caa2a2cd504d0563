"""Result runs: the results of one tracker, keyed by everything that changes its boxes.

A run is one tracker with one key (``trackers.result_key``: weights content, variant, resolved
backend, device for FARTrack; OpenCV version and model files for the peers) on one data set
(format and resolved root folder). Its id is the first 12 hex digits of the sha256 of the key
written as canonical JSON. Each run has its own folder in the official result layout,
``OUT/<tracker>_<run id>/``, and beside it a record ``OUT/<tracker>_<run id>.run.json`` with the
key (the folder itself stays a clean GOT-10k submission / LaSOT / OTB result folder).

So results never go stale: other weights, backend or device give another run id, hence another
folder, and are computed afresh; the same key resumes its own folder. Runs already in ``OUT``
stay there and stay in the report, each row marked with its run.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

from fartrack_ros.evaluation.results import write_text_atomically
from fartrack_ros.evaluation.trackers import TrackerSpec, key_details, result_key

RUN_SEPARATOR = "_"
RECORD_SUFFIX = ".run.json"
RUN_ID_LENGTH = 12


@dataclass(frozen=True)
class ResultRun:
    name: str                       # tracker name, e.g. "fartrack-pico"
    run_id: str
    key: dict
    details: dict                   # not part of the key (file paths, requested backend)
    dir: Path                       # OUT/<name>_<run_id>
    created: str = ""
    spec: TrackerSpec | None = None  # set for runs of this invocation

    @property
    def record_path(self) -> Path:
        return self.dir.with_name(self.dir.name + RECORD_SUFFIX)

    def summary(self) -> str:
        """One line: run id and the key's main facts."""
        key = self.key
        parts = [f"run {self.run_id}"]
        if "weights_sha256" in key:
            parts.append(f"weights sha256 {key['weights_sha256'][:12]} ({self.details.get('weights', '?')})")
            parts.append(f"{key['variant']} {key['backend']} {key['device']}")
        if "opencv" in key:
            parts.append(f"OpenCV {key['opencv']}")
        if "nanotrack_backbone_sha256" in key:
            parts.append(f"model sha256 {key['nanotrack_backbone_sha256'][:8]}/{key['nanotrack_head_sha256'][:8]}")
        return ", ".join(parts)


    def report_entry(self, this_invocation: bool) -> dict:
        """The JSON-ready description the report keeps with the run's row."""
        return {"run_id": self.run_id, "summary": self.summary(), "key": self.key, "details": self.details,
                "created": self.created, "dir": str(self.dir), "this_invocation": this_invocation}


def run_id_of(key: dict) -> str:
    text = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:RUN_ID_LENGTH]


def dataset_key(dataset_format: str, dataset_root: Path | str) -> dict:
    return {"dataset_format": dataset_format, "dataset_root": str(Path(dataset_root).resolve())}


def prepare_run(spec: TrackerSpec, out_dir: Path, dataset_format: str, dataset_root: Path | str) -> ResultRun:
    """The run of ``spec`` on this data set in ``out_dir``; writes its record if it is new."""
    key = {**dataset_key(dataset_format, dataset_root), **result_key(spec)}
    run_id = run_id_of(key)
    run = ResultRun(name=spec.name, run_id=run_id, key=key, details=key_details(spec),
                    dir=Path(out_dir) / f"{spec.name}{RUN_SEPARATOR}{run_id}", spec=spec)
    if run.record_path.is_file():
        return replace(run, created=_read_record(run.record_path).get("created", ""))
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    run.record_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(run.record_path, json.dumps(
        {"tracker": spec.name, "run_id": run_id, "key": key, "details": run.details, "created": created},
        indent=1) + "\n")
    return replace(run, created=created)


def _read_record(path: Path) -> dict:
    try:
        record = json.loads(path.read_text())
        if not isinstance(record, dict) or not isinstance(record.get("key"), dict):
            raise ValueError("no key")
        return record
    except (ValueError, OSError) as exc:
        raise ValueError(f"unreadable run record {path}: {exc}") from None


def _run_from_record(path: Path) -> ResultRun | None:
    """The run recorded in ``path``, or None when its folder is missing or the record does not
    match its key (edited by hand)."""
    record = _read_record(path)
    folder = path.with_name(path.name[: -len(RECORD_SUFFIX)])
    if run_id_of(record["key"]) != record.get("run_id") or not folder.is_dir():
        return None
    return ResultRun(name=record.get("tracker", folder.name), run_id=record["run_id"], key=record["key"],
                     details=record.get("details", {}), dir=folder, created=record.get("created", ""))


def run_of_folder(folder: Path) -> ResultRun | None:
    """The run a result folder comes from, when a record lies beside it."""
    folder = Path(folder)
    record = folder.with_name(folder.name + RECORD_SUFFIX)
    return _run_from_record(record) if record.is_file() else None


def read_runs(out_dir: Path, dataset_format: str, dataset_root: Path | str) -> list[ResultRun]:
    """The runs recorded in ``out_dir`` for this data set (with a result folder), oldest first."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    wanted = dataset_key(dataset_format, dataset_root)
    runs = [_run_from_record(path) for path in sorted(out_dir.glob("*" + RECORD_SUFFIX))]
    runs = [r for r in runs if r is not None and all(r.key.get(k) == v for k, v in wanted.items())]
    return sorted(runs, key=lambda r: (r.created, r.name))


def unrecorded_dirs(out_dir: Path, skip: tuple[str, ...] = ("report",)) -> list[Path]:
    """Folders in ``out_dir`` without a run record (results of an older ``fartrack eval``)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    return [d for d in sorted(out_dir.iterdir())
            if d.is_dir() and d.name not in skip and not d.with_name(d.name + RECORD_SUFFIX).is_file()]


def report_names(runs: list[ResultRun]) -> dict[str, ResultRun]:
    """Row name -> run: the tracker name, or ``name_<run id>`` where one tracker has several runs."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.name] = counts.get(run.name, 0) + 1
    return {(run.name if counts[run.name] == 1 else run.dir.name): run for run in runs}
