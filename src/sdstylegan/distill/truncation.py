"""Multi-modal truncation (Mokady et al. 2022, Sec. 4): truncate each w towards its own cluster centre.

    ws_t = multimodal_truncate(G, ws, centres, psi=0.5, distance="lpips", lpips=LPIPS(...))
    img = G.synthesis(ws_t, noise_mode="const")

For a sample w the centre c is the one whose image G(c) is nearest G(w) by LPIPS (`distance='lpips'`,
the paper's choice) or nearest w in W (`distance='w'`); then w_t = c + ψ(w − c), done by G.mapping's
truncation contract (`sdstylegan.models.mapping.truncate`, the same code `G.mapping(z, truncation_psi,
truncation_center=c)` runs), so ψ = 0 gives the centre and ψ = 1 leaves w unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sdstylegan.models.mapping import truncate

DISTANCES = ("lpips", "w")


def broadcast_ws(G: nn.Module, w: torch.Tensor) -> torch.Tensor:
    """[N, w_dim] → [N, num_ws, w_dim] (one w for every layer); [N, num_ws, w_dim] passes through."""
    return w.unsqueeze(1).expand(-1, G.num_ws, -1) if w.ndim == 2 else w


@torch.no_grad()
def render(G: nn.Module, w: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """Images of w ([N, w_dim] or [N, num_ws, w_dim]) with constant noise, in batches, clamped to [-1, 1]."""
    out = [G.synthesis(broadcast_ws(G, wb), noise_mode="const").float().clamp(-1, 1) for wb in w.split(batch)]
    return torch.cat(out)


def shrink(images: torch.Tensor, resolution: int | None) -> torch.Tensor:
    """Area-downsample square images larger than `resolution` (None = unchanged)."""
    if resolution is None or images.shape[-1] <= int(resolution):
        return images
    return F.interpolate(images, size=(int(resolution), int(resolution)), mode="area")


@torch.no_grad()
def nearest_image(
    lpips: nn.Module,
    x: torch.Tensor,  # [N, C, H, W] in [-1, 1]
    refs: torch.Tensor,  # [K, C, H, W] in [-1, 1]
    resolution: int | None = None,  # compare at most at this size (LPIPS memory grows with pixels)
    chunk: int = 16,  # references per LPIPS.cdist call
) -> torch.Tensor:
    """Index (N,) of the reference image nearest each image by LPIPS (at ≤ `resolution`², refs in chunks)."""
    x, refs = shrink(x, resolution), shrink(refs, resolution)
    return torch.cat([lpips.cdist(x, r) for r in refs.split(chunk)], dim=1).argmin(dim=1)


@torch.no_grad()
def nearest_centres(
    G: nn.Module,
    ws: torch.Tensor,  # [N, num_ws, w_dim] or [N, w_dim]
    centres: torch.Tensor,  # [K, w_dim]
    distance: str = "lpips",
    lpips: nn.Module | None = None,  # needed for distance='lpips'
    centre_images: torch.Tensor | None = None,  # G(centres), to reuse across calls
    batch: int = 64,
    lpips_resolution: int | None = None,  # LPIPS on images downsampled to this size (None = full)
) -> torch.Tensor:
    """Index (N,) of the centre nearest each sample: by LPIPS between G(w) and G(c), or in W."""
    if distance not in DISTANCES:
        raise ValueError(f"clustering.distance must be one of {list(DISTANCES)}, got {distance!r}")
    w0 = ws[:, 0] if ws.ndim == 3 else ws  # the mapping's w (all layers equal before mixing/truncation)
    if distance == "w":
        return torch.cdist(w0.float(), centres.float().to(w0.device)).argmin(dim=1)
    if lpips is None:
        raise ValueError("nearest_centres(distance='lpips') needs an LPIPS module")
    if centre_images is None:
        centre_images = render(G, centres.to(w0.device), batch)
    picks = [
        nearest_image(lpips, render(G, wb, batch), centre_images, lpips_resolution) for wb in ws.split(batch)
    ]
    return torch.cat(picks)


@torch.no_grad()
def multimodal_truncate(
    G: nn.Module,
    ws: torch.Tensor,  # [N, num_ws, w_dim] (G.mapping output) or [N, w_dim]
    centres: torch.Tensor,  # [K, w_dim] cluster centres in W
    psi: float = 0.5,  # 0 → the centre, 1 → unchanged
    distance: str = "lpips",  # lpips (image of the centre nearest G(w)) | w (Euclidean in W)
    lpips: nn.Module | None = None,
    centre_images: torch.Tensor | None = None,
    batch: int = 64,
    return_index: bool = False,
    lpips_resolution: int | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """w_t = c + ψ(w − c) with c the nearest centre of each sample; returns [N, num_ws, w_dim]."""
    if centres.ndim != 2 or centres.shape[1] != G.w_dim:
        raise ValueError(f"centres must have shape [K, {G.w_dim}], got {tuple(centres.shape)}")
    ws = broadcast_ws(G, ws)
    idx = nearest_centres(G, ws, centres, distance, lpips, centre_images, batch, lpips_resolution)
    out = truncate(ws, float(psi), centres.to(ws.device)[idx])
    return (out, idx) if return_index else out
