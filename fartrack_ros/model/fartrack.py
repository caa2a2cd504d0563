"""FARTrack: one model class for every stage (frame / distill / sparse) and depth (15 / 10 / 6).

Parameter names and shapes are the official state dicts' (see test_official_parity.py), so official
checkpoints load with ``strict=True``. The stage only switches which tensors exist (the sparse
layout adds ``masknorm*``, ``pos_embed_z`` and ``prev_position_embeddings``) and which block norms
run; the depth only decides how many blocks execute. Stored-but-unused tensors (cls token, MAE
positional embedding, ...) are registered so loading stays strict.

Token layout of one forward: [templates 5x49 | search 196 | 4 command tokens] = 445 tokens, or
fewer when pruned template tokens are dropped (sparse inference: 397 from the second frame on).
"""
from __future__ import annotations

import math
from typing import Iterable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fartrack_ros.config import ModelConfig
from fartrack_ros.core.tokenizer import COMMAND_IDS, PADDING_ID

SEARCH_CENTRE_TOKEN = 105   # row 7, col 7 of the 14x14 search grid: the sparsification query
COMMAND_TOKENS = len(COMMAND_IDS)   # x0, y0, x1, y1: the last tokens, the only ones the head reads


class PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, embed_dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)   # (B, H*W, D), row-major (y, x)


def linear(layer: nn.Linear, x: torch.Tensor, features: Optional[slice] = None) -> torch.Tensor:
    """``layer(x)``, or only its output ``features``, computed in the layer's dtype.

    The bfloat16 inference path stores the block linears in bfloat16 while the residual stream
    and the norms stay float32, so the input is cast to the weights' dtype (no cast when they
    agree: the official-precision forwards record no extra operation)."""
    weight, bias = layer.weight, layer.bias
    if features is not None:
        weight, bias = weight[features], bias[features]
    if x.dtype != weight.dtype:
        x = x.to(weight.dtype)
    return F.linear(x, weight, bias)


def key_bias(key_mask: Optional[torch.Tensor], dtype: torch.dtype) -> Optional[torch.Tensor]:
    """(B, N) bool key mask (True = visible) -> additive (B, 1, 1, N) bias of 0 / -inf.

    Adding 0 leaves a logit bit for bit unchanged and -inf gives exactly zero weight, so the
    bias reproduces the official ``masked_fill`` and also feeds the fused kernel."""
    if key_mask is None:
        return None
    bias = torch.zeros(key_mask.shape, dtype=dtype, device=key_mask.device)
    return bias.masked_fill(~key_mask, float("-inf"))[..., None, None, :]


def attention_probabilities(q: torch.Tensor, k: torch.Tensor, scale: float,
                            bias: Optional[torch.Tensor]) -> torch.Tensor:
    """softmax(q k^T * scale + bias) over the keys, in float32 whatever the inputs' precision.

    In float32 written out as the official code does: the rounding the exact forward
    reproduces. In a reduced precision the queries are scaled instead of the (N, N) logits:
    fewer multiplications, and the same values while the scale is a power of two (head_dim 64).
    """
    if q.dtype == torch.float32:
        logits = (q @ k.transpose(-2, -1)) * scale
    else:
        logits = (q * scale) @ k.transpose(-2, -1)
    if bias is not None:
        logits = logits + bias
    if logits.dtype == torch.float32:
        return logits.softmax(dim=-1)
    return logits.softmax(dim=-1, dtype=torch.float32)


def _explicit_products_faster(q: torch.Tensor) -> bool:
    """On CPU in reduced precision SDPA's kernel is slower than explicit products in that
    precision with the softmax in float32. (The ONNX export, too, takes the explicit products:
    ONNX Runtime fuses their scale and transposes into FusedMatMul.)"""
    return q.device.type == "cpu" and q.dtype != torch.float32


def _fused_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     bias: Optional[torch.Tensor]) -> torch.Tensor:
    """SDPA over (..., heads, N, head_dim). One unbatched sequence gets a batch axis of 1: the
    fused CPU kernel is only chosen for 4-D (batch, heads, N, head_dim) inputs."""
    if q.dim() == 3:
        return F.scaled_dot_product_attention(q[None], k[None], v[None], attn_mask=bias)[0]
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)


