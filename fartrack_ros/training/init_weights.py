"""Where a training run's weights start.

* :func:`load_previous_stage`: a checkpoint of an earlier stage (own ``.safetensors`` or an
  official ``.pth.tar``), mapped to this stage's layout with the checkpoint module's explicit
  key map (frame/distill -> sparse copies ``normK`` into ``masknormK.norm``, as the official
  sparse stage starts). Loading is strict: every tensor must match.
* :func:`load_vit_pretrained`: an MAE / ViT-Tiny file for a fresh stage 1, loaded as the
  official stage 1 loads it: the
  12 ViT blocks, blocks 9-11 copied again into ``extension.0-2``, the patch embedding, the final
  norm, and the 14x14 positional table (cls entry dropped) resized bicubically to 7x7 for the
  template tables and kept at 14x14 for the search. Everything else keeps its fresh value.
* :func:`structured_init_`: for a fresh stage 1 without any pretrained file, a start that
  already has the geometry the task needs (``init.fresh: structured``): position tables and
  coordinate-bin embeddings built from the same Fourier features of crop coordinates, and
  "mimetic" query-key products (Trockman & Kolter, ICML 2023) so that attention starts out
  comparing token contents, and value-output products that copy what attention reads. Same
  parameters, only their starting values differ.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import torch
import torch.nn.functional as F

from fartrack_ros.model.checkpoint import CheckpointError, check_state_dict, load_weights, official_to_stage
from fartrack_ros.core.tokenizer import BINS, COORD_MIN, NUM_COORD_BINS
from fartrack_ros.model.fartrack import FARTrack

# prefixes that MAE / timm / DeiT / training wrappers put before the ViT's own names
_WRAPPER_PREFIXES = ("module.", "model.", "encoder.", "backbone.")
_CONTAINERS = ("model", "state_dict", "net", "module")


def load_previous_stage(model: FARTrack, path: str | Path) -> dict:
    """Load an earlier stage's weights into ``model`` (strict); returns the file's metadata."""
    state, cfg, meta = load_weights(path)
    if cfg.stage != model.cfg.stage:
        state = official_to_stage(state, cfg.stage, model.cfg.stage)
    check_state_dict(model, state, str(path))
    model.load_state_dict(state, strict=True)
    model.renorm_command_embeddings_()
    return meta


def read_tensor_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A flat name -> tensor dict from a .safetensors or a torch file (read with weights_only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained weights not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means: not a plain weights file
        raise CheckpointError(f"{path}: not a plain PyTorch weights file (only tensors and "
                              f"containers are read, nothing is executed): {exc}") from None
    for _ in range(3):                                   # unwrap {'model': {...}} and friends
        if isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            inner = next((obj[k] for k in _CONTAINERS if isinstance(obj.get(k), dict)), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a state dict, found {type(obj).__name__}")
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def strip_wrapper_prefixes(name: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in _WRAPPER_PREFIXES:
            if name.startswith(p):
                name = name[len(p):]
                changed = True
    return name


def resize_pos_embed_grid(table: torch.Tensor, grid: int) -> torch.Tensor:
    """(1, N, D) square positional table (no cls entry) -> (1, grid*grid, D), bicubic."""
    n, d = table.shape[1], table.shape[2]
    side = int(round(n ** 0.5))
    if side * side != n:
        raise ValueError(f"positional table of {n} entries is not a square grid")
    if side == grid:
        return table.clone()
    x = table.reshape(1, side, side, d).permute(0, 3, 1, 2)
    x = F.interpolate(x.float(), size=(grid, grid), mode="bicubic", align_corners=False)
    return x.permute(0, 2, 3, 1).reshape(1, grid * grid, d).to(table.dtype)


def vit_state_for(model: FARTrack, vit: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map ViT names (timm / MAE) to FARTrack parameter names."""
    cfg = model.cfg
    vit = {strip_wrapper_prefixes(k): v for k, v in vit.items()}
    out: dict[str, torch.Tensor] = {}
    block_re = re.compile(r"^blocks\.(\d+)\.(.+)$")
    sparse = cfg.stage == "sparse"
    for name, tensor in vit.items():
        m = block_re.match(name)
        if m:
            i, rest = int(m.group(1)), m.group(2)
            if i >= cfg.num_blocks:
                continue
            targets = [f"backbone.blocks.{i}.{rest}"]
            first_copied = cfg.num_blocks - cfg.num_extension      # blocks 9..11 -> extension 0..2
            if i >= first_copied:
                targets.append(f"backbone.extension.{i - first_copied}.{rest}")
            for t in targets:
                out[t] = tensor.clone()
                if sparse and rest.split(".")[0] in ("norm1", "norm2"):
                    out[t.replace(f".{rest.split('.')[0]}.", f".mask{rest.split('.')[0]}.norm.")] = tensor.clone()
        elif name.startswith("patch_embed.proj.") or name in ("norm.weight", "norm.bias", "cls_token"):
            out[f"backbone.{name}"] = tensor
    if "pos_embed" in vit:
        table = vit["pos_embed"]
        if table.shape[1] == cfg.search_tokens + 1:
            out["backbone.pos_embed"] = table
        grid_table = table[:, 1:] if int(round((table.shape[1] - 1) ** 0.5)) ** 2 == table.shape[1] - 1 else table
        z = resize_pos_embed_grid(grid_table, int(round(cfg.template_tokens ** 0.5)))
        out["backbone.pos_embed_z0"] = z
        out["backbone.pos_embed_z1"] = z.clone()
        if sparse:
            out["backbone.pos_embed_z"] = z.clone()
        out["backbone.pos_embed_x"] = resize_pos_embed_grid(grid_table, int(round(cfg.search_tokens ** 0.5)))
    return out


