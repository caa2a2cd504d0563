import numpy as np
import pytest

from fartrack_ros.config import ModelConfig, TrackerConfig, config_from_dict, load_yaml
from fartrack_ros.core.tokenizer import (EXPECTATION_GRID, coordinate_confidence, decode_argmax,
                                         decode_sparse, dequantize_tokens, quantize_coords)


def test_quantize_and_dequantize():
    assert quantize_coords(np.array([-0.5, 0.0, 1.5, 9.0, -3.0])).tolist() == [0, 149, 598, 598, 0]
    assert dequantize_tokens(np.array([0, 299])).tolist() == pytest.approx([-0.5, 0.5])


def test_expectation_grid_is_minus_half_plus_k_over_300():
    assert EXPECTATION_GRID.dtype == np.float32 and EXPECTATION_GRID.shape == (600,)
    assert EXPECTATION_GRID[0] == np.float32(-0.5)
    assert EXPECTATION_GRID[300] == np.float32(0.5)


def test_decode_sparse_hand_computed():
    logits = np.full((4, 605), -1e4, dtype=np.float32)
    for j, k in enumerate([100, 200, 300, 450]):
        logits[j, k] = 10.0
    got = decode_sparse(logits)
    k = np.array([100, 200, 300, 450], dtype=np.float64)
    expected = ((k + 0.5) / 299 - 0.5 + (-0.5 + k / 300)) / 2
    assert np.allclose(got, expected, atol=1e-6)
    assert np.allclose(decode_argmax(logits), k / 299 - 0.5, atol=1e-6)


def test_decode_sparse_argmax_may_be_a_command_id_expectation_ignores_it():
    logits = np.zeros((1, 605), dtype=np.float32)
    logits[0, 601] = 50.0                     # argmax over all 605 classes
    got = decode_sparse(logits)[0]
    assert got == pytest.approx(((601.5 / 299 - 0.5) + EXPECTATION_GRID.mean()) / 2, abs=1e-5)


def test_confidence_sharp_vs_flat():
    sharp = np.full((4, 605), -20.0, dtype=np.float32)
    sharp[:, 300] = 20.0
    flat = np.zeros((4, 605), dtype=np.float32)
    assert coordinate_confidence(sharp) > 0.99
    assert coordinate_confidence(flat) < 0.02
    assert 0.0 <= coordinate_confidence(np.random.default_rng(0).normal(size=(4, 605))) <= 1.0


def test_strict_config_rejects_unknown_and_mistyped_keys(tmp_path):
    with pytest.raises(ValueError, match="unknown key"):
        config_from_dict(TrackerConfig, {"variant": "pico", "speed": 3})
    with pytest.raises(ValueError, match="threads"):
        config_from_dict(TrackerConfig, {"threads": "two"})
    with pytest.raises(ValueError, match="variant"):
        TrackerConfig(variant="huge")
    f = tmp_path / "c.yaml"
    f.write_text("stage: sparse\ndepth: 6\n")
    assert load_yaml(f, ModelConfig) == ModelConfig(stage="sparse", depth=6)
    f.write_text("stage: sparse\ndepht: 6\n")
    with pytest.raises(ValueError, match="depht"):
        load_yaml(f, ModelConfig)
    with pytest.raises(FileNotFoundError):
        load_yaml(tmp_path / "missing.yaml", ModelConfig)