class Attention(nn.Module):
    """Multi-head self-attention over (..., N, D) tokens: a batch (B, N, D) or one sequence (N, D)."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        """(..., N, D) -> (..., heads, N, head_dim), a view.

        reshape and transpose only: ``movedim`` and ``unflatten`` crash the TorchScript ONNX
        exporter now and then (segmentation fault in its graph optimisation)."""
        return t.reshape(*t.shape[:-1], self.num_heads, -1).transpose(-3, -2)

    def _queries(self, x: torch.Tensor) -> torch.Tensor:
        return self._heads(linear(self.qkv, x, slice(0, x.shape[-1])))

    def _project(self, x: torch.Tensor, rows: Optional[slice],
                 exporting: bool) -> tuple[torch.Tensor, ...]:
        """Queries of ``rows`` (all when None); keys and values of every token."""
        dim = x.shape[-1]
        if exporting:
            # One product per part: slicing one wide product becomes a Split whose copies run
            # on one thread while the others wait; separate Gemms use every thread and give
            # bit-identical values (about 2 % of the forward on 2 threads).
            k, v = (self._heads(linear(self.qkv, x, slice(i * dim, (i + 1) * dim)))
                    for i in (1, 2))
        elif rows is None:
            return tuple(self._heads(t) for t in linear(self.qkv, x).chunk(3, dim=-1))
        else:
            k, v = (self._heads(t) for t in linear(self.qkv, x, slice(dim, 3 * dim)).chunk(2, -1))
        return self._queries(x if rows is None else x[..., rows, :]), k, v

    def forward(self, x: torch.Tensor, key_mask: Optional[torch.Tensor] = None,
                score_query: Optional[int | slice] = None, score_cols: Optional[slice] = None,
                exact: bool = True, rows: Optional[slice] = None
                ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Self-attention. ``key_mask`` (B, N) bool, True = visible key.

        Returns the output and, when ``score_query`` is given, the post-softmax attention of that
        query row over ``score_cols`` per head, (..., heads, ncols), in float32: the
        sparsification signal. A slice of query rows gives (..., heads, rows, ncols).
        ``exact`` computes softmax(q k^T * scale) explicitly as the official code does; otherwise
        the fused SDPA kernel runs (where it is the faster choice) and the score rows are
        recomputed on their own.
        ``rows``: the query rows whose output is computed (all when None); keys and values still
        come from every token. The output then holds only those rows.
        """
        exporting = torch.onnx.is_in_onnx_export()
        q, k, v = self._project(x, rows, exporting)
        bias = key_bias(key_mask, q.dtype)
        probabilities = None
        # A few rows (the head's): explicit products, in float32 even in a reduced precision:
        # they cost nothing there and their rounding would go straight into the logits.
        few_rows_in_float32 = rows is not None and q.dtype != torch.float32
        if exact or rows is not None or exporting or _explicit_products_faster(q):
            qk = (q.float(), k.float()) if few_rows_in_float32 else (q, k)
            probabilities = attention_probabilities(*qk, self.scale, bias)
            out = probabilities.to(v.dtype) @ v
        else:
            out = _fused_attention(q, k, v, bias)
        score = None
        if score_query is not None:
            # reduced-precision products would round the score and flip pruning decisions
            if probabilities is not None and rows is None and q.dtype == torch.float32:
                score = probabilities[..., score_query, score_cols]
            else:
                score = self._query_probabilities(x, q, k, bias, score_query, rows)[..., score_cols]
        return linear(self.proj, out.transpose(-3, -2).flatten(-2)), score

    def _query_probabilities(self, x: torch.Tensor, q: torch.Tensor, k: torch.Tensor,
                             bias: Optional[torch.Tensor], query: int | slice,
                             rows: Optional[slice]) -> torch.Tensor:
        """Attention probabilities of the ``query`` row(s), in float32 (fused-kernel paths)."""
        one_row = not isinstance(query, slice)
        selected = slice(query, query + 1) if one_row else query
        q_rows = q[..., selected, :] if rows is None else self._queries(x[..., selected, :])
        probabilities = attention_probabilities(q_rows.float(), k.float(), self.scale, bias)
        return probabilities[..., 0, :] if one_row else probabilities


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # GELU in its exact erf form, as the official code (a function: it has no parameters)
        return linear(self.fc2, F.gelu(linear(self.fc1, x)))


