"""The learned confidence head: features, fit, storage with the weights, ``fartrack train-score``."""
import numpy as np
import pytest
import torch

from fartrack_ros.model.checkpoint import build_model, save_weights
from fartrack_ros.model.fartrack import FARTrack, ModelConfig
from fartrack_ros.core.confidence_features import FEATURE_NAMES, distribution_features
from fartrack_ros.model.score_head import (SCORE_HEAD_PREFIX, load_score_head, score_head_info,
                                           write_weights_with_head)
from fartrack_ros.training.score_head import fit_head, roc_auc


def test_distribution_features_tell_sharp_from_flat():
    sharp = np.full((4, 605), -20.0, np.float32)
    sharp[:, 200] = 10.0
    flat = np.zeros((4, 605), np.float32)
    bimodal = np.full((4, 605), -20.0, np.float32)
    bimodal[:, 100] = bimodal[:, 400] = 10.0
    s, f, b = (distribution_features(x) for x in (sharp, flat, bimodal))
    assert np.allclose(s[0], 0.0, atol=1e-6) and np.allclose(s[1], 0.0, atol=1e-3)
    # argmax 0 (the first of equals): the window holds bins 0..4
    assert np.allclose(f[0], np.log(5 / 600), atol=1e-5) and np.allclose(f[1], 1.0, atol=1e-5)
    assert np.allclose(b[2], 0.5, atol=1e-6)            # the competing mode holds half the mass
    assert np.allclose(b[3], np.log1p(150), atol=1e-3)  # argmax 100 (first), mean 250
    assert np.all(s[2] < 1e-9) and np.all(s[3] < 1e-6)


def test_roc_auc_equals_the_pairwise_definition():
    rng = np.random.default_rng(3)
    scores = np.round(rng.random(200), 1)               # many ties
    positive = rng.random(200) < 0.4
    p, n = scores[positive], scores[~positive]
    pairwise = ((p[:, None] > n[None]).sum() + 0.5 * (p[:, None] == n[None]).sum()) / (len(p) * len(n))
    assert roc_auc(scores, positive) == pytest.approx(pairwise, abs=1e-12)
    assert roc_auc(scores, np.ones(200, bool)) is None


def test_fit_head_learns_iou_from_informative_features():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, len(FEATURE_NAMES))).astype(np.float32)
    iou = 1 / (1 + np.exp(-3 * (x[:, 5] - 0.5 * x[:, 30])))
    head = fit_head(x, iou, steps=600)
    pred = np.array([head.predict(v) for v in x[:500]])
    assert np.abs(pred - iou[:500]).mean() < 0.05
    assert roc_auc(pred, iou[:500] >= 0.5) > 0.97


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    torch.manual_seed(2)
    path = tmp_path_factory.mktemp("w") / "random.safetensors"
    save_weights(path, FARTrack(ModelConfig()), extra={"note": "kept"})
    return path


def test_head_written_into_own_file_keeps_its_tensors_and_metadata(random_weights, tmp_path):
    from safetensors import safe_open
    head = fit_head(np.random.default_rng(1).normal(size=(100, len(FEATURE_NAMES))),
                    np.linspace(0, 1, 100), steps=5)
    out = write_weights_with_head(random_weights, tmp_path / "scored.safetensors", head, {"a": 1})
    again = write_weights_with_head(out, out, head, {"a": 2})        # replaces, never duplicates
    with safe_open(str(random_weights), framework="pt") as f:
        before = {k: f.get_tensor(k) for k in f.keys()}
        meta_before = f.metadata()
    with safe_open(str(again), framework="pt") as f:
        after = {k: f.get_tensor(k) for k in f.keys() if not k.startswith(SCORE_HEAD_PREFIX)}
        heads = [k for k in f.keys() if k.startswith(SCORE_HEAD_PREFIX)]
        meta_after = f.metadata()
    assert set(before) == set(after) and all(torch.equal(before[k], after[k]) for k in before)
    assert sorted(heads) == sorted(SCORE_HEAD_PREFIX + k for k in head.state_dict())
    assert {k: v for k, v in meta_after.items() if k != "score_head"} == meta_before
    assert score_head_info(again)["a"] == 2
    build_model(again)                                   # strict loading still works
    v = np.random.default_rng(4).normal(size=len(FEATURE_NAMES))
    assert load_score_head(again).predict(v) == pytest.approx(head.predict(v), abs=1e-6)


def _official_checkpoint(path):
    torch.manual_seed(5)
    state = FARTrack(ModelConfig()).state_dict()
    torch.save({"net": state, "net_type": "FARTrackSparse", "epoch": 15}, path)
    return path


def _tiny_otb(root, frames=24):
    """One OTB-layout sequence cut from a generated one."""
    import cv2
    from fartrack_ros.training.score_head import generated_sequences
    (_, imgs, boxes, _), = list(generated_sequences(1, frames, seed=3))
    folder = root / "Seq" / "img"
    folder.mkdir(parents=True)
    for i, im in enumerate(imgs):
        cv2.imwrite(str(folder / f"{i + 1:04d}.jpg"), cv2.cvtColor(im, cv2.COLOR_RGB2BGR))
    np.savetxt(root / "Seq" / "groundtruth_rect.txt", boxes, fmt="%.2f", delimiter=",")
    return root


def test_train_score_cli_writes_a_head_beside_an_official_checkpoint(tmp_path, capsys):
    from fartrack_ros.cli import main
    from fartrack_ros.config import TrackerConfig
    from fartrack_ros.runtime.tracker import build_tracker
    official = _official_checkpoint(tmp_path / "FARTrackSparse_ep0015.pth.tar")
    real = _tiny_otb(tmp_path / "real")
    rc = main(["train-score", "--weights", str(official), "--real-train", str(real),
               "--generated", "1", "--frames", "16", "--threads", "1"])
    assert rc == 0
    out = tmp_path / "FARTrackSparse_ep0015.safetensors"
    assert out.is_file() and f"wrote {out}" in capsys.readouterr().out
    info = score_head_info(out)
    assert info["samples_real"] >= 2 * 23 and info["samples_generated"] >= 15
    tracker = build_tracker(TrackerConfig(weights=str(out), backend="torch"))
    assert tracker.calibrated
    # the converted model is the official one
    a, b = build_model(official).state_dict(), build_model(out).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
