"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with a cubic polynomial kernel.

k(x, y) = (xᵀy / d + 1)³; the estimator (torchmetrics' `poly_mmd`) drops the diagonal of the
within-set kernel matrices. As in StyleGAN2-ADA / torchmetrics, it is averaged over `subsets`
random subsets of `subset_size` rows each; our subsets come from a seeded generator, so the same
features give the same KID. Computed in float64.
"""

from __future__ import annotations

import torch
from torchmetrics.image.kid import poly_mmd

from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)


def kernel_inception_distance(
    real: torch.Tensor,
    fake: torch.Tensor,
    subsets: int = 100,  # number of random subsets averaged
    subset_size: int = 1000,  # rows per subset (lowered to the smaller set's size when needed)
    degree: int = 3,  # polynomial kernel degree
    coef: float = 1.0,  # polynomial kernel offset
    seed: int = 0,  # subset sampling
) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD² over random subsets of `real` and `fake` features (N, D)."""
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"KID: feature shapes do not match: {tuple(real.shape)} vs {tuple(fake.shape)}")
    if subsets < 1 or subset_size < 2:
        raise ValueError(f"KID: subsets ≥ 1 and subset_size ≥ 2 required, got {subsets}, {subset_size}")
    m = min(subset_size, real.shape[0], fake.shape[0])
    if m < 2:
        raise ValueError(
            f"KID needs at least 2 real and 2 generated samples, got {real.shape[0]} and {fake.shape[0]}"
        )
    if m < subset_size:
        log.info("KID: subset size lowered from %d to %d (number of samples)", subset_size, m)
    gen = torch.Generator().manual_seed(int(seed))
    real64, fake64 = real.to(torch.float64), fake.to(torch.float64)
    values = []
    for _ in range(subsets):
        r = real64[torch.randperm(real.shape[0], generator=gen)[:m].to(real.device)]
        f = fake64[torch.randperm(fake.shape[0], generator=gen)[:m].to(fake.device)]
        values.append(poly_mmd(r, f, degree=degree, coef=coef))
    v = torch.stack(values)
    return float(v.mean()), float(v.std(unbiased=False)) if subsets > 1 else 0.0
