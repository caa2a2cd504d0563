"""PyTorch backends.

``reference``: what the official code does, in eager PyTorch: every frame re-embeds all 5
template crops, runs the full 445-token sequence with a boolean key mask and explicit attention
(softmax(q k^T * 0.125)), and reads the sparsification row from the attention probabilities.

``torch``: the same mathematics, faster. Each template is embedded once when it is cropped;
pruned template tokens are dropped instead of masked (397 tokens from the second frame on,
equivalent per spec 6.3); attention runs through the fused SDPA kernel and only the one
search-centre row needed for sparsification is recomputed explicitly.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from ...model.fartrack import SEARCH_CENTRE_TOKEN, FARTrack, prune_lowest
from ..preprocess import Normalizer
from . import BackendOutput, InferenceBackend, register_backend


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


@register_backend("torch")
class TorchBackend(InferenceBackend):
    exact_fp32 = True

    def __init__(self, model: FARTrack, device: str = "cpu", exact_attention: bool = False):
        super().__init__(model.to(device).eval(), device)
        self.normalize = Normalizer(device)
        self.exact_attention = exact_attention
        with torch.inference_mode():
            self.commands = model.command_tokens(1)                           # constant
            self.slot_ids = model.identity[0, :self.cfg.num_templates, None, :]  # (5, 1, D)

    @torch.inference_mode()
    def prepare_template(self, crop_rgb: np.ndarray) -> torch.Tensor:
        return self.model.embed_templates(self.normalize(crop_rgb))[0]     # (49, D), cached

    @torch.inference_mode()
    def infer(self, templates: Sequence[torch.Tensor], keeps: Sequence[Optional[np.ndarray]],
              search_rgb: np.ndarray) -> BackendOutput:
        m = self.model
        parts = []
        for slot, (emb, keep) in enumerate(zip(templates, keeps)):
            tok = emb + self.slot_ids[slot]
            if keep is not None:
                tok = tok[torch.from_numpy(keep).to(self.device)]     # drop pruned tokens
            parts.append(tok)
        nz = sum(p.shape[0] for p in parts)
        n_last = parts[-1].shape[0]
        z = torch.cat(parts)[None]
        x = m.embed_search(self.normalize(search_rgb))
        tokens = torch.cat([z, x, self.commands], dim=1)
        logits, score, _ = m.forward_tokens(
            tokens, score_query=nz + SEARCH_CENTRE_TOKEN if self.sparse else None,
            score_cols=slice(nz - n_last, nz), exact=self.exact_attention)
        keep4 = prune_lowest(score[0]).cpu().numpy() if self.sparse else None
        return BackendOutput(logits[0].float().cpu().numpy(), keep4)
