"""Model layout, token dropping == masking, and checkpoint loading (official + own format)."""
import os
import sys
import types

import pytest
import torch

from fartrack_ros.config import ModelConfig
from fartrack_ros.model.checkpoint import (CheckpointError, average_weights, build_model,
                                           convert_official, load_weights, official_to_stage,
                                           save_weights)
from fartrack_ros.model.fartrack import SEARCH_CENTRE_TOKEN, FARTrack, count_parameters_used, prune_lowest


@pytest.fixture(scope="module")
def sparse_model():
    torch.manual_seed(0)
    m = FARTrack(ModelConfig(stage="sparse", depth=15)).eval()
    with torch.no_grad():          # non-trivial norms and embeddings with norm > 1
        m.backbone.word_embeddings.weight.normal_()
        m.backbone.output_bias.normal_(std=0.5)
        for name, p in m.named_parameters():
            if "norm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    return m


def test_state_dict_matches_official_layout():
    sd = FARTrack(ModelConfig(stage="sparse")).state_dict()
    assert len(sd) == 255 and sum(v.numel() for v in sd.values()) == 7_057_373
    assert list(sd)[:3] == ["identity", "backbone.output_bias", "backbone.cls_token"]
    assert sd["backbone.blocks.0.masknorm1.norm.weight"].shape == (192,)
    assert sd["backbone.extension.2.mlp.fc2.weight"].shape == (192, 768)
    plain = FARTrack(ModelConfig(stage="distill")).state_dict()
    assert len(plain) == 193 and not any("masknorm" in k for k in plain)
    assert [count_parameters_used(ModelConfig(depth=d)) for d in (15, 10, 6)] == \
        [6_986_717, 4_762_397, 2_982_941]


@pytest.mark.parametrize("depth", [15, 10, 6])
def test_token_dropping_equals_masked_forward(sparse_model, depth):
    m = sparse_model.set_depth(depth)
    g = torch.Generator().manual_seed(depth)
    z = torch.randn(1, 5, 3, 112, 112, generator=g)
    x = torch.randn(1, 3, 224, 224, generator=g)
    keeps = [prune_lowest(torch.rand(49, generator=g)) for _ in range(4)] + [torch.ones(49, dtype=torch.bool)]
    with torch.no_grad():
        m.renorm_command_embeddings_()
        tokens = m.assemble(z, x)
        key = torch.cat(keeps + [torch.ones(200, dtype=torch.bool)])[None]
        nz = 245
        masked, s_masked, _ = m.forward_tokens(tokens, key_mask=key, score_query=nz + SEARCH_CENTRE_TOKEN,
                                               score_cols=slice(nz - 49, nz), exact=True)
        kept = tokens[:, key[0]]
        nk = int(torch.cat(keeps).sum())
        assert kept.shape[1] == 397
        dropped, s_dropped, _ = m.forward_tokens(kept, score_query=nk + SEARCH_CENTRE_TOKEN,
                                                 score_cols=slice(nk - 49, nk), exact=False)
    assert (masked - dropped).abs().max() < 1e-4
    assert torch.allclose(s_masked, s_dropped, atol=1e-6)
    assert torch.equal(prune_lowest(s_masked[0]), prune_lowest(s_dropped[0]))
    assert int((~prune_lowest(s_masked[0])).sum()) == 12
    m.set_depth(15)


def test_exits_are_the_truncated_models(sparse_model):
    z, x = torch.randn(1, 5, 3, 112, 112), torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        exits = sparse_model.forward_exits(z, x, depths=[6, 10, 15])
        for d, e in zip([6, 10, 15], exits):
            sparse_model.set_depth(d)
            assert torch.allclose(sparse_model(z, x), e, atol=1e-5)
    sparse_model.set_depth(15)


# ---------------------------------------------------------------- official checkpoint layout

def _install_fake_official_modules():
    """Classes named like the official training code, present only while saving."""
    names = ["lib", "lib.train", "lib.train.admin", "lib.train.admin.settings",
             "lib.train.admin.stats", "lib.train.admin.local"]
    mods = {n: types.ModuleType(n) for n in names}

    class Settings:
        pass

    class AverageMeter:
        def __init__(self):
            self.avg, self.count = 0.5, 3

    class EnvironmentSettings:
        def __init__(self):
            self.workspace_dir = "/home/author/ws"

    for cls, mod in [(Settings, "lib.train.admin.settings"), (AverageMeter, "lib.train.admin.stats"),
                     (EnvironmentSettings, "lib.train.admin.local")]:
        cls.__module__ = mod
        cls.__qualname__ = cls.__name__
        setattr(mods[mod], cls.__name__, cls)
    sys.modules.update(mods)
    return mods, Settings, AverageMeter, EnvironmentSettings


