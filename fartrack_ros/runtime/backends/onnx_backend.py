"""ONNX Runtime backends: ``onnxruntime`` (fp32) and ``onnxruntime-int8`` (dynamic int8 linears).

Both run the two static graphs of ``fartrack_ros.runtime.export`` (245 template tokens on the
first tracked frame, 197 afterwards), exported once per weights and depth into the user cache
(or ``model_dir``). Template embeddings are computed once per template crop by the small
``template`` graph; per frame the backend only assembles the template tokens and normalises the
search crop into reused buffers, and ORT writes into preallocated outputs through I/O binding.
No NumPy matmul runs per frame: OpenBLAS's own spinning threads would compete with ORT's.

Providers: CUDA when ``device == "cuda"`` and onnxruntime has the CUDA provider, else CPU. The
CPU session uses torch's intra-op thread count so ``--threads`` means the same for every
backend.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import onnxruntime as ort
import torch

from fartrack_ros.config import ModelConfig
from fartrack_ros.model.fartrack import COMMAND_TOKENS, FARTrack, prune_lowest
from fartrack_ros.runtime.export import TEMPLATE_GRAPH, cached_graph_paths, graph_token_counts
from fartrack_ros.runtime.backends import BackendOutput, InferenceBackend, register_backend
from fartrack_ros.runtime.backends.inputs import (NumpyCropNormalizer, TemplateEmbedding,
                                                  assemble_template_tokens, template_token_count)


def session_options(threads: Optional[int], spinning: bool = True) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads or 0
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    if not spinning:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def providers_for(device: str) -> list[str]:
    if device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ValueError("device 'cuda' requested but this onnxruntime has no "
                             f"CUDAExecutionProvider (available: {ort.get_available_providers()})")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class _TemplateGraph:
    """The template embedding graph: template crop -> (49, D), into a fresh array per template."""

    def __init__(self, path: Path, options: ort.SessionOptions, providers: list[str],
                 template_size: int):
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.normalize = NumpyCropNormalizer(template_size)

    def __call__(self, crop_rgb: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"template": self.normalize(crop_rgb)})[0]


class _Graph:
    """One session with its input and output arrays bound once."""

    def __init__(self, path: Path, options: ort.SessionOptions, providers: list[str],
                 n_tokens: int, cfg: ModelConfig):
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.tokens = np.zeros((n_tokens, cfg.embed_dim), dtype=np.float32)
        self.search = np.zeros((1, 3, cfg.search_size, cfg.search_size), dtype=np.float32)
        self.logits = np.zeros((COMMAND_TOKENS, cfg.vocab_size), dtype=np.float32)
        self.score = np.zeros((cfg.template_tokens,), dtype=np.float32)   # over slot 4's tokens
        self.binding = self.session.io_binding()
        on_cpu = providers[0] == "CPUExecutionProvider"
        for name, array in (("template_tokens", self.tokens), ("search", self.search)):
            if on_cpu:
                self.binding.bind_cpu_input(name, array)
        for name, array in (("logits", self.logits), ("slot4_score", self.score)):
            self.binding.bind_output(name, "cpu", 0, np.float32, list(array.shape),
                                     array.ctypes.data)
        self.on_cpu = on_cpu

    def run(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.on_cpu:     # device inputs: copy the host arrays each call
            self.binding.bind_cpu_input("template_tokens", self.tokens)
            self.binding.bind_cpu_input("search", self.search)
        self.session.run_with_iobinding(self.binding)
        return self.logits, self.score


@register_backend("onnxruntime")
class OnnxRuntimeBackend(InferenceBackend):
    exact_fp32 = True
    precision = "fp32"

    def __init__(self, model: FARTrack, device: str = "cpu", model_dir: Optional[str] = None,
                 threads: Optional[int] = None):
        model = model.to("cpu").eval()
        super().__init__(model, device)
        cfg = self.cfg
        paths = cached_graph_paths(model, self.precision, model_dir)
        options = session_options(threads or torch.get_num_threads())
        providers = providers_for(device)
        counts = graph_token_counts(cfg)
        self.graphs = {counts[kind]: _Graph(paths[kind], options, providers, counts[kind], cfg)
                       for kind in counts}
        self.graph_paths = paths
        # one small product per template: a single thread, so no second spinning thread pool
        # competes with the forward's
        self.template_embed = _TemplateGraph(paths[TEMPLATE_GRAPH], session_options(1, False),
                                             providers, cfg.template_size)
        self.slot_identity = model.identity[0, :cfg.num_templates].detach().numpy().copy()
        self.search_input = NumpyCropNormalizer(cfg.search_size)

    def prepare_template(self, crop_rgb: np.ndarray) -> TemplateEmbedding:
        return TemplateEmbedding(self.template_embed(crop_rgb))

    def infer(self, templates: Sequence[TemplateEmbedding], keeps: Sequence[Optional[np.ndarray]],
              search_rgb: np.ndarray) -> BackendOutput:
        n_z = template_token_count(keeps, self.cfg.template_tokens)
        graph = self.graphs.get(n_z)
        if graph is None:
            raise ValueError(f"no exported graph for {n_z} template tokens; the graphs cover "
                             f"{sorted(self.graphs)} (masks must prune exactly 25 %)")
        assemble_template_tokens(templates, keeps, self.slot_identity, graph.tokens)
        self.search_input(search_rgb, out=graph.search)
        logits, score = graph.run()
        keep4 = prune_lowest(torch.from_numpy(score)).numpy() if self.sparse else None
        return BackendOutput(logits.copy(), keep4)


@register_backend("onnxruntime-int8")
class OnnxRuntimeInt8Backend(OnnxRuntimeBackend):
    """Linear layers in int8 (VNNI on this CPU), activations quantised per frame."""

    exact_fp32 = False
    precision = "int8"
    devices = ("cpu",)