class MaskedLayerNorm(nn.Module):
    """Holds ``norm`` (eps 1e-5) under the official name ``masknormX.norm``.

    For visible tokens the official masked LayerNorm is a plain LayerNorm; invisible tokens are
    never attended to, so normalising them too changes nothing. ``exact=True`` evaluates the
    official formula term by term (sum / C, biased variance, ``/ sqrt(var + eps)``) so the
    reference backend reproduces its rounding; otherwise the fused kernel runs.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, x: torch.Tensor, exact: bool = False) -> torch.Tensor:
        norm = self.norm
        if not exact:
            return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
        count = x.shape[-1]
        mean = x.sum(dim=-1, keepdim=True) / count
        variance = ((x - mean) ** 2).sum(dim=-1, keepdim=True) / count
        return self.norm.weight * ((x - mean) / torch.sqrt(variance + self.norm.eps)) + self.norm.bias


def drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    if rate == 0.0 or not training:
        return x
    keep = 1.0 - rate
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    return x * mask / keep


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, masked_norms: bool,
                 drop_path_rate: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        if masked_norms:
            self.masknorm1 = MaskedLayerNorm(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        if masked_norms:
            self.masknorm2 = MaskedLayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.masked_norms = masked_norms
        self.drop_path_rate = drop_path_rate

    def forward(self, x: torch.Tensor, key_mask: Optional[torch.Tensor] = None,
                score_query: Optional[int | slice] = None, score_cols: Optional[slice] = None,
                exact: bool = True, rows: Optional[slice] = None
                ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """x (..., N, D) -> (block output, score); see :meth:`Attention.forward` for the score.

        ``rows``: compute the output of these rows only (all when None). Every token still
        serves as a key and value, so the rows' values are exactly those of the full block.
        """
        # The sparse model always runs its masknorms (eps 1e-5); norm1/norm2 hold stale distill
        # weights there (the official sparse model reads only the masknorms).
        if self.masked_norms:
            h1, h2 = (lambda t: self.masknorm1(t, exact)), (lambda t: self.masknorm2(t, exact))
        else:
            h1, h2 = self.norm1, self.norm2
        a, score = self.attn(h1(x), key_mask, score_query, score_cols, exact, rows)
        if rows is not None:
            x = x[..., rows, :]
        x = x + drop_path(a, self.drop_path_rate, self.training)
        x = x + drop_path(self.mlp(h2(x)), self.drop_path_rate, self.training)
        return x, score


class VisionTransformerBackbone(nn.Module):
    """The official ``backbone``: embeddings, 12 ``blocks`` + 3 ``extension`` blocks, ``norm``."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.embed_dim
        sparse = cfg.stage == "sparse"
        grid_z, grid_x = cfg.template_tokens, cfg.search_tokens
        self.output_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))                     # stored, unused
        self.pos_embed = nn.Parameter(torch.zeros(1, grid_x + 1, d))            # MAE table, unused
        if sparse:
            self.pos_embed_z = nn.Parameter(torch.zeros(1, grid_z, d))          # dead
        self.pos_embed_z0 = nn.Parameter(torch.zeros(1, grid_z, d))             # every template slot
        self.pos_embed_z1 = nn.Parameter(torch.zeros(1, grid_z, d))             # unused
        self.pos_embed_x = nn.Parameter(torch.zeros(1, grid_x, d))
        # max_norm=1 in the sparse layout is applied explicitly (renorm_command_embeddings_):
        # nn.Embedding would rewrite the tied output matrix in place on the first lookup.
        self.word_embeddings = nn.Embedding(cfg.vocab_size, d, padding_idx=PADDING_ID)
        self.position_embeddings = nn.Embedding(COMMAND_TOKENS, d)
        if sparse:
            self.prev_position_embeddings = nn.Embedding(cfg.prenum * COMMAND_TOKENS, d)    # dead
        self.patch_embed = PatchEmbed(cfg.patch_size, d)
        # stochastic depth as the official code: linear over the 12 blocks; the extension blocks
        # reuse the first rates (the official loop indexes the same list with i = 0..2)
        rates = torch.linspace(0, cfg.drop_path_rate, cfg.num_blocks).tolist()
        self.blocks = nn.ModuleList(
            Block(d, cfg.num_heads, cfg.mlp_ratio, sparse, rates[i]) for i in range(cfg.num_blocks))
        self.extension = nn.ModuleList(
            Block(d, cfg.num_heads, cfg.mlp_ratio, sparse, rates[i]) for i in range(cfg.num_extension))
        self.norm = nn.LayerNorm(d, eps=1e-6)

    def ordered_blocks(self, depth: int) -> list[Block]:
        """Blocks executed at ``depth``: blocks 0.. then extension 0.. (Tiny 12 + 3, Nano 10, Pico 6)."""
        return (list(self.blocks) + list(self.extension))[:depth]


