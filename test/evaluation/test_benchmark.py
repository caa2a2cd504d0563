"""``fartrack bench``: analytical cost against the paper's figures, tiny real measurements, the job
plan and the progress the command shows."""
from __future__ import annotations

import json

import pytest
import torch

from eval_data import run_fartrack
from fartrack_ros.cli import main
from fartrack_ros.cli.bench import plan_jobs
from fartrack_ros.evaluation.benchmark import format_bench_table, gflop_per_frame, percentiles_ms

REQUIRED_KEYS = {"variant", "backend", "track_fps", "forward_fps", "gflop_per_frame", "matmul_gflops"}


@pytest.mark.parametrize("variant, expected", [("pico", 3.406), ("nano", 5.589), ("tiny", 8.318)])
def test_gflop_matches_the_paper_appendix(variant, expected):
    # the paper's appendix: official forward at 445 tokens, all 5 templates embedded every frame
    assert gflop_per_frame(variant, tokens=445, embed_templates=True) == pytest.approx(expected, abs=5e-4)


def test_gflop_per_layer_is_12nd2_plus_2n2d_multiply_adds():
    from fartrack_ros.evaluation.cost import forward_gflop

    n, d = 397, 192
    per_layer = forward_gflop(7, tokens=n) - forward_gflop(6, tokens=n)
    assert per_layer == pytest.approx(2 * (12 * n * d * d + 2 * n * n * d) / 1e9, rel=1e-12)
    assert gflop_per_frame("pico") < gflop_per_frame("pico", tokens=445)


def test_percentiles_are_ordered_and_in_milliseconds():
    p = percentiles_ms([0.001 * i for i in range(1, 101)])
    assert p["p50"] == pytest.approx(50.5) and p["max"] == pytest.approx(100.0)
    assert p["p50"] <= p["p90"] <= p["p99"] <= p["max"]


def test_bench_command_json_with_a_real_tracker(capsys):
    torch.set_num_threads(1)
    code = main(["bench", "--variant", "pico", "--backend", "torch", "--threads", "1", "--frames", "2",
                 "--warmup", "2", "--width", "160", "--height", "120", "--json", "--in-process"])
    assert code == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert REQUIRED_KEYS <= set(result)
    assert (result["variant"], result["backend"], result["threads"]) == ("pico", "torch", 1)
    assert result["track_fps"] > 0 and result["forward_fps"] > 0 and result["matmul_gflops"] > 0
    assert result["gflop_per_frame"] == pytest.approx(gflop_per_frame("pico"))
    assert result["achieved_gflops"] == pytest.approx(result["track_fps"] * result["gflop_per_frame"])
    assert result["peak_rss_mb"] >= result["rss_before_build_mb"] > 0
    assert "pico" in format_bench_table([result])


def test_bench_command_rejects_unknown_names(capsys):
    assert main(["bench", "--backend", "nope", "--in-process"]) == 2
    assert "unknown backend" in capsys.readouterr().err
    assert main(["bench", "--variant", "huge", "--in-process"]) == 2
    assert "unknown variant" in capsys.readouterr().err


def test_default_jobs_are_quick_and_all_gives_the_full_matrix():
    assert plan_jobs("tiny,nano,pico", "auto", "cpu") == [("tiny", "auto"), ("nano", "auto"), ("pico", "auto")]
    from fartrack_ros.runtime.backends import available_backends

    full = plan_jobs("all", "all", "cpu")
    assert full == [(v, b) for v in ("tiny", "nano", "pico") for b in available_backends("cpu")]
    assert "torch-fp16" not in {b for _, b in full}          # cuda only


def test_bench_shows_progress_and_prints_each_row_as_it_finishes():
    proc = run_fartrack("bench", "--variant", "pico,nano", "--backend", "torch", "--threads", "1", "--frames", "2",
                        "--warmup", "2", "--width", "96", "--height", "64", "--in-process", merge_stderr=True)
    assert proc.returncode == 0, proc.stdout
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    job1 = next(i for i, line in enumerate(lines) if line.startswith("bench: job 1/2 pico/torch"))
    job2 = next(i for i, line in enumerate(lines) if line.startswith("bench: job 2/2 nano/torch"))
    rows = [i for i, line in enumerate(lines) if line.split()[:2] in (["pico", "torch"], ["nano", "torch"])]
    assert lines[0].startswith("variant") and len(rows) == 2
    assert job1 < rows[0] < job2 < rows[1]                   # the first row came before the second job
    assert "left" in lines[job2] and "bench: 2 job(s) in" in lines[-1]
