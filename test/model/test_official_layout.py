"""Weights files stay consistent with the official model: the tied template positional embedding
(save, repair), and ``export_official`` / ``fartrack convert`` to the official ``.pth.tar`` layout
with the same boxes both ways."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from fartrack_ros.config import ModelConfig, TrackerConfig, config_to_dict
from fartrack_ros.model.checkpoint import (ALIASED_TEMPLATE_POS_EMBEDS, build_model,
                                           convert_official, export_official, load_weights,
                                           read_official_checkpoint, repair_weights_file,
                                           save_weights)
from fartrack_ros.model.fartrack import FARTrack
from fartrack_ros.runtime.backends.decode import decode_box_numpy, decode_box_official
from fartrack_ros.runtime.tracker import build_tracker

sys.path.insert(0, str(Path(__file__).parent))
from test_official_parity import make_frames, object_box_xywh, write_official_checkpoint  # noqa: E402

Z, Z0, Z1 = ALIASED_TEMPLATE_POS_EMBEDS
NUM_FRAMES = 12


def trained_looking_model() -> FARTrack:
    """A sparse model whose pos_embed_z0 moved away from the stale z / z1 (as after training)."""
    torch.manual_seed(3)
    model = FARTrack(ModelConfig(stage="sparse", depth=6)).eval()
    with torch.no_grad():
        model.backbone.word_embeddings.weight.normal_()
        model.backbone.output_bias.normal_(std=0.5)
        model.backbone.norm.weight.mul_(0.25)
        model.backbone.pos_embed_z0.normal_(std=0.3)
    model.renorm_command_embeddings_()
    return model


def write_stale_file(path: Path, model: FARTrack, foreign: bool = False) -> Path:
    """An own-format file as older saves wrote it: z / z1 not the trained z0 (``foreign``: plus a
    tensor that is not the model's, which a repair must keep)."""
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    assert not torch.equal(state[Z1], state[Z0])
    if foreign:
        state["other_component.weight"] = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    meta = {"format": "fartrack_ros", "format_version": "1", "extra": json.dumps({"run": "x"}),
            "model_config": json.dumps(config_to_dict(model.cfg))}
    save_file(state, str(path), metadata=meta)
    return path


def read_raw(path: Path):
    with safe_open(str(path), framework="pt") as f:
        return f.metadata(), {k: f.get_tensor(k) for k in f.keys()}


def boxes_of(weights: Path, frames, variant="pico") -> np.ndarray:
    tracker = build_tracker(TrackerConfig(weights=str(weights), variant=variant, backend="reference"))
    tracker.initialize(frames[0], object_box_xywh(0))
    return np.asarray([tracker.track(f).box_xywh for f in frames[1:]])


@pytest.fixture(scope="module")
def frames():
    return make_frames(NUM_FRAMES)


def test_saved_weights_hold_the_trained_table_in_every_alias(tmp_path):
    model = trained_looking_model()
    _, state = read_raw(save_weights(tmp_path / "w.safetensors", model))
    for name in (Z, Z1):
        assert torch.equal(state[name], model.backbone.pos_embed_z0.detach()), name
    assert not torch.equal(model.backbone.pos_embed_z1, model.backbone.pos_embed_z0)  # model untouched


def test_repair_copies_the_trained_table_and_keeps_everything_else(tmp_path, frames):
    model = trained_looking_model()
    stale = write_stale_file(tmp_path / "stale.safetensors", model, foreign=True)
    meta_before, before = read_raw(stale)
    repaired = tmp_path / "repaired.safetensors"
    fixed = repair_weights_file(stale, repaired)
    assert fixed == pytest.approx(max(float((before[n] - before[Z0]).abs().max()) for n in (Z, Z1)))
    meta_after, after = read_raw(repaired)
    assert meta_after == meta_before and set(after) == set(before)
    for name, tensor in before.items():
        want = before[Z0] if name in (Z, Z1) else tensor
        assert torch.equal(after[name], want) and after[name].dtype == tensor.dtype, name
    assert repair_weights_file(repaired) == 0.0            # in place, already consistent
    plain = write_stale_file(tmp_path / "plain.safetensors", model)
    repair_weights_file(plain, repaired)
    np.testing.assert_array_equal(boxes_of(repaired, frames), boxes_of(plain, frames))


def test_export_official_round_trip_gives_the_same_boxes(tmp_path, frames):
    own = write_stale_file(tmp_path / "own.safetensors", trained_looking_model())
    official = export_official(own, tmp_path / "FARTrackSparse_ep0015.pth.tar")
    ckpt = read_official_checkpoint(official)
    assert ckpt["net_type"] == "FARTrackSparse"
    assert list(ckpt["net"]) == list(FARTrack(ModelConfig(stage="sparse")).state_dict())
    own_state = load_weights(own)[0]
    for name in ALIASED_TEMPLATE_POS_EMBEDS:               # what the official model then reads
        assert torch.equal(ckpt["net"][name], own_state[Z0]), name
    back = convert_official(official, tmp_path / "back.safetensors")
    for variant in ("pico", "tiny"):
        want = boxes_of(own, frames, variant)
        np.testing.assert_array_equal(boxes_of(official, frames, variant), want, err_msg=variant)
        np.testing.assert_array_equal(boxes_of(back, frames, variant), want, err_msg=variant)


def test_official_file_survives_convert_and_export(tmp_path, frames):
    src = write_official_checkpoint(tmp_path / "FARTrackSparse_ep0015.pth.tar")
    own = convert_official(src, tmp_path / "own.safetensors")
    again = export_official(own, tmp_path / "again.pth.tar")
    original = build_model(src).state_dict()
    exported = read_official_checkpoint(again)["net"]
    assert set(exported) == set(original)
    for name, tensor in original.items():                  # z / z0 / z1 all the loaded z1
        assert torch.equal(exported[name], tensor), name
    np.testing.assert_array_equal(boxes_of(again, frames), boxes_of(src, frames))


def test_convert_cli_writes_the_official_layout_for_pth_tar(tmp_path):
    from fartrack_ros.cli import convert

    own = save_weights(tmp_path / "w.safetensors", trained_looking_model())
    dst = tmp_path / "out.pth.tar"
    assert convert.run(argparse.Namespace(src=str(own), dst=str(dst))) == 0
    assert read_official_checkpoint(dst)["net_type"] == "FARTrackSparse"
    with pytest.raises(ValueError, match=".pth.tar"):
        convert.run(argparse.Namespace(src=str(own), dst=str(tmp_path / "out.bin")))


def test_official_decode_agrees_with_the_numpy_decode_to_a_small_fraction_of_a_pixel():
    rng = np.random.default_rng(5)
    for k in range(200):
        logits = (rng.standard_normal((4, 605)) * (1 + k % 7)).astype(np.float32)
        resize = float(rng.uniform(0.3, 3.0))
        a = np.asarray(decode_box_official(logits, resize, 224))
        b = np.asarray(decode_box_numpy(logits, resize, 224))
        assert np.abs(a - b).max() < 1e-3, (k, a, b)
