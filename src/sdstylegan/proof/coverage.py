"""Mode coverage of generated samples: untruncated, truncated toward w_avg, truncated multi-modally.

SDIP's claim (Mokady et al. 2022, Sec. 4, Table 2): truncating toward the global mean w_avg collapses samples
onto the dominant modes, while truncating each sample toward its perceptually nearest cluster centre keeps
every mode. Here the same z are rendered the three ways at each ψ, a mode classifier labels them, and the
share of each planted mode, the number of modes holding at least `min_share` of the samples and the
normalised entropy of the shares (1 = all modes equal) are reported beside a (stand-in) FID of each set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from sdstylegan.distill.truncation import multimodal_truncate, render

SETS = ("untruncated", "global", "multimodal")


def mode_shares(predicted: torch.Tensor, num_modes: int, min_share: float = 0.10) -> dict[str, Any]:
    """Share of each mode among the labels, modes with share ≥ min_share, normalised entropy and the minimum."""
    counts = torch.bincount(predicted.long().flatten(), minlength=num_modes)[:num_modes].double()
    total = float(counts.sum())
    if total == 0:
        raise ValueError("mode_shares: no label")
    shares = (counts / total).tolist()
    entropy = -sum(p * math.log(p) for p in shares if p > 0)
    return {
        "shares": shares,
        "modes_covered": sum(p >= min_share for p in shares),
        "min_share": min(shares),
        "entropy": entropy / math.log(num_modes) if num_modes > 1 else 1.0,
        "samples": int(total),
    }


@torch.no_grad()
def truncated_sets(
    G: nn.Module,
    psi: float,
    num: int,
    seed: int,
    centres: torch.Tensor,
    lpips: nn.Module | None,
    distance: str = "lpips",
    batch: int = 64,
    lpips_resolution: int | None = None,
) -> dict[str, torch.Tensor]:
    """The same `num` z (seeded) rendered untruncated, at ψ toward w_avg and at ψ toward the nearest centre."""
    device = G.mapping.w_avg.device
    z = torch.randn(num, G.z_dim, generator=torch.Generator().manual_seed(int(seed))).to(device)
    ws = torch.cat([G.mapping(zb) for zb in z.split(batch)])
    ws_global = torch.cat([G.mapping(zb, truncation_psi=float(psi)) for zb in z.split(batch)])
    centres = centres.to(device)
    centre_images = render(G, centres, batch) if distance == "lpips" else None
    ws_multi = multimodal_truncate(
        G, ws, centres, float(psi), distance, lpips, centre_images, batch, lpips_resolution=lpips_resolution
    )
    return {
        "untruncated": render(G, ws, batch),
        "global": render(G, ws_global, batch),
        "multimodal": render(G, ws_multi, batch),
    }


def coverage_table(
    G: nn.Module,
    classify: Callable[[torch.Tensor], torch.Tensor],  # float images [-1, 1] → mode index
    fid_to: Callable[[torch.Tensor], dict[str, float]],  # float images [-1, 1] → {reference: FID}
    psis: Sequence[float],
    num: int,
    seed: int,
    centres: torch.Tensor,
    lpips: nn.Module | None,
    num_modes: int,
    distance: str = "lpips",
    batch: int = 64,
    lpips_resolution: int | None = None,
    min_share: float = 0.10,
) -> tuple[dict[str, Any], dict[float, dict[str, torch.Tensor]]]:
    """Per ψ and sample set: mode shares (`mode_shares`) and FIDs; plus the images (for the report grids)."""
    table: dict[str, Any] = {}
    images: dict[float, dict[str, torch.Tensor]] = {}
    for psi in psis:
        sets = truncated_sets(G, psi, num, seed, centres, lpips, distance, batch, lpips_resolution)
        images[float(psi)] = sets
        row = {}
        for name, x in sets.items():
            row[name] = {**mode_shares(classify(x), num_modes, min_share), "fid": fid_to(x)}
        table[f"psi_{psi:g}"] = row
    return table, images
