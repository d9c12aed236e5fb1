"""Pieces of the patch-matched style loss: the match field, its propagation to other layers, Gram matrices,
histogram remapping and total variation.

The match is made once, at `match_layer` (conv4_1): for each content position the style position of the
best 3×3 patch (cosine). A layer with `f`× the resolution inherits it: content position (Y, X) looks at
the matched position of (Y//f, X//f) and takes the style feature at (ys·f + Y%f, xs·f + X%f). The style
target of a layer is then the style features rearranged on the content grid ("matched features"); its
Gram matrix and per-channel histograms are what the result has to reproduce.
"""

from __future__ import annotations

import torch

from sdstylegan.artify.patches import nearest_patches, normalized_patches


def match_field(content: torch.Tensor, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Maps (1, C, h, w), (1, C, hs, ws) → (style position per content position (h·w,), its cosine)."""
    return nearest_patches(normalized_patches(content)[0], normalized_patches(style)[0])


def propagate(
    field: torch.Tensor,  # (h·w,) style positions (row-major over the match layer's style map)
    match_hw: tuple[int, int],  # content map size (h, w) at the match layer
    match_style_w: int,  # style map width at the match layer
    out_hw: tuple[int, int],  # content size (H, W) at the target layer (or pixels)
    style_hw: tuple[int, int],  # style size (Hs, Ws) at the target layer
) -> torch.Tensor:
    """(H·W,) style positions at the target layer: each match expanded to its f×f block (f = H // h)."""
    (h, w), (H, W), (Hs, Ws) = match_hw, out_hw, style_hw
    fy, fx = max(1, H // h), max(1, W // w)
    Y, X = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    src = field.view(h, w)[(Y // fy).clamp(max=h - 1), (X // fx).clamp(max=w - 1)]
    ys, xs = src // match_style_w, src % match_style_w
    ys = (ys * fy + Y % fy).clamp(max=Hs - 1)
    xs = (xs * fx + X % fx).clamp(max=Ws - 1)
    return (ys * Ws + xs).reshape(-1)


def rearrange(style: torch.Tensor, positions: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """Style features/pixels (1, C, Hs, Ws) taken at `positions` → (1, C, H, W) on the content grid."""
    c = style.shape[1]
    return style.reshape(1, c, -1)[:, :, positions].reshape(1, c, *out_hw)


def gram(f: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) → (N, C, C) Gram matrices normalised by the number of positions."""
    x = f.flatten(2)
    return x @ x.transpose(1, 2) / x.shape[-1]


def sorted_channels(target: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) → (C, H·W): each channel's values sorted (the quantile function `histogram_remap` reads)."""
    return target.flatten(2)[0].sort(dim=1).values


def histogram_remap(f: torch.Tensor, target_sorted: torch.Tensor, bins: int = 256) -> torch.Tensor:
    """`f` (1, C, H, W) with each channel mapped through its own CDF and the target's quantile function.

    Histogram matching (Risser et al. 2017): the loss ‖f − remap‖² pulls every channel's distribution to the
    target's. The CDF of `f` comes from a `bins`-bin histogram, linear within a bin (no sort per step: a
    256² conv1_1 map is 2M values); `target_sorted` is `sorted_channels(target)`, any number of values.
    The map is monotone, takes min to the target's min and max to its max.
    """
    x = f.flatten(2)[0]  # (C, n)
    n, m = x.shape[1], target_sorted.shape[1]
    lo, hi = x.amin(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)
    pos = (x - lo) / (hi - lo).clamp_min(1e-12) * bins
    idx = pos.long().clamp(max=bins - 1)
    hist = torch.zeros(x.shape[0], bins, dtype=x.dtype, device=x.device).scatter_add_(
        1, idx, torch.ones_like(x)
    )
    below = hist.cumsum(dim=1) - hist
    u = (below.gather(1, idx) + (pos - idx) * hist.gather(1, idx)) / n  # empirical CDF in [0, 1]
    q = u * (m - 1)
    i0 = q.floor().long().clamp(0, m - 1)
    i1 = (i0 + 1).clamp(max=m - 1)
    w = q - i0
    return (target_sorted.gather(1, i0) * (1 - w) + target_sorted.gather(1, i1) * w).view_as(f)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels (smoothness of the result)."""
    return (x[..., 1:, :] - x[..., :-1, :]).square().mean() + (x[..., :, 1:] - x[..., :, :-1]).square().mean()
