"""Fast backends against the reference backend: same boxes (fp32), export format, inputs."""
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from fartrack_ros.config import ModelConfig, TrackerConfig
from fartrack_ros.core.tokenizer import VOCAB_SIZE
from fartrack_ros.data.synthetic import synthetic_sequence
from fartrack_ros.evaluation.backend_checks import box_differences_px, open_loop_box_ious, track_sequence
from fartrack_ros.evaluation.cost import forward_gflop
from fartrack_ros.model.checkpoint import build_model, save_weights
from fartrack_ros.model.fartrack import FARTrack, SEARCH_CENTRE_TOKEN
from fartrack_ros.runtime import export
from fartrack_ros.runtime.backends import available_backends, create_backend
from fartrack_ros.runtime.backends.inputs import NumpyCropNormalizer, TorchCropNormalizer
from fartrack_ros.runtime.backends.token_forward import TokenForward
from fartrack_ros.runtime.preprocess import Normalizer
from fartrack_ros.runtime.tracker import build_tracker, default_backend

FP32_BACKENDS = ["torch", "onnxruntime"]
REDUCED_CPU_BACKENDS = ["torch-bf16", "onnxruntime-int8"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(3)
    path = tmp_path_factory.mktemp("weights") / "random.safetensors"
    save_weights(path, FARTrack(ModelConfig(stage="sparse", depth=15)))
    return str(path)


@pytest.fixture(autouse=True)
def onnx_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FARTRACK_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def clip():
    # first tracked frame runs 445 tokens, the rest 397; 6 frames cover both graphs
    return synthetic_sequence(6, seed=2, height=120, width=160)


def boxes_of(weights, variant, backend, clip):
    frames, box = clip
    tracker = build_tracker(TrackerConfig(weights=weights, variant=variant, backend=backend))
    return track_sequence(tracker, frames, box), tracker


@pytest.mark.parametrize("variant", ["pico", "nano", "tiny"])
def test_fp32_backends_reproduce_reference_boxes(weights, clip, variant):
    reference, ref_tracker = boxes_of(weights, variant, "reference", clip)
    for name in FP32_BACKENDS:
        boxes, tracker = boxes_of(weights, variant, name, clip)
        assert tracker.backend.exact_fp32
        assert box_differences_px(reference, boxes).max() < 0.01, name
        # same sparsification masks for every template still in the bank
        for index, mask in ref_tracker._masks.items():
            assert np.array_equal(tracker._masks[index], mask), (name, index)


def test_fp32_backends_on_a_model_without_sparsification(tmp_path, clip):
    torch.manual_seed(4)
    weights = str(save_weights(tmp_path / "distill.safetensors",
                               FARTrack(ModelConfig(stage="distill", depth=15))))
    reference, _ = boxes_of(weights, "pico", "reference", clip)
    for name in FP32_BACKENDS:
        boxes, tracker = boxes_of(weights, "pico", name, clip)
        assert box_differences_px(reference, boxes).max() < 0.01, name
        assert not tracker._masks          # nothing is pruned without the sparse stage


def test_token_forward_equals_model_forward_on_both_token_counts():
    torch.manual_seed(0)
    model = FARTrack(ModelConfig(stage="sparse", depth=3)).eval()
    forward = TokenForward(model).eval()
    with torch.inference_mode():
        for n_z in (245, 197):
            z, search = torch.randn(n_z, 192), torch.randn(1, 3, 224, 224)
            logits, score = forward(z, search)
            tokens = torch.cat([z[None], model.embed_search(search), model.command_tokens(1)], 1)
            ref_logits, ref_score, _ = model.forward_tokens(
                tokens, score_query=n_z + SEARCH_CENTRE_TOKEN, score_cols=slice(n_z - 49, n_z),
                exact=True)
            assert torch.allclose(logits, ref_logits[0], atol=1e-4, rtol=0)
            assert torch.allclose(score, ref_score[0], atol=1e-6, rtol=0)


def test_exported_graphs_carry_config_and_static_shapes(weights, tmp_path):
    model = build_model(weights, depth=6)
    paths = export.export_model(model, tmp_path, precisions=("fp32", "int8"))
    assert sorted(paths) == ["first-fp32", "first-int8", "steady-fp32", "steady-int8",
                             "template-fp32"]
    digest = export.weights_hash(model)
    for name, path in paths.items():
        kind, precision = name.split("-")
        meta = export.read_metadata(path)
        assert meta["weights_hash"] == digest and meta["precision"] == precision
        assert meta["graph"] == kind
        assert export.model_config_of(path) == model.cfg
        assert json.loads(meta["model_config"])["depth"] == 6
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        shapes = ([i.shape for i in session.get_inputs()], [o.shape for o in session.get_outputs()])
        if kind == "template":
            assert shapes == ([[1, 3, 112, 112]], [[49, 192]])
            continue
        n_z = {"first": 245, "steady": 197}[kind]
        assert int(meta["template_tokens"]) == n_z
        assert shapes == ([[n_z, 192], [1, 3, 224, 224]], [[4, 605], [49]])
    onnx.checker.check_model(str(paths["steady-fp32"]))


def test_export_is_cached_per_weights_and_depth(weights, tmp_path):
    model = build_model(weights, depth=6)
    first = export.cached_graph_paths(model, directory=tmp_path)
    stamps = {k: p.stat().st_mtime_ns for k, p in first.items()}
    again = export.cached_graph_paths(build_model(weights, depth=6), directory=tmp_path)
    assert again == first and {k: p.stat().st_mtime_ns for k, p in again.items()} == stamps
    other = export.cached_graph_paths(build_model(weights, depth=5), directory=tmp_path)
    assert set(other.values()).isdisjoint(first.values())
    assert sorted(tmp_path.iterdir()) == sorted([*first.values(), *other.values()])  # no temporaries left


@pytest.mark.parametrize("damage", ["cut short", "not onnx"])
def test_a_damaged_cached_graph_is_exported_again(weights, tmp_path, damage):
    model = build_model(weights, depth=6)
    steady = export.cached_graph_paths(model, directory=tmp_path)["steady"]
    whole = steady.read_bytes()
    steady.write_bytes(whole[:536] if damage == "cut short" else b"\x00garbage" * 64)
    assert not export.is_complete_export(steady, export.weights_hash(model))
    again = export.cached_graph_paths(model, directory=tmp_path)["steady"]
    assert again == steady and steady.read_bytes() == whole
    ort.InferenceSession(str(steady), providers=["CPUExecutionProvider"])


def test_cli_export_writes_the_graphs(weights, tmp_path, capsys):
    from fartrack_ros.cli import main

    assert main(["export", "--weights", weights, "--variant", "pico", "--out", str(tmp_path)]) == 0
    files = sorted(tmp_path.glob("*.onnx"))
    assert len(files) == 3
    assert {export.read_metadata(f)["graph"] for f in files} == {"first", "steady", "template"}
    assert "197 template tokens" in capsys.readouterr().out


def test_metadata_of_a_missing_or_foreign_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.onnx"):
        export.read_metadata(tmp_path / "nothing.onnx")
    foreign = tmp_path / "foreign.onnx"
    graph = onnx.helper.make_graph([], "g", [], [])
    onnx.save(onnx.helper.make_model(graph), str(foreign))
    with pytest.raises(ValueError, match="model_config"):
        export.model_config_of(foreign)


@pytest.mark.parametrize("name", REDUCED_CPU_BACKENDS)
def test_reduced_precision_backends_track_and_say_they_are_not_exact(weights, clip, name):
    boxes, tracker = boxes_of(weights, "pico", name, clip)
    assert not tracker.backend.exact_fp32
    assert np.isfinite(boxes).all() and (boxes[:, 2:] >= 10).all()


def test_fp16_backend_refuses_cpu(weights):
    model = build_model(weights, depth=6)
    with pytest.raises(ValueError, match="needs device 'cuda'"):
        create_backend("torch-fp16", model, device="cpu")


def test_default_cpu_backend_is_an_exact_fp32_backend(weights):
    name = default_backend("cpu")
    assert name in FP32_BACKENDS
    assert create_backend(name, build_model(weights, depth=6)).exact_fp32


def test_every_registered_cpu_backend_is_available_here():
    cpu = set(available_backends("cpu"))
    assert set(FP32_BACKENDS + REDUCED_CPU_BACKENDS + ["reference"]) <= cpu
    assert "torch-fp16" not in cpu
    assert ("torch-fp16" in available_backends()) == torch.cuda.is_available()


def test_crop_normalisers_are_bit_identical_to_preprocess():
    crop = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    expected = Normalizer()(crop).numpy()
    assert np.array_equal(NumpyCropNormalizer(224)(crop), expected)
    assert np.array_equal(TorchCropNormalizer(224)(crop).numpy(), expected)


def test_flop_count_matches_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    model = FARTrack(ModelConfig(stage="sparse", depth=2)).eval()
    templates, search = torch.zeros(1, 5, 3, 112, 112), torch.zeros(1, 3, 224, 224)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        # explicit attention: the counter has no formula for the CPU flash-attention kernel
        model.forward_tokens(model.assemble(templates, search), exact=True)
    counted = counter.get_total_flops() / 1e9
    assert forward_gflop(2, tokens=445, embed_templates=True) == pytest.approx(counted, rel=0.01)


def _peaked_logits(bins: tuple[int, int, int, int]) -> np.ndarray:
    """(4, VOCAB_SIZE) logits whose four coordinate distributions peak sharply at ``bins``."""
    logits = np.zeros((4, VOCAB_SIZE), dtype=np.float32)
    logits[np.arange(4), list(bins)] = 60.0
    return logits


def test_open_loop_box_iou_compares_the_decoded_boxes():
    # bin 150 decodes to ~0.0 and bin 225 to ~0.25 (crop-normalised xyxy): a box of a quarter
    # of the crop; the second box is the same moved right by 30 bins (~0.1 of the crop)
    a = _peaked_logits((150, 150, 225, 225))
    b = _peaked_logits((180, 150, 255, 225))
    inverted = _peaked_logits((225, 150, 150, 225))       # x1 < x0
    ious = open_loop_box_ious([(a, a), (a, b), (a, inverted)])
    assert ious[0] == pytest.approx(1.0)
    assert ious[1] == pytest.approx(0.15 * 0.25 / (2 * 0.25 * 0.25 - 0.15 * 0.25), abs=0.01)
    assert ious[2] == 0.0

