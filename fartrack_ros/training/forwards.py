"""Forwards only training needs, kept off the model (which keeps what inference and export use).

``StageForward`` is the one module the optimiser's DistributedDataParallel wraps: every call a
recipe makes goes through its ``forward``, so DDP sees all of them. The two functions are
forwards that also return what an auxiliary loss or the sparse-stage rollout reads; both run the
model's own blocks.
"""
from __future__ import annotations

import torch
from torch import nn

from fartrack_ros.model.fartrack import COMMAND_TOKENS, SEARCH_CENTRE_TOKEN, FARTrack


def forward_with_aux(model: FARTrack, templates: torch.Tensor, search: torch.Tensor,
                     state_layer: int = 0):
    """Frame-stage forward for training-only auxiliary losses. Returns

    * logits (B, 4, 605), as ``model(templates, search)``;
    * the search tokens' states (B, 196, D) after ``state_layer`` blocks (0: after the last);
    * the last block's attention of the 4 command rows over the search tokens, averaged over
      heads (B, 4, 196): what the head's input is read from.
    """
    cfg = model.cfg
    depth = cfg.depth
    state_layer = state_layer or depth
    if not 1 <= state_layer <= depth:
        raise ValueError(f"search-state layer {state_layer} outside 1..{depth}")
    nz = cfg.num_templates * cfg.template_tokens
    search_cols = slice(nz, nz + cfg.search_tokens)
    blocks = model.backbone.ordered_blocks(depth)
    x = model.assemble(templates, search)
    states = None
    for i, block in enumerate(blocks[:-1], 1):
        x, _ = block(x, exact=False)
        if i == state_layer:
            states = x[:, search_cols]
    n = x.shape[1]
    x, command_attention = blocks[-1](x, score_query=slice(n - COMMAND_TOKENS, n),
                                      score_cols=search_cols, exact=False)
    if state_layer == depth:
        states = x[:, search_cols]
    return model.head(x), states, command_attention.mean(dim=1)


def forward_with_template_scores(model: FARTrack, templates: torch.Tensor, search: torch.Tensor,
                                 keep: torch.Tensor | None = None, exact: bool = False):
    """Forward that also returns the search-centre attention to all templates, (B, 5, 49).

    Used by the sparse training rollout, which prunes templates 0-3 each on its own.
    """
    cfg = model.cfg
    if cfg.stage == "sparse":
        model.renorm_command_embeddings_()
    nz = cfg.num_templates * cfg.template_tokens
    logits, score, _ = model.forward_tokens(model.assemble(templates, search), key_mask=keep,
                                            score_query=nz + SEARCH_CENTRE_TOKEN,
                                            score_cols=slice(0, nz), exact=exact)
    return logits, score.reshape(score.shape[0], cfg.num_templates, -1)


class StageForward(nn.Module):
    """One ``forward`` for every call the recipes make, so DistributedDataParallel sees them all."""

    def __init__(self, model: FARTrack, center_head: bool = False, center_layer: int = 0,
                 readout_attention: bool = False):
        super().__init__()
        self.model = model
        self.center_layer = center_layer
        self.readout_attention = readout_attention
        # training-only head of loss.center_weight (not saved with the model's weights)
        self.center_head = nn.Sequential(nn.LayerNorm(model.cfg.embed_dim), nn.Linear(model.cfg.embed_dim, 1)) \
            if center_head else None

    @property
    def auxiliary(self) -> bool:
        return self.center_head is not None or self.readout_attention

    def forward(self, templates, search, keep=None, exit_depths=None):
        if exit_depths is not None:
            return self.model.forward_exits(templates, search, depths=exit_depths, keep=keep)
        if self.auxiliary:
            logits, states, command_attention = forward_with_aux(self.model, templates, search,
                                                                 self.center_layer)
            center = self.center_head(states).squeeze(-1) if self.center_head is not None else None
            return logits, center, command_attention
        return self.model(templates, search, keep=keep)
