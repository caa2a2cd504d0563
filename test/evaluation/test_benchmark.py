"""``fartrack bench``: analytical cost against the spec, and one tiny real measurement."""
from __future__ import annotations

import json

import pytest
import torch

from fartrack_ros.cli import main
from fartrack_ros.evaluation.benchmark import format_bench_table, gflop_per_frame, percentiles_ms

REQUIRED_KEYS = {"variant", "backend", "track_fps", "forward_fps", "gflop_per_frame", "matmul_gflops"}


@pytest.mark.parametrize("variant, expected", [("pico", 3.406), ("nano", 5.589), ("tiny", 8.318)])
def test_gflop_matches_the_spec_appendix_c(variant, expected):
    # Appendix C: official forward at 445 tokens, all 5 templates embedded every frame
    assert gflop_per_frame(variant, tokens=445, embed_templates=True) == pytest.approx(expected, abs=5e-4)


def test_gflop_per_layer_is_12nd2_plus_2n2d_multiply_adds():
    from fartrack_ros.runtime.backends.cost import forward_gflop

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
