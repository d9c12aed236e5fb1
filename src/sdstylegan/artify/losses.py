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
import torch.nn.functional as F

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


def histogram_remap(f: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """`f` (1, C, H, W) with each channel's values replaced, rank for rank, by the sorted values of `target`.

    Histogram matching (Risser et al. 2017): the loss ‖f − remap‖² pulls every channel's distribution to
    the target's. `target` may have another number of positions: its quantiles are interpolated.
    """
    x, t = f.flatten(2)[0], target.flatten(2)[0].sort(dim=1).values  # (C, n), (C, m)
    n, m = x.shape[1], t.shape[1]
    if m != n:
        t = F.interpolate(t[None], size=n, mode="linear", align_corners=True)[0]
    order = x.argsort(dim=1)  # one sort: the k-th smallest value of x receives the k-th smallest target
    return torch.empty_like(t, memory_format=torch.contiguous_format).scatter_(1, order, t).reshape(f.shape)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels (smoothness of the result)."""
    return (x[..., 1:, :] - x[..., :-1, :]).square().mean() + (x[..., :, 1:] - x[..., :, :-1]).square().mean()
