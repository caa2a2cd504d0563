"""PyTorch backends.

``reference``: what the official code does, in eager PyTorch: every frame re-embeds all 5
template crops, runs the full 445-token sequence with a boolean key mask and explicit attention
(softmax(q k^T * 0.125)), and reads the sparsification row from the attention probabilities.
Its box decode is the official PyTorch decode (``decode.decode_box_official``).

``torch``: the same mathematics, faster (``token_forward.TokenForward``). Each template is
embedded once when it is cropped; pruned template tokens are dropped instead of masked (397
tokens from the second frame on: a key masked to -inf gets exactly zero attention weight, so
dropping it changes nothing, see docs/performance.md); attention runs through the fused SDPA
kernel and only the one search-centre row needed for sparsification is recomputed explicitly;
the last block runs only the rows the head reads. Inputs go into reused buffers. On CUDA each
token count (245 / 197) is captured once as a CUDA graph.

``torch-bf16`` (CPU or CUDA): the block linears and attention products in bfloat16, the residual
stream, norms and softmaxes in float32. ``torch-fp16`` (CUDA): everything in float16 with CUDA
graphs. Not fp32-exact: their IoU against the fp32 boxes is documented in docs/performance.md.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from fartrack_ros.model.fartrack import SEARCH_CENTRE_TOKEN, FARTrack, prune_lowest
from fartrack_ros.runtime.preprocess import Normalizer
from fartrack_ros.runtime.backends import BackendOutput, InferenceBackend, register_backend
from fartrack_ros.runtime.backends.decode import decode_box_official
from fartrack_ros.runtime.backends.inputs import (TemplateEmbedding, TemplateTokenBuffers,
                                                  TorchCropNormalizer, assemble_template_tokens,
                                                  template_token_count)
from fartrack_ros.runtime.backends.token_forward import TemplateEmbed, TokenForward


@register_backend("reference")
class ReferenceBackend(InferenceBackend):
    exact_fp32 = True

    def __init__(self, model: FARTrack, device: str = "cpu"):
        super().__init__(model.to(device).eval(), device)
        self.normalize = Normalizer(device)
        cfg = self.cfg
        self.nz = cfg.num_templates * cfg.template_tokens
        self.n_tokens = self.nz + cfg.search_tokens + 4

    def prepare_template(self, crop_rgb: np.ndarray) -> torch.Tensor:
        return self.normalize(crop_rgb)        # the official tracker stores preprocessed crops

    @torch.inference_mode()
    def infer(self, templates: Sequence[torch.Tensor], keeps: Sequence[Optional[np.ndarray]],
              search_rgb: np.ndarray) -> BackendOutput:
        m = self.model
        z = torch.stack([t[0] for t in templates])[None]          # (1, 5, 3, 112, 112)
        x = self.normalize(search_rgb)
        tokens = m.assemble(z, x)
        key_mask = torch.ones(1, self.n_tokens, dtype=torch.bool, device=self.device)
        n_t = self.cfg.template_tokens
        for slot, keep in enumerate(keeps):
            if keep is not None:
                key_mask[0, slot * n_t:(slot + 1) * n_t] = torch.from_numpy(keep).to(self.device)
        logits, score, _ = m.forward_tokens(
            tokens, key_mask=key_mask if self.sparse else None,
            score_query=self.nz + SEARCH_CENTRE_TOKEN if self.sparse else None,
            score_cols=slice(self.nz - n_t, self.nz), exact=True)
        keep4 = prune_lowest(score[0]).cpu().numpy() if self.sparse else None
        return BackendOutput(logits[0].float().cpu().numpy(), keep4)

    def decode_box(self, logits: np.ndarray, resize_factor: float) -> list[float]:
        """The official decode operation for operation (sparse stage): whole tracks then equal
        the official ones bit for bit, not only to a fraction of a pixel."""
        if not self.sparse:
            return super().decode_box(logits, resize_factor)
        return decode_box_official(logits, resize_factor, self.cfg.search_size)


@register_backend("torch")
class TorchBackend(InferenceBackend):
    exact_fp32 = True
    dtype = torch.float32            # inputs, residual stream, norms
    linear_dtype = None              # block linears and attention products (None: ``dtype``)

    def __init__(self, model: FARTrack, device: str = "cpu", cuda_graphs: bool = True):
        super().__init__(model.to(device).eval(), device)
        cfg = self.cfg
        dev = torch.device(device)
        if dev.type == "cuda" and self.dtype == torch.float32:
            # fp32 means fp32: TF32 matmuls would break the 0.01 px contract
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        self.forward = TokenForward(model, self.dtype, self.linear_dtype).eval()
        self.template_embed = TemplateEmbed(self.forward.model).eval()
        with torch.inference_mode():
            self.slot_identity = model.identity[0, :cfg.num_templates].to(dev, self.dtype).clone()
        self.search_input = TorchCropNormalizer(cfg.search_size, dev, self.dtype)
        self.template_input = TorchCropNormalizer(cfg.template_size, dev, self.dtype)
        self.token_buffers = TemplateTokenBuffers(
            cfg.embed_dim, lambda n: torch.empty(n, cfg.embed_dim, device=dev, dtype=self.dtype))
        self.graphs = _CudaGraphs(self.forward) if (dev.type == "cuda" and cuda_graphs) else None

    @torch.inference_mode()
    def prepare_template(self, crop_rgb: np.ndarray) -> TemplateEmbedding:
        return TemplateEmbedding(self.template_embed(self.template_input(crop_rgb)))

    @torch.inference_mode()
    def infer(self, templates: Sequence[TemplateEmbedding], keeps: Sequence[Optional[np.ndarray]],
              search_rgb: np.ndarray) -> BackendOutput:
        n_z = template_token_count(keeps, self.cfg.template_tokens)
        if self.graphs is not None:
            z, search, run = self.graphs.get(n_z)
            assemble_template_tokens(templates, keeps, self.slot_identity, z)
            search.copy_(self.search_input(search_rgb))
            logits, score = run()
        else:
            z = assemble_template_tokens(templates, keeps, self.slot_identity,
                                               self.token_buffers.get(n_z))
            logits, score = self.forward(z, self.search_input(search_rgb))
        keep4 = prune_lowest(score.float().cpu()).numpy() if self.sparse else None
        return BackendOutput(logits.float().cpu().numpy(), keep4)


class _CudaGraphs:
    """One captured CUDA graph per template token count, with static input/output tensors."""

    def __init__(self, forward: TokenForward):
        self.forward = forward
        self.graphs: dict[int, tuple] = {}

    def get(self, n_z: int):
        entry = self.graphs.get(n_z)
        if entry is None:
            p = self.forward.commands          # the forward's device and dtype
            size = self.forward.search_size
            z = torch.zeros(n_z, self.forward.dim, device=p.device, dtype=p.dtype)
            search = torch.zeros(1, 3, size, size, device=p.device, dtype=p.dtype)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(2):                     # warm-up outside the capture
                    self.forward(z, search)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                outputs = self.forward(z, search)

            def run(graph=graph, outputs=outputs):
                graph.replay()
                return outputs

            entry = self.graphs[n_z] = (z, search, run)
        return entry


@register_backend("torch-bf16")
class TorchBf16Backend(TorchBackend):
    """Block linears and attention products in bfloat16 (CPU: AVX512-BF16 / AMX kernels),
    residual stream, norms and softmax in float32."""

    exact_fp32 = False
    linear_dtype = torch.bfloat16


@register_backend("torch-fp16")
class TorchFp16Backend(TorchBackend):
    """float16 weights and activations with CUDA graphs (CUDA only)."""

    exact_fp32 = False
    dtype = torch.float16
    devices = ("cuda",)

    def __init__(self, model: FARTrack, device: str = "cpu", cuda_graphs: bool = True):
        if torch.device(device).type != "cuda":
            raise ValueError(f"backend 'torch-fp16' needs device 'cuda', got {device!r} "
                             "(on CPU use 'torch-bf16' or 'onnxruntime-int8')")
        super().__init__(model, device, cuda_graphs)