def load_vit_pretrained(model: FARTrack, path: str | Path) -> dict:
    """Initialise ``model`` from an MAE / ViT-Tiny file. Returns {"loaded": n, "ignored": [...]}.

    Raises CheckpointError when nothing matches or shapes differ (e.g. a ViT-Small file).
    """
    vit = read_tensor_file(path)
    mapped = vit_state_for(model, vit)
    own = model.state_dict()
    wrong = [f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}"
             for k, v in mapped.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if wrong:
        raise CheckpointError(f"{path}: pretrained ViT does not fit the model: {wrong[:6]}")
    usable = {k: v for k, v in mapped.items() if k in own}
    blocks = sum(1 for k in usable if ".attn.qkv.weight" in k)
    if blocks == 0:
        raise CheckpointError(f"{path}: no ViT block weights found (names like blocks.0.attn.qkv.weight)")
    with torch.no_grad():
        for k, v in usable.items():
            own[k].copy_(v.to(own[k].dtype))
    model.renorm_command_embeddings_()
    used_sources = {strip_wrapper_prefixes(k) for k in vit}
    ignored = sorted(k for k in used_sources
                     if not (k.startswith(("blocks.", "patch_embed.proj.")) or k in
                             ("norm.weight", "norm.bias", "cls_token", "pos_embed")))
    return {"loaded": len(usable), "blocks": blocks, "ignored": ignored}


# ----------------------------------------------------------------------------- structured init

FOURIER_FREQUENCIES = 24          # per axis: 48 dims for x, 48 for y (of the 192)


def fourier_features(coords: torch.Tensor, frequencies: int = FOURIER_FREQUENCIES) -> torch.Tensor:
    """(...,) crop-normalised coordinates -> (..., 2F) sin / cos features, unit mean square.

    Angular frequencies are geometric from pi to 128 pi, so features of two coordinates have a
    large dot product only when the coordinates are within about 1/100 of each other (the inner
    product is a sum of cosines of the difference: a peaked, shift-invariant kernel).
    """
    omega = math.pi * torch.logspace(0, math.log10(128.0), frequencies, dtype=torch.float64)
    angles = coords.double()[..., None] * omega
    return torch.cat([angles.sin(), angles.cos()], dim=-1).float()


def grid_position_table(grid: int, dim: int, scale: float) -> torch.Tensor:
    """(1, grid*grid, dim): x features of each token's centre in dims [0, 2F), y in [2F, 4F)."""
    centres = (torch.arange(grid, dtype=torch.float64) + 0.5) / grid
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    f = 2 * FOURIER_FREQUENCIES
    table = torch.zeros(grid * grid, dim)
    table[:, :f] = fourier_features(xs.reshape(-1))
    table[:, f:2 * f] = fourier_features(ys.reshape(-1))
    return (table * scale).unsqueeze(0)


def noisy_identity_svd(d: int, alpha: float, beta: float, generator: torch.Generator):
    """SVD (u, s, vh) of alpha Z + beta I, Z ~ N(0, 1/d): the mimetic target product."""
    target = alpha * torch.randn(d, d, generator=generator, dtype=torch.float64) / math.sqrt(d) \
        + beta * torch.eye(d, dtype=torch.float64)
    return torch.linalg.svd(target)


