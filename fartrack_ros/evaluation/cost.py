"""Arithmetic cost of one forward and the machine's measured fp32 matmul rate.

The speed target of the fast backends is a share of ``matmul_gflops() / forward_gflop(...)``,
the frame rate a forward would reach if all of it ran at large-matmul speed.
"""
from __future__ import annotations

import time

import torch

from fartrack_ros.config import ModelConfig


def forward_gflop(depth: int, tokens: int = 445, cfg: ModelConfig = ModelConfig(),
                  embed_templates: bool = False) -> float:
    """Multiply-adds x 2 of one forward over ``tokens`` tokens at ``depth`` blocks, in GFLOP.

    Counts the linear layers, both attention products, the search patch embedding (the
    templates' too with ``embed_templates``, as the reference backend re-embeds them every frame)
    and the 4-token head. Element-wise work is left out: it is not where the FLOPs are.
    """
    d, hidden = cfg.embed_dim, int(cfg.embed_dim * cfg.mlp_ratio)
    linear = tokens * (d * 3 * d + d * d + 2 * d * hidden)
    attention = 2 * tokens * tokens * d
    patch = 3 * cfg.patch_size ** 2 * d
    embed = cfg.search_tokens * patch
    if embed_templates:
        embed += cfg.num_templates * cfg.template_tokens * patch
    head = 4 * d * cfg.vocab_size
    return 2 * (depth * (linear + attention) + embed + head) / 1e9


def matmul_gflops(size: int = 1024, seconds: float = 0.5) -> float:
    """fp32 GFLOP/s of a square ``size`` matmul at torch's current thread count (best of runs)."""
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    out = torch.empty(size, size)
    torch.mm(a, b, out=out)
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        torch.mm(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return 2 * size ** 3 / best / 1e9
