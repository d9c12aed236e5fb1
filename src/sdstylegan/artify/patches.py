"""Neighbourhood patches of feature maps and the patch-match score of the artifier.

A patch is the 3×3 neighbourhood of a position, all channels (C·9 values), with zero padding so every
position has one (a map of h×w gives h·w patches, in row-major order). Two images are compared by
`patch_match_scores`: for each content patch the cosine similarity to its best style patch, summed over
the content patches — the image similarity of the seed method. `nearest_patches` gives, per content
position, the index of that best style patch (the nearest-neighbour field the transfer rearranges by).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def extract_patches(fmap: torch.Tensor, size: int = 3) -> torch.Tensor:
    """(N, C, h, w) or (C, h, w) → (N, h·w, C·size²) patches (zero-padded, row-major positions)."""
    if fmap.ndim == 3:
        fmap = fmap[None]
    if fmap.ndim != 4 or size < 1 or size % 2 == 0:
        raise ValueError(
            f"extract_patches: need (N, C, h, w) maps and an odd size, got {tuple(fmap.shape)}, {size}"
        )
    return F.unfold(fmap, kernel_size=size, padding=size // 2).transpose(1, 2)


def normalized_patches(fmap: torch.Tensor, size: int = 3, eps: float = 1e-8) -> torch.Tensor:
    """`extract_patches` scaled to unit L2 norm (float32), so inner products are cosine similarities."""
    return F.normalize(extract_patches(fmap.float(), size), dim=-1, eps=eps)


def patch_match_scores(
    content: torch.Tensor,  # (P, D) unit-norm content patches
    style_maps: torch.Tensor,  # (N, C, h, w) style feature maps (any float dtype)
    size: int = 3,
    chunk: int = 256,  # style images per matrix product (memory: chunk·P·Q floats)
) -> torch.Tensor:
    """(N,) float32: Σ over content patches of the best cosine similarity among each style image's patches."""
    out = []
    for s in style_maps.split(chunk):
        sp = normalized_patches(s, size)  # (n, Q, D)
        sim = (sp.reshape(-1, sp.shape[-1]) @ content.T).view(sp.shape[0], sp.shape[1], -1)  # (n, Q, P)
        out.append(sim.amax(dim=1).sum(dim=1))
    return torch.cat(out) if out else torch.zeros(0)


def nearest_patches(content: torch.Tensor, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit-norm content (P, D) and style (Q, D) patches → (index of the best style patch, its cosine), each (P,)."""
    sim = content @ style.T
    best, idx = sim.max(dim=1)
    return idx, best


def global_descriptor(fmap: torch.Tensor) -> torch.Tensor:
    """(N, C, h, w) → (N, 2C): mean and max of each channel over positions — one vector per image for the ANN.

    Chosen by measurement (experiments/artify_2026-11-28.md): of the descriptors tried (means of unit
    features or unit patches, second moments of PCA-projected patches), its inner product after L2
    normalisation ranked the exact patch-match winner highest.
    """
    x = fmap.float().flatten(2)
    return torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)
