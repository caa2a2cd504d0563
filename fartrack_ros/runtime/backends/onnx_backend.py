"""ONNX Runtime backends: ``onnxruntime`` (fp32) and ``onnxruntime-int8`` (dynamic int8 linears).

Both run the two static graphs of ``fartrack_ros.runtime.export`` (245 template tokens on the
first tracked frame, 197 afterwards), exported once per weights and depth into the user cache
(or ``model_dir``). Template embeddings are computed once per template crop in NumPy (a 16x16
stride-16 convolution is a (49, 768) x (768, D) product); per frame the backend only assembles
the template tokens and normalises the search crop into reused buffers, and ORT writes into
preallocated outputs through I/O binding.

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

from ...model.fartrack import FARTrack, prune_lowest
from ..export import cached_graph_paths, graph_token_counts
from . import BackendOutput, InferenceBackend, register_backend
from .inputs import (NumpyCropNormalizer, TemplateEmbedding, TemplateTokenBuffers,
                     assemble_template_tokens, template_token_count)


def session_options(threads: Optional[int]) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads or 0
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return opts


def providers_for(device: str) -> list[str]:
    if device == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ValueError("device 'cuda' requested but this onnxruntime has no "
                             f"CUDAExecutionProvider (available: {ort.get_available_providers()})")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class NumpyTemplateEmbedder:
    """Template crop -> (49, D) float32: patch embedding as one matmul, + ``pos_embed_z0``."""

    def __init__(self, model: FARTrack):
        bb = model.backbone
        self.patch = model.cfg.patch_size
        w = bb.patch_embed.proj.weight.detach().cpu().numpy()           # (D, 3, p, p)
        self.weight_t = np.ascontiguousarray(w.reshape(w.shape[0], -1).T, dtype=np.float32)
        self.bias = bb.patch_embed.proj.bias.detach().cpu().numpy().astype(np.float32)
        self.pos = bb.pos_embed_z0[0].detach().cpu().numpy().astype(np.float32)
        self.normalize = NumpyCropNormalizer(model.cfg.template_size)

    def __call__(self, crop_rgb: np.ndarray) -> np.ndarray:
        x = self.normalize(crop_rgb)[0]                                    # (3, S, S)
        p, g = self.patch, x.shape[-1] // self.patch
        patches = x.reshape(3, g, p, g, p).transpose(1, 3, 0, 2, 4).reshape(g * g, -1)
        out = patches @ self.weight_t
        out += self.bias
        out += self.pos
        return out


class _Graph:
    """One session with its input and output arrays bound once."""

    def __init__(self, path: Path, options: ort.SessionOptions, providers: list[str],
                 n_tokens: int, dim: int, search_size: int):
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.tokens = np.zeros((n_tokens, dim), dtype=np.float32)
        self.search = np.zeros((1, 3, search_size, search_size), dtype=np.float32)
        self.logits = np.zeros((4, 605), dtype=np.float32)
        self.score = np.zeros((49,), dtype=np.float32)
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
        self.graphs = {counts[kind]: _Graph(paths[kind], options, providers, counts[kind],
                                            cfg.embed_dim, cfg.search_size)
                       for kind in counts}
        self.graph_paths = paths
        self.template_embed = NumpyTemplateEmbedder(model)
        self.slot_identity = model.identity[0, :cfg.num_templates].detach().numpy().copy()
        self.search_input = NumpyCropNormalizer(cfg.search_size)
        self.fallback = TemplateTokenBuffers(cfg.embed_dim,
                                             lambda n: np.empty((n, cfg.embed_dim), np.float32))

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
