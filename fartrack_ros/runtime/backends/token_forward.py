"""The inference forward as one static-shape module: assembled template tokens + search crop in,
the 4x605 logits and the slot-4 sparsification score out.

Used by the ``torch`` backend (CPU eager, CUDA half precision with CUDA graphs) and exported to
ONNX (``fartrack_ros.runtime.export``). It is the model's own ``FARTrack.forward_tokens`` on one
unbatched sequence, with three savings that change no result beyond fp32 rounding:

* pruned template tokens are dropped instead of masked (exact: docs/performance.md);
* templates are embedded once per crop (``TemplateEmbed``), not per frame;
* the **last** block computes keys and values for every token but everything else only for the
  4 command rows the head reads (``head_rows_only``): about 15 % of Pico's forward.

Inputs: ``template_tokens`` (Nz, D): the 5 cached template embeddings with their slot identity
added and pruned tokens dropped, slot order; the last 49 rows are slot 4. ``search`` (1, 3, 224,
224): the normalised search crop. Outputs: ``logits`` (4, 605) and ``slot4_score`` (49,): the
search-centre query's attention to slot 4 summed over the executed blocks and averaged over heads
(zeros for models without sparsification).
"""
from __future__ import annotations

import copy
from typing import Optional

import torch
from torch import nn

from fartrack_ros.model.fartrack import SEARCH_CENTRE_TOKEN, Block, FARTrack


def _reduced_precision_copy(model: FARTrack, dtype: torch.dtype,
                            linear_dtype: Optional[torch.dtype]) -> FARTrack:
    """A private copy of ``model`` in ``dtype`` with the executed blocks' linears in
    ``linear_dtype``, so the caller's model stays float32.

    Blocks past the model's depth never run; they are left out of the copy (None in their slots)
    so it costs only the memory of what runs."""
    executed = model.backbone.ordered_blocks(model.depth)
    skipped = {id(m): None for m in model.modules()
               if isinstance(m, Block) and all(m is not b for b in executed)}
    with torch.no_grad():
        twin = copy.deepcopy(model, memo=skipped).requires_grad_(False).to(dtype)
        if linear_dtype is not None:
            for block in twin.backbone.ordered_blocks(twin.depth):
                for layer in (block.attn.qkv, block.attn.proj, block.mlp.fc1, block.mlp.fc2):
                    layer.to(linear_dtype)
    return twin


class TokenForward(nn.Module):
    """Inference forward of ``model`` at its depth over pre-assembled template tokens.

    In float32 it runs ``model``'s own parameters (shared, not copied); in a reduced precision on
    a private copy."""

    def __init__(self, model: FARTrack, dtype: torch.dtype = torch.float32,
                 linear_dtype: Optional[torch.dtype] = None):
        """``dtype``: weights and activations. ``linear_dtype`` (e.g. bfloat16): store the block
        linears in it and run them and the attention products in it, keeping the residual
        stream, norms and softmax in ``dtype``."""
        super().__init__()
        if dtype != torch.float32 or linear_dtype not in (None, torch.float32):
            model = _reduced_precision_copy(model, dtype, linear_dtype)
        cfg = model.cfg
        self.model = model
        self.sparse = cfg.stage == "sparse"
        self.dim = cfg.embed_dim
        self.slot_tokens = cfg.template_tokens
        self.search_size = cfg.search_size
        with torch.no_grad():
            # fixed per model, and a CUDA graph cannot build the index tensor while capturing
            self.register_buffer("commands", model.command_tokens(1)[0].detach().clone())

    def forward(self, template_tokens: torch.Tensor, search: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        n_z = template_tokens.shape[0]
        tokens = torch.cat([template_tokens, self.model.embed_search(search)[0], self.commands])
        logits, score, _ = self.model.forward_tokens(
            tokens, score_query=n_z + SEARCH_CENTRE_TOKEN if self.sparse else None,
            score_cols=slice(n_z - self.slot_tokens, n_z), exact=False, head_rows_only=True)
        if score is None:
            score = torch.zeros(self.slot_tokens, dtype=logits.dtype, device=logits.device)
        return logits, score


class TemplateEmbed(nn.Module):
    """Normalised template crop (1, 3, 112, 112) -> (49, D): the model's ``embed_templates``.

    Run once per template crop; the slot identity is added per frame when tokens are assembled.
    """

    def __init__(self, model: FARTrack):
        super().__init__()
        self.model = model

    def forward(self, crop: torch.Tensor) -> torch.Tensor:
        return self.model.embed_templates(crop)[0]