def _save_official(path, model, net_type="FARTrackSparse"):
    mods, Settings, AverageMeter, Env = _install_fake_official_modules()
    try:
        settings = Settings()
        settings.env = Env()
        settings.device = torch.device("cpu")
        torch.save({"epoch": 15, "actor_type": "FARTrackSparseActor", "net_type": net_type,
                    "net": model.state_dict(), "net_info": None, "constructor": None,
                    "optimizer": {"state": {}, "param_groups": []},
                    "stats": {"train": {"Loss/total": AverageMeter()}}, "settings": settings}, path)
    finally:
        for n in mods:
            sys.modules.pop(n, None)


def test_official_checkpoint_loads_without_official_code(tmp_path, sparse_model):
    path = tmp_path / "FARTrackSparse_ep0015.pth.tar"
    raw = FARTrack(ModelConfig()).eval()
    with torch.no_grad():
        raw.backbone.word_embeddings.weight.normal_()      # rows 600-603 have norm > 1
    _save_official(path, raw)
    assert "lib" not in sys.modules
    state, cfg, meta = load_weights(path)
    assert cfg.stage == "sparse" and meta["epoch"] == 15 and len(state) == 255
    model = build_model(path, depth=6)
    assert model.cfg.depth == 6
    rows = model.backbone.word_embeddings.weight[600:604].norm(dim=1)
    assert torch.allclose(rows, torch.ones(4), atol=1e-5)          # renorm trap applied at load
    other = raw.backbone.word_embeddings.weight[:600]
    assert torch.equal(model.backbone.word_embeddings.weight[:600], other)
    # official -> own format -> same tensors
    own = convert_official(path, tmp_path / "own.safetensors")
    again = build_model(own, depth=6)
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_code_executing_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.pth.tar"
    torch.save({"net": FARTrack(ModelConfig()).state_dict(), "settings": _Evil()}, path)
    with pytest.raises(CheckpointError, match="system.*refusing"):
        load_weights(path)


def test_corrupt_missing_and_mismatched_files(tmp_path, sparse_model):
    with pytest.raises(FileNotFoundError, match="nope.pth.tar"):
        load_weights(tmp_path / "nope.pth.tar")
    bad = tmp_path / "bad.pth.tar"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="bad.pth.tar"):
        load_weights(bad)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="broken.safetensors"):
        load_weights(broken)
    sd = sparse_model.state_dict()
    sd.pop("backbone.norm.bias")
    sd["backbone.extra.weight"] = torch.zeros(3)
    sd["identity"] = torch.zeros(1, 2, 192)
    path = tmp_path / "mismatch.pth.tar"
    torch.save({"net": sd, "net_type": "FARTrackSparse"}, path)
    with pytest.raises(CheckpointError) as err:
        build_model(path)
    text = str(err.value)
    assert "backbone.norm.bias" in text and "backbone.extra.weight" in text and "identity" in text


def test_own_format_is_self_describing(tmp_path, sparse_model):
    path = save_weights(tmp_path / "w.safetensors", sparse_model.set_depth(10), extra={"steps": 3})
    state, cfg, extra = load_weights(path)
    assert cfg.depth == 10 and cfg.stage == "sparse" and extra == {"steps": 3}
    with open(path, "rb") as f:                       # no pickle anywhere in the file
        assert b"\x80\x04\x95" not in f.read(4096)
    sparse_model.set_depth(15)


def test_distill_to_sparse_key_map_copies_norms():
    distill = FARTrack(ModelConfig(stage="distill")).state_dict()
    mapped = official_to_stage(distill, "distill", "sparse")
    assert set(mapped) == set(FARTrack(ModelConfig(stage="sparse")).state_dict())
    assert torch.equal(mapped["backbone.blocks.3.masknorm2.norm.weight"], distill["backbone.blocks.3.norm2.weight"])
    back = official_to_stage(mapped, "sparse", "distill")
    assert set(back) == set(distill)


def test_average_weights_is_the_tensor_mean(tmp_path, sparse_model):
    torch.manual_seed(1)
    other = FARTrack(ModelConfig(stage="sparse", depth=15)).eval()
    a = save_weights(tmp_path / "a.safetensors", sparse_model)
    b = save_weights(tmp_path / "b.safetensors", other)
    soup = average_weights([a, b], depth=6).state_dict()
    first, second = load_weights(a)[0], load_weights(b)[0]
    name = "backbone.blocks.3.attn.qkv.weight"
    assert torch.equal(soup[name], (first[name] + second[name]) / 2)
    assert not torch.equal(soup[name], first[name])
    assert build_model(save_weights(tmp_path / "soup.safetensors", average_weights([a, b])),
                       depth=6).cfg.depth == 6
    distill = save_weights(tmp_path / "d.safetensors", FARTrack(ModelConfig(stage="distill")))
    with pytest.raises(CheckpointError, match="d.safetensors"):
        average_weights([a, distill])
    with pytest.raises(ValueError, match="at least one"):
        average_weights([])