class FARTrack(nn.Module):
    """The whole network. ``identity`` sits outside ``backbone`` as in the official modules."""

    def __init__(self, cfg: ModelConfig = ModelConfig()):
        super().__init__()
        self.cfg = cfg
        self.identity = nn.Parameter(torch.zeros(1, cfg.num_templates + 1, cfg.embed_dim))
        self.backbone = VisionTransformerBackbone(cfg)
        self.reset_parameters()

    # ------------------------------------------------------------------ set-up
    @property
    def depth(self) -> int:
        return self.cfg.depth

    def set_depth(self, depth: int) -> "FARTrack":
        """Cut to ``depth`` executed blocks (Tiny 15 / Nano 10 / Pico 6): same weights."""
        self.cfg = ModelConfig(**{**self.cfg.__dict__, "depth": depth})
        return self

    def reset_parameters(self) -> None:
        """Fresh initialisation as the official stage-1 model, without MAE weights."""
        bb = self.backbone
        nn.init.trunc_normal_(self.identity, std=0.02)
        for p in (bb.cls_token, bb.pos_embed, bb.pos_embed_z0, bb.pos_embed_z1, bb.pos_embed_x):
            nn.init.trunc_normal_(p, std=0.02)
        if hasattr(bb, "pos_embed_z"):
            nn.init.trunc_normal_(bb.pos_embed_z, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.kaiming_normal_(bb.word_embeddings.weight)
        with torch.no_grad():
            bb.word_embeddings.weight[PADDING_ID].zero_()
        nn.init.normal_(bb.position_embeddings.weight)
        nn.init.zeros_(bb.output_bias)
        self.renorm_command_embeddings_()

    @torch.no_grad()
    def renorm_command_embeddings_(self) -> None:
        """Apply the sparse layout's ``max_norm=1`` to rows 600-603, in place, as torch does.

        The official forward does this implicitly on its first lookup (``embedding_renorm_``:
        scale = 1 / (norm + 1e-7) when norm > 1) and it also changes the tied output logits.
        Idempotent. No-op for the frame / distill layouts (max_norm=None there).
        """
        if self.cfg.stage != "sparse":
            return
        weight = self.backbone.word_embeddings.weight
        for idx in COMMAND_IDS:
            row = weight[idx]
            norm = row.norm(2).item()
            if norm > 1.0:
                row.mul_(1.0 / (norm + 1e-7))

    # ------------------------------------------------------------------ embeddings
    def embed_templates(self, templates: torch.Tensor) -> torch.Tensor:
        """Patch embedding + ``pos_embed_z0`` of templates (..., 3, 112, 112) -> (..., 49, D).

        Independent of the slot, so the runtime caches it once per template.
        """
        lead = templates.shape[:-3]
        x = self.backbone.patch_embed(templates.reshape(-1, *templates.shape[-3:]))
        x = x + self.backbone.pos_embed_z0
        return x.reshape(*lead, *x.shape[-2:])

    def template_tokens(self, template_embeds: torch.Tensor) -> torch.Tensor:
        """(B, 5, 49, D) cached template embeddings -> (B, 245, D) with slot identities added."""
        ids = self.identity[0, :template_embeds.shape[1], None, :]
        x = template_embeds + ids
        return x.flatten(1, 2)

    def embed_search(self, search: torch.Tensor) -> torch.Tensor:
        x = self.backbone.patch_embed(search)
        x = x + self.identity[:, self.cfg.num_templates]   # official order: identity, then pos
        return x + self.backbone.pos_embed_x

    def command_tokens(self, batch: int) -> torch.Tensor:
        bb = self.backbone
        ids = torch.tensor(COMMAND_IDS, device=bb.word_embeddings.weight.device)
        x = bb.word_embeddings.weight[ids] + bb.position_embeddings.weight
        return x.unsqueeze(0).expand(batch, -1, -1)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """Final norm + tied head on the last 4 tokens: (..., N, D) -> (..., 4, 605) logits."""
        y = self.backbone.norm(x[..., -COMMAND_TOKENS:, :])
        return y @ self.backbone.word_embeddings.weight.t() + self.backbone.output_bias

    # ------------------------------------------------------------------ forward
    def forward_tokens(self, tokens: torch.Tensor, *, depth: Optional[int] = None,
                       key_mask: Optional[torch.Tensor] = None, score_query: Optional[int] = None,
                       score_cols: Optional[slice] = None, exit_depths: Sequence[int] = (),
                       exact: bool = True, head_rows_only: bool = False):
        """Run the blocks over an assembled token sequence, (B, N, D) or one sequence (N, D).

        Returns ``(logits, score, exits)``: logits (..., 4, 605) at ``depth``; ``score``
        (..., ncols) the ``score_query`` row's attention summed over executed layers and
        averaged over heads (or None); ``exits`` the logits at each of ``exit_depths``
        (distillation), in order.
        ``head_rows_only``: the last block computes only the 4 command rows the head reads (keys
        and values still from every token): the same logits for most of one block's work less.
        """
        depth = self.cfg.depth if depth is None else depth
        x = tokens
        score_sum = None
        exits = []
        wanted = set(exit_depths)
        blocks = self.backbone.ordered_blocks(depth)
        for i, block in enumerate(blocks, 1):
            n = x.shape[-2]
            rows = slice(n - COMMAND_TOKENS, n) if head_rows_only and i == len(blocks) else None
            x, s = block(x, key_mask, score_query, score_cols, exact, rows)
            if s is not None:
                score_sum = s if score_sum is None else score_sum + s
            if i in wanted:
                exits.append(self.head(x))
        logits = self.head(x)
        score = score_sum.mean(dim=-2) if score_sum is not None else None   # over heads
        return logits, score, exits

    def assemble(self, templates: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        """Images -> the full 445-token sequence. templates (B,5,3,112,112), search (B,3,224,224)."""
        z = self.template_tokens(self.embed_templates(templates))
        x = self.embed_search(search)
        return torch.cat([z, x, self.command_tokens(search.shape[0])], dim=1)

    def forward(self, templates: torch.Tensor, search: torch.Tensor,
                keep: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Training / batch forward: (B,5,3,112,112), (B,3,224,224) -> (B,4,605) logits.

        ``keep`` (B, 445) bool is the sparse stage's key mask (True = visible).
        """
        if self.cfg.stage == "sparse":
            self.renorm_command_embeddings_()
        logits, _, _ = self.forward_tokens(self.assemble(templates, search), key_mask=keep,
                                           exact=False)
        return logits

    def forward_exits(self, templates: torch.Tensor, search: torch.Tensor,
                      depths: Iterable[int] = range(5, 16),
                      keep: Optional[torch.Tensor] = None) -> list[torch.Tensor]:
        """Self-distillation forward: logits at every depth in ``depths`` (one pass)."""
        depths = sorted(depths)
        if self.cfg.stage == "sparse":
            self.renorm_command_embeddings_()
        _, _, exits = self.forward_tokens(self.assemble(templates, search), depth=depths[-1],
                                          key_mask=keep, exit_depths=depths, exact=False)
        return exits


def prune_lowest(scores: torch.Tensor, fraction: float = 0.25) -> torch.Tensor:
    """Keep mask (…, 49) bool: False for the ``floor(49 * fraction)`` lowest scores (official: 12 of 49)."""
    n = scores.shape[-1]
    k = math.floor(n * fraction)
    order = scores.argsort(dim=-1)
    keep = torch.ones_like(scores, dtype=torch.bool)
    keep.scatter_(-1, order[..., :k], False)
    return keep


def count_parameters_used(cfg: ModelConfig) -> int:
    """Parameters touched by inference at ``cfg.depth``: Tiny 6,986,717, Nano 4,762,397 and Pico
    2,982,941 of the official model's 7,057,373 (the rest is stored but never read)."""
    d, h = cfg.embed_dim, int(cfg.embed_dim * cfg.mlp_ratio)
    per_block = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (d * h + h) + (h * d + d)
    emb = (cfg.num_templates + 1) * d + 3 * cfg.patch_size ** 2 * d + d \
        + (cfg.template_tokens + cfg.search_tokens) * d + cfg.vocab_size * d + COMMAND_TOKENS * d \
        + cfg.vocab_size + 2 * d
    return emb + per_block * cfg.depth
