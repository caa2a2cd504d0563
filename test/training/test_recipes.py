"""The three stage recipes on a tiny generated set with a tiny model: losses fall, a distilled
checkpoint works at several depths, resume continues exactly, torchrun and the CLI work."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch.utils.data import default_collate

from fartrack_ros.cli import main as cli_main
from fartrack_ros.config import ModelConfig, config_from_dict
from fartrack_ros.model.checkpoint import CheckpointError, build_model, load_weights
from fartrack_ros.model.fartrack import FARTrack
from fartrack_ros.training.config import TrainConfig, load_train_config, train_config_to_dict
from fartrack_ros.data.scenes import GeneratorConfig
from fartrack_ros.training.generate import generate_dataset
from fartrack_ros.training.init_weights import load_vit_pretrained, structured_init_
from fartrack_ros.training.loaders import FrameTrainingSet, normalize_crops
from fartrack_ros.training.losses import frame_losses, sequence_losses
from fartrack_ros.training.processing import ProcessingConfig
from fartrack_ros.training.sampling import CausalFrameSampler
from fartrack_ros.training.forwards import forward_with_aux
from fartrack_ros.training.rollout import rollout_clips
from fartrack_ros.training.trainer import Trainer, parameter_groups, train

ROOT = Path(__file__).resolve().parents[2]
TINY = {"depth": 4, "embed_dim": 32, "num_heads": 2, "num_blocks": 3, "num_extension": 1}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "train"
    return generate_dataset(out, 3, seed=2, cfg=GeneratorConfig(width=160, height=120, num_frames=45))


def recipe(stage: str, data_root: Path, out: Path, **sections) -> TrainConfig:
    raw = {"stage": stage, "model": {"stage": stage, **TINY},
           "data": {"datasets": [{"kind": "got10k", "root": str(data_root)}], "samples_per_epoch": 200},
           "optim": {"lr": 2e-3, "batch_size": 4, "epochs": 100, "grad_clip": 1.0},
           "run": {"output_dir": str(out), "log_every": 5, "progress": False, "seed": 0}}
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return config_from_dict(TrainConfig, raw)


def fixed_batch(trainer: Trainer, n: int = 16):
    """Frame samples no training step sees (their own seed)."""
    sampler = CausalFrameSampler(trainer.dataset.sampler.mixture)
    ds = FrameTrainingSet(sampler, ProcessingConfig(), n, seed=12345)
    return trainer._frame_inputs(default_collate([ds[i] for i in range(n)]))


@torch.no_grad()
def eval_loss(model: FARTrack, batch, depth=None) -> float:
    templates, search, tokens = batch
    model.eval()
    if depth is None:
        logits = model(templates, search)
    else:
        logits = model.forward_exits(templates, search, depths=[depth])[0]
    return float(frame_losses(logits, tokens, 2.0, 2.0)["loss"])


@pytest.fixture(scope="module")
def frame_run(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("frame")
    trainer = Trainer(recipe("frame", tiny_data, out, run={"max_steps": 30}))
    batch = fixed_batch(trainer)
    before = eval_loss(trainer.model, batch)
    last = trainer.run()
    return out, last, before, eval_loss(trainer.model, batch)


def test_frame_stage_loss_falls_and_writes_own_checkpoints(frame_run):
    out, last, before, after = frame_run
    assert after < before - 0.5, (before, after)
    assert last.name == "checkpoint_ep0000_step00000030.safetensors"
    state, cfg, meta = load_weights(out / "last.safetensors")
    assert cfg.stage == "frame" and cfg.depth == 4 and meta["global_step"] == 30
    assert meta["recipe"]["optim"]["lr"] == 2e-3
    model = build_model(last)                       # loads strictly
    assert model.cfg.embed_dim == 32
    log = [yaml.safe_load(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [5, 10, 15, 20, 25, 30]
    assert all(r["samples_per_s"] > 0 and {"loss", "ce", "siou", "lr"} <= set(r) for r in log)
    assert (out / "recipe.yaml").is_file()


def test_distilled_checkpoint_works_at_every_exit(frame_run, tiny_data, tmp_path):
    _, frame_ckpt, _, _ = frame_run
    cfg = recipe("distill", tiny_data, tmp_path, init={"weights": str(frame_ckpt)},
                 loss={"exit_depths": [2, 3, 4]}, run={"max_steps": 25})
    trainer = Trainer(cfg)
    batch = fixed_batch(trainer)
    before = {d: eval_loss(trainer.model, batch, d) for d in (2, 3, 4)}
    trainer.model.train()
    last = trainer.run()
    for depth in (2, 3, 4):                          # a working model at each depth of one file
        model = build_model(last, depth=depth)
        assert model.cfg.depth == depth
        after = eval_loss(model, batch)
        assert after < before[depth], (depth, before[depth], after)
    log = [yaml.safe_load(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert all(r["kl"] >= 0 for r in log)


def test_sparse_stage_rollout_and_loss_falls(tiny_data, tmp_path):
    cfg = recipe("sparse", tiny_data, tmp_path, data={"clip_length": 5, "samples_per_epoch": 40},
                 optim={"batch_size": 2, "micro_batch": 3, "grad_clip": 100.0},
                 loss={"ce_weight": 0.0}, run={"max_steps": 10, "log_every": 1})
    trainer = Trainer(cfg)
    clips = [trainer.dataset[i] for i in range(2)]
    templates = normalize_crops(torch.from_numpy(np.stack([c.templates for c in clips])))
    roll = rollout_clips(trainer.model, clips, templates)
    assert roll.search.shape == (2, 4, 224, 224, 3) and roll.gt_xyxy.shape == (2, 4, 4)
    assert trainer.model.training                                 # restored after the rollout
    assert roll.keep[:, 0].all()                                  # first tracked frame unmasked
    templ = roll.keep[:, 1:, :5 * 49].reshape(2, 3, 5, 49)
    assert (templ[:, :, :4].sum(-1) == 37).all() and templ[:, :, 4].all()   # 12 pruned in slots 0..3
    assert (roll.keep[:, 1] == roll.keep[:, 2]).all() and roll.keep[:, :, 5 * 49:].all()

    batch = fixed_batch(trainer)

    @torch.no_grad()
    def siou():
        trainer.model.eval()
        return float(sequence_losses(trainer.model(batch[0], batch[1]),
                                     torch.zeros(16, 4) + torch.tensor([0.375, 0.375, 0.625, 0.625]),
                                     0.0, 2.0)["siou"])

    before = siou()
    trainer.model.train()
    trainer.run()
    log = [yaml.safe_load(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert np.mean([r["siou"] for r in log[-3:]]) < np.mean([r["siou"] for r in log[:3]])
    assert siou() < before
    assert all(0 <= r["rollout_iou"] <= 1 for r in log)


def test_sparse_stage_starts_from_distill_weights(frame_run, tiny_data, tmp_path):
    _, frame_ckpt, _, _ = frame_run             # frame and distill share the layout
    cfg = recipe("sparse", tiny_data, tmp_path, init={"weights": str(frame_ckpt)},
                 data={"clip_length": 3, "samples_per_epoch": 2}, optim={"batch_size": 1},
                 run={"max_steps": 1})
    trainer = Trainer(cfg)
    source = build_model(frame_ckpt)
    torch.testing.assert_close(trainer.model.backbone.blocks[1].masknorm1.norm.weight,
                               source.backbone.blocks[1].norm1.weight)
    assert trainer.run().is_file()


@pytest.mark.parametrize("center_weight", [0.0, 1.0])
def test_resume_continues_exactly_where_it_stopped(tiny_data, tmp_path, center_weight):
    def cfg(out, steps):
        return recipe("frame", tiny_data, out, data={"samples_per_epoch": 12},
                      optim={"batch_size": 2, "lr_drop_epoch": 1}, loss={"center_weight": center_weight},
                      run={"max_steps": steps, "log_every": 1})

    straight = train(cfg(tmp_path / "a", 8))            # 6 steps per epoch: crosses an epoch end
    first = train(cfg(tmp_path / "b", 3))
    assert first.name == "checkpoint_ep0000_step00000003.safetensors"
    resumed = train(cfg(tmp_path / "b", 8), resume=tmp_path / "b")
    a, _, meta_a = load_weights(straight)
    b, _, meta_b = load_weights(resumed)
    assert meta_a["global_step"] == meta_b["global_step"] == 8 and meta_b["epoch"] == 1
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
    steps = [yaml.safe_load(line)["step"] for line in (tmp_path / "b" / "train_log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))
    lrs = [yaml.safe_load(line)["lr"] for line in (tmp_path / "b" / "train_log.jsonl").read_text().splitlines()]
    assert lrs[5] == pytest.approx(2e-3) and lrs[6] == pytest.approx(2e-4)     # StepLR survived resume


def test_parameter_groups_follow_the_spec():
    model = FARTrack(ModelConfig(stage="frame", **TINY))
    groups = {g["name"]: {id(p) for p in g["params"]} for g in parameter_groups(model, 1e-3, 0.1)}
    names = {id(p): n for n, p in model.named_parameters()}
    lrs = {g["name"]: g["lr"] for g in parameter_groups(model, 1e-3, 0.1)}
    assert {names[i] for i in groups["non_backbone"]} == {"identity"}
    full = {names[i] for i in groups["backbone_full_lr"]}
    assert "backbone.output_bias" in full and "backbone.word_embeddings.weight" in full
    assert "backbone.extension.0.attn.qkv.weight" in full
    main = {names[i] for i in groups["backbone"]}
    assert "backbone.patch_embed.proj.weight" in main and "backbone.pos_embed_x" in main
    assert lrs == {"non_backbone": 1e-3, "backbone": pytest.approx(1e-4), "backbone_full_lr": 1e-3}


def test_vit_pretrained_init(tmp_path):
    model = FARTrack(ModelConfig(stage="frame", **TINY))
    d = 32
    vit = {"cls_token": torch.randn(1, 1, d), "pos_embed": torch.randn(1, 197, d),
           "patch_embed.proj.weight": torch.randn(d, 3, 16, 16), "patch_embed.proj.bias": torch.randn(d),
           "norm.weight": torch.randn(d), "norm.bias": torch.randn(d), "decoder_embed.weight": torch.randn(4, d)}
    for i in range(3):
        for name, shape in (("norm1.weight", (d,)), ("attn.qkv.weight", (3 * d, d)), ("mlp.fc1.weight", (4 * d, d))):
            vit[f"blocks.{i}.{name}"] = torch.randn(shape)
    torch.save({"model": {f"module.model.{k}": v for k, v in vit.items()}}, tmp_path / "mae.pth")
    report = load_vit_pretrained(model, tmp_path / "mae.pth")
    bb = model.backbone
    assert report["blocks"] == 4 and "decoder_embed.weight" in report["ignored"]
    torch.testing.assert_close(bb.blocks[1].attn.qkv.weight, vit["blocks.1.attn.qkv.weight"])
    torch.testing.assert_close(bb.extension[0].attn.qkv.weight, vit["blocks.2.attn.qkv.weight"])
    torch.testing.assert_close(bb.pos_embed_x, vit["pos_embed"][:, 1:])
    grid = vit["pos_embed"][:, 1:].reshape(1, 14, 14, d).permute(0, 3, 1, 2)
    z = torch.nn.functional.interpolate(grid, size=(7, 7), mode="bicubic", align_corners=False)
    torch.testing.assert_close(bb.pos_embed_z0, z.permute(0, 2, 3, 1).reshape(1, 49, d))
    torch.save({"model": {"blocks.0.attn.qkv.weight": torch.randn(3 * 64, 64)}}, tmp_path / "small.pth")
    with pytest.raises(CheckpointError, match="does not fit"):
        load_vit_pretrained(model, tmp_path / "small.pth")
    torch.save({"model": {"head.weight": torch.randn(3, 3)}}, tmp_path / "none.pth")
    with pytest.raises(CheckpointError, match="no ViT block"):
        load_vit_pretrained(model, tmp_path / "none.pth")


def test_shipped_recipes_hold_the_official_values():
    frame = load_train_config(ROOT / "config/train/frame.yaml")
    distill = load_train_config(ROOT / "config/train/distill.yaml")
    sparse = load_train_config(ROOT / "config/train/sparse.yaml")
    assert (frame.optim.lr, frame.optim.backbone_multiplier, frame.optim.grad_clip,
            frame.data.max_gap) == (4e-4, 0.1, 0.1, 300)
    assert (distill.optim.lr, distill.optim.backbone_multiplier, distill.loss.kl_weight) == (4e-5, 1.0, 0.01)
    assert distill.loss.exit_depths == tuple(range(5, 16))
    assert (sparse.optim.lr, sparse.optim.weight_decay, sparse.optim.grad_clip,
            sparse.loss.ce_weight) == (4e-6, 0.05, 100.0, 0.0)
    assert (sparse.data.clip_length, sparse.optim.batch_size, sparse.data.samples_per_epoch) == (32, 8, 1000)
    over = load_train_config(ROOT / "config/train/frame.yaml", ["optim.lr=1e-5", "run.output_dir=x"])
    assert over.optim.lr == 1e-5 and over.run.output_dir == "x"
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['lrr'\]"):
        load_train_config(ROOT / "config/train/frame.yaml", ["optim.lrr=1"])
    with pytest.raises(ValueError, match="must equal the recipe stage"):
        load_train_config(ROOT / "config/train/frame.yaml", ["model.stage=sparse"])


def test_cli_train(tiny_data, tmp_path, capsys):
    cfg = recipe("frame", tiny_data, tmp_path / "run")
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(train_config_to_dict(cfg)))
    assert cli_main(["train", "--config", str(path), "--max-steps", "2", "--no-progress"]) == 0
    assert "checkpoint_ep0000_step00000002.safetensors" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text().replace("log_every:", "log_evry:"))
    assert cli_main(["train", "--config", str(bad)]) == 2
    assert "log_evry" in capsys.readouterr().err
    assert cli_main(["train", "--config", str(path), "--resume", str(tmp_path / "nothing")]) == 2


def test_torchrun_two_processes(tiny_data, tmp_path):
    cfg = recipe("frame", tiny_data, tmp_path / "run", optim={"batch_size": 2}, run={"max_steps": 2, "log_every": 1})
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(train_config_to_dict(cfg)))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone",
                             "--nproc_per_node", "2", "-m", "fartrack_ros.cli.train", "--config", str(path)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)       # the launcher and its workers
        proc.communicate()
        raise
    assert proc.returncode == 0, err[-3000:]
    log = [yaml.safe_load(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2]
    assert log[0]["samples_per_s"] > 0
    _, _, meta = load_weights(tmp_path / "run" / "last.safetensors")
    assert meta["global_step"] == 2


def test_structured_init_builds_in_the_task_geometry():
    cfg = ModelConfig(stage="frame", depth=2, embed_dim=96, num_heads=2, num_blocks=2, num_extension=0)
    model = FARTrack(cfg)
    keys = {k: v.shape for k, v in model.state_dict().items()}
    info = structured_init_(model, seed=0)
    assert {k: v.shape for k, v in model.state_dict().items()} == keys and info["fresh"] == "structured"
    bb = model.backbone
    bins = bb.word_embeddings.weight[:600, :48]
    # search token (row 3, column 10): its x band scores highest the bin of its centre x
    token = bb.pos_embed_x[0, 3 * 14 + 10]
    x_centre, y_centre = 10.5 / 14, 3.5 / 14
    best_x = int((bins @ token[:48]).argmax())
    best_y = int((bins @ token[48:96]).argmax())
    assert abs((-0.5 + (best_x + 0.5) / 300) - x_centre) < 0.01
    assert abs((-0.5 + (best_y + 0.5) / 300) - y_centre) < 0.01
    # mimetic query-key: each head's W_q^T W_k has a clearly positive diagonal; value-output
    # products are alpha Z + beta I exactly (full rank)
    attn = bb.blocks[0].attn
    w = attn.qkv.weight.detach()
    off = ~torch.eye(96, dtype=torch.bool)
    for h in range(2):
        qk = w[h * 48:(h + 1) * 48].t() @ w[96 + h * 48:96 + (h + 1) * 48]
        assert float(qk.diagonal().mean()) > 2 * float(qk[off].abs().mean())
    vo = attn.proj.weight.detach() @ w[192:288]
    assert abs(float(vo.diagonal().mean()) - info["value_beta"]) < 0.1
    assert float(bb.position_embeddings.weight.detach().std()) < 0.05
    with pytest.raises(ValueError, match="embed_dim"):
        structured_init_(FARTrack(ModelConfig(stage="frame", **TINY)))


def test_center_loss_and_structured_init_in_a_frame_run(tiny_data, tmp_path):
    cfg = recipe("frame", tiny_data, tmp_path, model={"embed_dim": 96},
                 init={"fresh": "structured"},
                 loss={"center_weight": 1.0, "center_layer": 3, "readout_weight": 1.0},
                 run={"max_steps": 4, "log_every": 2})
    trainer = Trainer(cfg)
    assert trainer.init_info["fresh"] == "structured"
    model = trainer.model.eval()
    templates, search, _ = fixed_batch(trainer, 2)
    with torch.no_grad():                           # the auxiliary forward is the plain forward
        logits, states, attention = forward_with_aux(model, templates, search, 3)
        torch.testing.assert_close(logits, model(templates, search))
    assert states.shape == (2, 196, 96) and attention.shape == (2, 4, 196)
    assert float(attention.sum(dim=-1).max()) <= 1.0 + 1e-5
    model.train()
    last = trainer.run()
    log = [yaml.safe_load(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert all(r["center"] > 0 and r["readout"] > 0 for r in log)
    state, _, _ = load_weights(last)                # the training-only head is not in the weights
    assert not any("center" in k for k in state)
    build_model(last)
    with pytest.raises(ValueError, match="center_weight"):
        recipe("distill", tiny_data, tmp_path, loss={"center_weight": 1.0})
    with pytest.raises(ValueError, match="readout_weight"):
        recipe("sparse", tiny_data, tmp_path, loss={"readout_weight": 1.0})
    with pytest.raises(ValueError, match="center_layer"):
        recipe("frame", tiny_data, tmp_path, loss={"center_weight": 1.0, "center_layer": 9})
    with pytest.raises(ValueError, match="init.fresh"):
        recipe("frame", tiny_data, tmp_path, init={"fresh": "mae-ish"})
    with pytest.raises(ValueError, match="init.fresh"):
        recipe("frame", tiny_data, tmp_path, init={"fresh": "structured", "weights": str(last)})
