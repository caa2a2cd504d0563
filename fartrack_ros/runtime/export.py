"""ONNX export of the inference forward, with static shapes, cached per weights and depth.

Two forward graphs per model: ``first`` (245 template tokens: the first tracked frame, nothing
pruned yet, 445 tokens in all) and ``steady`` (197 template tokens: 4 x 37 + 49, 397 in all).
Both wrap ``backends.token_forward.TokenForward``:

    inputs   template_tokens (Nz, 192) float32   cached template embeddings + slot identity,
                                                 pruned tokens dropped, slot order
             search          (1, 3, 224, 224) float32, normalised search crop
    outputs  logits          (4, 605) float32
             slot4_score     (49,) float32       sparsification score of the slot-4 template

A third, small graph ``template`` (``TemplateEmbed``: normalised template crop (1, 3, 112, 112)
-> ``template_embedding`` (49, 192)) embeds each template crop once, so the onnxruntime backends
run all their arithmetic in ONNX Runtime's thread pool.

Each file carries its description in ONNX ``metadata_props`` (``fartrack.*`` keys): the model
config (JSON), the weights hash, the graph kind and token count, the precision. ``int8`` graphs
are the fp32 graphs with their linear layers dynamically quantised (onnxruntime.quantization).

Exported files are cached: ``cached_graph_paths`` looks in ``cache_dir()`` (``$FARTRACK_CACHE``
or ``$XDG_CACHE_HOME/fartrack_ros/onnx`` or ``~/.cache/fartrack_ros/onnx``) under a name built
from the weights hash, so a second tracker on the same weights starts without exporting.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Optional

import torch

from fartrack_ros.config import ModelConfig, config_from_dict, config_to_dict
from fartrack_ros.core.files import replaced_atomically
from fartrack_ros.model.fartrack import FARTrack
from fartrack_ros.runtime.backends.token_forward import TemplateEmbed, TokenForward

EXPORT_VERSION = "5"          # bump when the graph's inputs, outputs or maths change
OPSET = 17
INPUT_NAMES = ("template_tokens", "search")
OUTPUT_NAMES = ("logits", "slot4_score")
TEMPLATE_GRAPH = "template"
PRECISIONS = ("fp32", "int8")
META_PREFIX = "fartrack."


def graph_token_counts(cfg: ModelConfig) -> dict[str, int]:
    """Template tokens of the two static graphs: all 5x49, and 4 pruned slots + slot 4."""
    full = cfg.template_tokens
    kept = full - int(full * 0.25)
    return {"first": cfg.num_templates * full, "steady": (cfg.num_templates - 1) * kept + full}


def weights_hash(model: FARTrack) -> str:
    """sha256 (first 16 hex digits) of the model's tensors and config, depth included."""
    h = hashlib.sha256()
    h.update(json.dumps(config_to_dict(model.cfg), sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().to("cpu").contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    if os.environ.get("FARTRACK_CACHE"):
        return Path(os.environ["FARTRACK_CACHE"]) / "onnx"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fartrack_ros" / "onnx"


def graph_file_name(model: FARTrack, kind: str, precision: str = "fp32",
                    digest: Optional[str] = None) -> str:
    cfg = model.cfg
    digest = digest or weights_hash(model)
    return f"fartrack-{cfg.stage}-d{cfg.depth}-{digest}-v{EXPORT_VERSION}-{kind}-{precision}.onnx"


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {PRECISIONS}")


def graph_kinds(cfg: ModelConfig) -> list[str]:
    return [*graph_token_counts(cfg), TEMPLATE_GRAPH]


def export_graph(model: FARTrack, path: str | Path, kind: str, digest: Optional[str] = None) -> Path:
    """Export the fp32 ``kind`` graph ("first" / "steady" / "template") of ``model`` to ``path``."""
    import onnx

    cfg = model.cfg
    counts = graph_token_counts(cfg)
    if kind not in graph_kinds(cfg):
        raise ValueError(f"graph kind {kind!r} is not one of {graph_kinds(cfg)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu").eval()
    if kind == TEMPLATE_GRAPH:
        wrapper = TemplateEmbed(model).eval()
        args = (torch.zeros(1, 3, cfg.template_size, cfg.template_size),)
        names = (["template"], ["template_embedding"])
    else:
        wrapper = TokenForward(model).eval()
        args = (torch.zeros(counts[kind], cfg.embed_dim),
                torch.zeros(1, 3, cfg.search_size, cfg.search_size))
        names = (list(INPUT_NAMES), list(OUTPUT_NAMES))
    with replaced_atomically(path) as tmp:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")       # the TorchScript exporter's deprecation notices
            torch.onnx.export(wrapper, args, str(tmp), dynamo=False, opset_version=OPSET,
                              input_names=names[0], output_names=names[1], do_constant_folding=True)
        graph = onnx.load(str(tmp))
        _set_metadata(graph, {
            "format": "fartrack_ros", "export_version": EXPORT_VERSION,
            "model_config": json.dumps(config_to_dict(cfg), sort_keys=True),
            "weights_hash": digest or weights_hash(model), "graph": kind,
            "template_tokens": str(counts.get(kind, cfg.template_tokens)), "precision": "fp32",
        })
        onnx.save(graph, str(tmp))
    return path


def quantize_graph_int8(src: str | Path, dst: str | Path) -> Path:
    """Dynamic int8 quantisation of the linear layers (weights per channel, activations per
    tensor at run time). Attention products, norms and softmax stay fp32, and so do the
    linears that see only a few rows (the last block's command rows and the head): they cost
    nothing and their errors go straight into the logits."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dst = Path(dst)
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)          # the quantiser's generic advice on the root logger
    try:
        with replaced_atomically(dst) as tmp:
            quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["Gemm", "MatMul"],
                             nodes_to_exclude=_fp32_matmuls(src))
            graph = onnx.load(str(tmp))
            meta = read_metadata(src)
            meta["precision"] = "int8"
            _set_metadata(graph, meta)
            onnx.save(graph, str(tmp))
    finally:
        logging.disable(previous)
    return dst


def _fp32_matmuls(path: str | Path, few_rows: int = 8) -> list[str]:
    """Gemm/MatMul nodes kept in fp32: products of two activations (q k^T, attn v) and those
    whose activation input has at most ``few_rows`` rows."""
    import onnx

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    graph = model.graph
    weights = {init.name for init in graph.initializer}
    weights |= {n.output[0] for n in graph.node if n.op_type == "Constant"}
    rows = {}
    for value in list(graph.value_info) + list(graph.input):
        dims = value.type.tensor_type.shape.dim
        if len(dims) >= 2 and dims[-2].HasField("dim_value"):
            rows[value.name] = dims[-2].dim_value
    keep = []
    for node in graph.node:
        if node.op_type not in ("Gemm", "MatMul"):
            continue
        activations = [i for i in node.input[:2] if i not in weights]
        if len(activations) == 2 or any(rows.get(a, few_rows + 1) <= few_rows for a in activations):
            keep += [node.name, node.name + "_MatMul"]   # the quantiser splits Gemm -> MatMul + Add
    return keep


def _set_metadata(graph, values: dict[str, str]) -> None:
    keep = [p for p in graph.metadata_props if not p.key.startswith(META_PREFIX)]
    del graph.metadata_props[:]
    graph.metadata_props.extend(keep)
    for key, value in values.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = META_PREFIX + key, str(value)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The ``fartrack.*`` metadata of an exported file (prefix stripped)."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {path}")
    return _metadata_of(onnx.load(str(path), load_external_data=False))


def _metadata_of(model) -> dict[str, str]:
    return {p.key[len(META_PREFIX):]: p.value for p in model.metadata_props
            if p.key.startswith(META_PREFIX)}


def model_config_of(path: str | Path) -> ModelConfig:
    """The ModelConfig an exported file was made from."""
    meta = read_metadata(path)
    if "model_config" not in meta:
        raise ValueError(f"{path}: no fartrack.model_config metadata; not exported by fartrack_ros")
    return config_from_dict(ModelConfig, json.loads(meta["model_config"]))


def is_complete_export(path: str | Path, digest: str) -> bool:
    """Whether ``path`` is a whole exported graph of the weights with hash ``digest``, made by this
    export version. A cached file is reused only then: a file cut short (a killed writer, a full
    disk, or workers of an older release racing on one temporary file) can still parse, as a
    graph without nodes, and would fail every later start."""
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.is_file():
        return False
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (OSError, ValueError, DecodeError):
        return False
    meta = _metadata_of(model)
    return (len(model.graph.node) > 0 and meta.get("weights_hash") == digest
            and meta.get("export_version") == EXPORT_VERSION)


def export_model(model: FARTrack, out_dir: str | Path, precisions=("fp32",)) -> dict[str, Path]:
    """Export the graphs of ``model`` (and int8 versions of the forward graphs) into ``out_dir``.

    Returns {"first-fp32": path, "steady-fp32": path, "template-fp32": path, ...}; the template
    graph is always fp32. Existing files with the same name (same weights hash, depth and export
    version) are reused.
    """
    for p in precisions:
        _check_precision(p)
    out_dir = Path(out_dir)
    digest = weights_hash(model)
    paths = {}
    for kind in graph_kinds(model.cfg):
        fp32 = out_dir / graph_file_name(model, kind, "fp32", digest)
        if not is_complete_export(fp32, digest):
            export_graph(model, fp32, kind, digest)
        if "fp32" in precisions or kind == TEMPLATE_GRAPH:
            paths[f"{kind}-fp32"] = fp32
        if "int8" in precisions and kind != TEMPLATE_GRAPH:
            int8 = out_dir / graph_file_name(model, kind, "int8", digest)
            if not is_complete_export(int8, digest):
                quantize_graph_int8(fp32, int8)
            paths[f"{kind}-int8"] = int8
    return paths


def cached_graph_paths(model: FARTrack, precision: str = "fp32",
                       directory: Optional[str | Path] = None) -> dict[str, Path]:
    """{"first": path, "steady": path, "template": path} for ``model`` at ``precision``
    (the template graph is fp32), exporting on first use.

    Without ``directory`` the user cache is used, or a per-user temporary folder when the
    cache cannot be written (read-only home on a robot).
    """
    _check_precision(precision)
    precisions = (precision,)
    if directory is not None:
        paths = export_model(model, directory, precisions=precisions)
    else:
        try:
            paths = export_model(model, cache_dir(), precisions=precisions)
        except OSError:
            fallback = Path(tempfile.gettempdir()) / f"fartrack_ros-onnx-{os.getuid()}"
            paths = export_model(model, fallback, precisions=precisions)
    return {kind: paths[f"{kind}-{precision if kind != TEMPLATE_GRAPH else 'fp32'}"]
            for kind in graph_kinds(model.cfg)}
