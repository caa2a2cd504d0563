"""The inference forward as one static-shape module: assembled template tokens + search crop in,
the 4x605 logits and the slot-4 sparsification score out.

Used by the ``torch`` backend (CPU eager, CUDA half precision with CUDA graphs) and exported to
ONNX (``fartrack_ros.runtime.export``). Same mathematics as ``FARTrack.forward_tokens`` with the
pruned template tokens dropped (exact: docs/performance.md), plus one exact shortcut: the head reads only the 4
command tokens, so the **last** block computes keys and values for every token but queries,
attention output, projection and MLP only for the 4 command rows (and the query of the search
centre row, whose attention feeds the sparsification score). That removes most of one block's
work (about 15 % of Pico's forward) without changing any result beyond fp32 rounding.

``TemplateEmbed`` is the per-template part (patch embedding + ``pos_embed_z0``), run once per
template crop.

Inputs: ``template_tokens`` (Nz, D): the 5 cached template embeddings with their slot identity
added and pruned tokens dropped, slot order; the last 49 rows are slot 4. ``search`` (1, 3, 224,
224): the normalised search crop. Outputs: ``logits`` (4, 605) and ``slot4_score`` (49,): the
search-centre query's attention to slot 4 summed over the executed blocks and averaged over heads
(zeros for models without sparsification).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ...model.fartrack import SEARCH_CENTRE_TOKEN, Block, FARTrack


_LINEAR_TENSORS = ("qkv_w", "qkv_b", "q_w", "q_b", "kv_w", "kv_b", "proj_w", "proj_b",
                   "fc1_w", "fc1_b", "fc2_w", "fc2_b")


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """F.linear in the weight's dtype (a no-op cast when the dtypes agree)."""
    return F.linear(x.to(weight.dtype), weight, bias)


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
    """(heads, N, hd) -> (heads, N, hd). float32: the fused SDPA kernel; reduced precision on
    CPU: explicit products in that precision with the softmax in float32 (SDPA's CPU kernel is
    slower in bfloat16 than in float32). ONNX export: the explicit form, which ONNX Runtime fuses
    (scale and transposes into FusedMatMul)."""
    if torch.onnx.is_in_onnx_export():
        return torch.matmul((torch.matmul(q, k.transpose(1, 2)) * scale).softmax(dim=-1), v)
    if q.dtype == torch.float32 or q.device.type != "cpu":
        # 4-D inputs: the fused CPU kernel is only chosen for (batch, heads, N, hd)
        return F.scaled_dot_product_attention(q[None], k[None], v[None])[0]
    logits = torch.matmul(q * scale, k.transpose(1, 2))
    return torch.matmul(logits.softmax(dim=-1, dtype=torch.float32).to(q.dtype), v)


class _BlockWeights(nn.Module):
    """One transformer block's tensors, with the norms the model's stage actually runs."""

    def __init__(self, block: Block):
        super().__init__()
        n1 = block.masknorm1.norm if block.masked_norms else block.norm1
        n2 = block.masknorm2.norm if block.masked_norms else block.norm2
        self.eps1, self.eps2 = float(n1.eps), float(n2.eps)
        self.num_heads = block.attn.num_heads
        dim = block.attn.proj.weight.shape[0]
        tensors = {
            "ln1_w": n1.weight, "ln1_b": n1.bias, "ln2_w": n2.weight, "ln2_b": n2.bias,
            "qkv_w": block.attn.qkv.weight, "qkv_b": block.attn.qkv.bias,
            "q_w": block.attn.qkv.weight[:dim], "q_b": block.attn.qkv.bias[:dim],
            "kv_w": block.attn.qkv.weight[dim:], "kv_b": block.attn.qkv.bias[dim:],
            "proj_w": block.attn.proj.weight, "proj_b": block.attn.proj.bias,
            "fc1_w": block.mlp.fc1.weight, "fc1_b": block.mlp.fc1.bias,
            "fc2_w": block.mlp.fc2.weight, "fc2_b": block.mlp.fc2.bias,
        }
        for name, t in tensors.items():
            self.register_buffer(name, t.detach().clone().contiguous())