def mimetic_qk_(qkv_weight: torch.Tensor, num_heads: int, alpha: float, beta: float,
                generator: torch.Generator) -> None:
    """Set each head's W_q^T W_k to the best rank-d_head fit of alpha Z + beta I."""
    d = qkv_weight.shape[1]
    dh = d // num_heads
    for h in range(num_heads):
        u, s, vh = noisy_identity_svd(d, alpha, beta, generator)
        root = s[:dh].sqrt()
        qkv_weight[h * dh:(h + 1) * dh] = (u[:, :dh] * root).t().float()
        qkv_weight[d + h * dh:d + (h + 1) * dh] = (vh[:dh].t() * root).t().float()


def copying_value_output_(qkv_weight: torch.Tensor, proj_weight: torch.Tensor, alpha: float, beta: float,
                          generator: torch.Generator) -> None:
    """Set W_proj W_v (all heads together) to alpha Z + beta I: attention starts by copying what
    it attends to (the official random init makes this product ~0)."""
    d = proj_weight.shape[0]
    u, s, vh = noisy_identity_svd(d, alpha, beta, generator)
    root = s.sqrt()
    qkv_weight[2 * d:3 * d] = (root[:, None] * vh).float()
    proj_weight.copy_((u * root).float())


@torch.no_grad()
def structured_init_(model: FARTrack, seed: int = 0, alpha: float = 0.7, beta: float = 0.7,
                     value_alpha: float = 0.3, value_beta: float = 0.5) -> dict:
    """Fresh-weights start with task geometry built in (see the module docstring).

    * ``pos_embed_x`` / ``pos_embed_z0`` (and the stored copies): Fourier features of each
      token's centre in its crop (x in one band of channels, y in the next);
    * coordinate bins 0..599 of ``word_embeddings``: the same features of the bin's coordinate
      in both bands, so a token carrying a position scores the bins near it (the tied head);
    * every block's query / key: mimetic init (attention ~ content similarity + locality), and
      value / output products near a scaled identity (attention copies what it reads);
    * the 4 command-slot embeddings small (std 0.02).
    """
    cfg = model.cfg
    bb = model.backbone
    gen = torch.Generator().manual_seed(seed)
    d = cfg.embed_dim
    f = 2 * FOURIER_FREQUENCIES
    if 2 * f > d:
        raise ValueError(f"structured init needs embed_dim >= {2 * f}, got {d}")
    pos_scale = 0.5
    x_table = grid_position_table(int(round(cfg.search_tokens ** 0.5)), d, pos_scale)
    z_table = grid_position_table(int(round(cfg.template_tokens ** 0.5)), d, pos_scale)
    bb.pos_embed_x.copy_(x_table)
    for name in ("pos_embed_z0", "pos_embed_z1", "pos_embed_z"):
        if hasattr(bb, name):
            getattr(bb, name).copy_(z_table)
    bins = torch.arange(NUM_COORD_BINS, dtype=torch.float64)
    coords = COORD_MIN + (bins + 0.5) / BINS
    feats = fourier_features(coords) / math.sqrt(2 * FOURIER_FREQUENCIES)   # unit norm per band
    emb = bb.word_embeddings.weight
    emb[:NUM_COORD_BINS] *= 0.1                       # the rest of each row: small, still random
    emb[:NUM_COORD_BINS, :f] = feats
    emb[:NUM_COORD_BINS, f:2 * f] = feats
    for block in bb.ordered_blocks(cfg.num_blocks + cfg.num_extension):
        mimetic_qk_(block.attn.qkv.weight, cfg.num_heads, alpha, beta, gen)
        copying_value_output_(block.attn.qkv.weight, block.attn.proj.weight, value_alpha, value_beta, gen)
    # small command-slot embeddings, so that what the command tokens read through attention is
    # not drowned by their own (input-independent) embedding in the residual stream
    bb.position_embeddings.weight.normal_(0.0, 0.02, generator=gen)
    model.renorm_command_embeddings_()
    return {"fresh": "structured", "fourier_frequencies": FOURIER_FREQUENCIES,
            "mimetic_alpha": alpha, "mimetic_beta": beta, "value_alpha": value_alpha,
            "value_beta": value_beta}


__all__ = ["load_previous_stage", "load_vit_pretrained", "read_tensor_file", "vit_state_for",
           "resize_pos_embed_grid", "structured_init_", "fourier_features"]
