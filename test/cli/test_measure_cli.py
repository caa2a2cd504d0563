"""The measurement commands that replaced the scripts, run as a user runs them: `fartrack bench
--rounds`, `fartrack precision`, `fartrack eval-confidence --score-groups` (tiny settings)."""
from __future__ import annotations

import json

from cli_data import assert_one_line_error, fartrack

from fartrack_ros.data.scenes import GeneratorConfig
from fartrack_ros.training.generate import generate_dataset


def test_bench_rounds_prints_ratios_to_reference():
    proc = fartrack("bench", "--rounds", "1", "--frames", "2", "--warmup", "1", "--variant", "pico",
                    "--backend", "reference,torch", "--threads", "1", "--settle", "0", timeout=600)
    assert proc.returncode == 0, proc.stderr
    pico = json.loads(proc.stdout)["variants"]["pico"]
    assert pico["ratio_vs_reference"]["reference"] == 1.0
    assert set(pico["ms_per_frame"]) == {"reference", "torch"}
    assert pico["matmul_gflops"] > 0 and pico["gflop_per_frame_397"] > 0
    assert '{"pico":' in proc.stderr                      # the variant's part as soon as it is measured


def test_bench_rounds_is_cpu_only():
    assert_one_line_error(fartrack("bench", "--rounds", "1", "--device", "cuda", timeout=120), "CPU")


def test_precision_compares_a_reduced_backend_with_fp32():
    proc = fartrack("precision", "--variants", "pico", "--backends", "torch-bf16", "--sequences", "1",
                    "--frames", "3", "--threads", "1", timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["weights"] == "random" and report["sequences_from"] == "synthetic"
    assert report["frames"] == 3
    bf16 = report["variants"]["pico"]["torch-bf16"]
    assert 0.0 <= bf16["mean_iou"] <= 1.0 and 0.0 <= bf16["argmax_agreement"] <= 1.0
    assert "torch (fp32), init box +0.5 px" in report["variants"]["pico"]


def test_eval_confidence_score_groups_on_a_generated_split(tmp_path):
    root = generate_dataset(tmp_path / "gen", 1, seed=2, split="test",
                            cfg=GeneratorConfig(width=128, height=96, num_frames=6))
    proc = fartrack("eval-confidence", "--dataset-root", root, "--format", "got10k", "--score-groups",
                    "--threads", "1", timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["variant"] == "pico"
    groups = [report[g]["frames"] for g in ("visible_correct", "visible_wrong", "absent")]
    assert sum(groups) == 5                                # every frame after the first, once


def test_eval_confidence_score_groups_needs_a_dataset():
    assert_one_line_error(fartrack("eval-confidence", "--score-groups", timeout=120), "--dataset-root")