class TokenForward(nn.Module):
    """Inference forward of ``model`` at its depth over pre-assembled template tokens."""

    def __init__(self, model: FARTrack, linear_dtype: Optional[torch.dtype] = None):
        """``linear_dtype`` (e.g. bfloat16): store the block linears in it and run them and the
        attention products in it, keeping the residual stream, norms and softmax in float32."""
        super().__init__()
        cfg = model.cfg
        bb = model.backbone
        self.sparse = cfg.stage == "sparse"
        self.dim = cfg.embed_dim
        self.num_heads = cfg.num_heads
        self.head_dim = cfg.embed_dim // cfg.num_heads
        self.scale = self.head_dim ** -0.5
        self.slot_tokens = cfg.template_tokens
        self.blocks = nn.ModuleList(_BlockWeights(b) for b in bb.ordered_blocks(cfg.depth))
        with torch.no_grad():
            self.register_buffer("patch_w", bb.patch_embed.proj.weight.detach().clone())
            self.register_buffer("patch_b", bb.patch_embed.proj.bias.detach().clone())
            self.register_buffer("search_identity",
                                 model.identity[0, cfg.num_templates].detach().clone())
            self.register_buffer("search_pos", bb.pos_embed_x[0].detach().clone())
            self.register_buffer("commands", model.command_tokens(1)[0].detach().clone())
            self.register_buffer("norm_w", bb.norm.weight.detach().clone())
            self.register_buffer("norm_b", bb.norm.bias.detach().clone())
            self.register_buffer("vocab", bb.word_embeddings.weight.detach().clone())
            self.register_buffer("output_bias", bb.output_bias.detach().clone())
        self.norm_eps = float(bb.norm.eps)
        if linear_dtype is not None:
            for blk in self.blocks:
                for name in _LINEAR_TENSORS:
                    setattr(blk, name, getattr(blk, name).to(linear_dtype))
        self.patch_size = cfg.patch_size
        self.search_size = cfg.search_size

    # ------------------------------------------------------------------ pieces
    def embed_search(self, search: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(search, self.patch_w, self.patch_b, stride=self.patch_size)
        x = x.flatten(2)[0].transpose(0, 1)                       # (196, D), row-major
        return x + self.search_identity + self.search_pos         # official order

    def _heads(self, t: torch.Tensor, parts: int) -> tuple[torch.Tensor, ...]:
        """(N, parts*D) -> ``parts`` tensors (heads, N, head_dim) (views)."""
        n = t.shape[0]
        return t.view(n, parts, self.num_heads, self.head_dim).permute(1, 2, 0, 3).unbind(0)

    def _projected_heads(self, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                         parts: int) -> tuple[torch.Tensor, ...]:
        """``parts`` head tensors (heads, N, head_dim) of the linear projection of ``h``.

        In the ONNX export: one product per part, each reshaped and transposed to heads (ONNX
        Runtime folds the transpose into the following FusedMatMul). Slicing one wide product
        instead becomes a Split whose copies run on one thread while the other waits; separate
        Gemms use every thread and give bit-identical values (~2 % of the forward, 2 threads)."""
        if torch.onnx.is_in_onnx_export():
            d, n = self.dim, h.shape[0]
            return tuple(_linear(h, weight[i * d:(i + 1) * d], bias[i * d:(i + 1) * d])
                         .reshape(n, self.num_heads, self.head_dim).transpose(0, 1)
                         for i in range(parts))
        return self._heads(_linear(h, weight, bias), parts)

    def _centre_row(self, q_centre: torch.Tensor, k: torch.Tensor,
                    cols: slice) -> torch.Tensor:
        """Post-softmax attention of the search-centre query (heads, 1, hd) over ``cols``."""
        row = torch.matmul(q_centre.float(), k.float().transpose(1, 2)) * self.scale
        return row.softmax(dim=-1)[:, 0, cols]                   # (heads, ncols)

    def _full_block(self, blk: _BlockWeights, x: torch.Tensor, centre: int, cols: slice):
        n = x.shape[0]
        h = F.layer_norm(x, (self.dim,), blk.ln1_w, blk.ln1_b, blk.eps1)
        q, k, v = self._projected_heads(h, blk.qkv_w, blk.qkv_b, 3)
        out = _attention(q, k, v, self.scale)                            # (heads, N, hd)
        score = self._centre_row(q[:, centre:centre + 1], k, cols) if self.sparse else None
        x = x + _linear(out.transpose(0, 1).reshape(n, self.dim), blk.proj_w, blk.proj_b)
        h = F.layer_norm(x, (self.dim,), blk.ln2_w, blk.ln2_b, blk.eps2)
        x = x + _linear(F.gelu(_linear(h, blk.fc1_w, blk.fc1_b)), blk.fc2_w, blk.fc2_b)
        return x, score

    def _last_block(self, blk: _BlockWeights, x: torch.Tensor, centre: int, cols: slice):
        """Keys/values for all tokens; everything else for the 4 command rows (+ centre query)."""
        h = F.layer_norm(x, (self.dim,), blk.ln1_w, blk.ln1_b, blk.eps1)
        k, v = self._projected_heads(h, blk.kv_w, blk.kv_b, 2)
        rows = torch.cat([h[centre:centre + 1], h[-4:]]) if self.sparse else h[-4:]
        q = _linear(rows, blk.q_w, blk.q_b).view(-1, self.num_heads, self.head_dim).transpose(0, 1)
        attn = (torch.matmul(q.float(), k.float().transpose(1, 2)) * self.scale).softmax(dim=-1)
        score = attn[:, 0, cols] if self.sparse else None                          # (heads, r, N)
        out = torch.matmul(attn[:, -4:].to(v.dtype), v)                            # (heads, 4, hd)
        xc = x[-4:] + _linear(out.transpose(0, 1).reshape(4, self.dim), blk.proj_w, blk.proj_b)
        h = F.layer_norm(xc, (self.dim,), blk.ln2_w, blk.ln2_b, blk.eps2)
        xc = xc + _linear(F.gelu(_linear(h, blk.fc1_w, blk.fc1_b)), blk.fc2_w, blk.fc2_b)
        return xc, score

    # ------------------------------------------------------------------ forward
    def forward(self, template_tokens: torch.Tensor, search: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        n_z = template_tokens.shape[0]
        x = torch.cat([template_tokens, self.embed_search(search), self.commands])
        centre = n_z + SEARCH_CENTRE_TOKEN
        cols = slice(n_z - self.slot_tokens, n_z)
        score_sum = None
        for i, blk in enumerate(self.blocks):
            last = i == len(self.blocks) - 1
            x, s = (self._last_block if last else self._full_block)(blk, x, centre, cols)
            if s is not None:
                score_sum = s if score_sum is None else score_sum + s
        y = F.layer_norm(x, (self.dim,), self.norm_w, self.norm_b, self.norm_eps)
        logits = F.linear(y, self.vocab, self.output_bias)                # (4, 605)
        if score_sum is None:
            score = torch.zeros(self.slot_tokens, dtype=logits.dtype, device=logits.device)
        else:
            score = score_sum.mean(dim=0)
        return logits, score


class TemplateEmbed(nn.Module):
    """Normalised template crop (1, 3, 112, 112) -> (49, D): patch embedding + ``pos_embed_z0``.

    Run once per template crop; the slot identity is added per frame when tokens are assembled.
    """

    def __init__(self, model: FARTrack):
        super().__init__()
        bb = model.backbone
        self.register_buffer("weight", bb.patch_embed.proj.weight.detach().clone())
        self.register_buffer("bias", bb.patch_embed.proj.bias.detach().clone())
        self.register_buffer("pos", bb.pos_embed_z0[0].detach().clone())
        self.stride = model.cfg.patch_size

    def forward(self, crop: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(crop, self.weight, self.bias, stride=self.stride)
        return x.flatten(2)[0].transpose(0, 1) + self.pos
