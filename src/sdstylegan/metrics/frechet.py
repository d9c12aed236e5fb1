"""Fréchet distance between Gaussians fitted to features: FID (Inception) and FD-DINO (DINO).

d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½)   (Heusel et al. 2017)

Tr((Σ₁Σ₂)^½) is computed as Σ √λᵢ of the symmetric PSD matrix Σ₁^½ Σ₂ Σ₁^½ (same eigenvalues as
Σ₁Σ₂), in float64 with eigenvalues clamped at 0: unlike `scipy.linalg.sqrtm` of the non-symmetric
product this cannot return NaN or a complex part. When a covariance is singular (fewer samples than
feature dimensions) the estimate is biased and noisy: we warn and add `eps`·I to both covariances
(the pytorch-fid fallback), so the result stays finite and comparable across calls.
"""

from __future__ import annotations

import torch

from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)


def _psd_sqrt(m: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix (negative round-off eigenvalues → 0)."""
    vals, vecs = torch.linalg.eigh((m + m.T) / 2)
    return (vecs * vals.clamp(min=0).sqrt()) @ vecs.T


def frechet_distance(
    mu1: torch.Tensor,
    sigma1: torch.Tensor,
    mu2: torch.Tensor,
    sigma2: torch.Tensor,
    eps: float = 0.0,
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); `eps` > 0 adds eps·I to both Σ."""
    mu1, mu2 = mu1.to(torch.float64).flatten(), mu2.to(torch.float64).flatten()
    sigma1, sigma2 = sigma1.to(torch.float64), sigma2.to(torch.float64)
    d = mu1.numel()
    if mu2.numel() != d or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"frechet_distance: shapes do not match: mu {tuple(mu1.shape)}/{tuple(mu2.shape)}, "
            f"sigma {tuple(sigma1.shape)}/{tuple(sigma2.shape)}"
        )
    if eps > 0:
        eye = torch.eye(d, dtype=torch.float64, device=sigma1.device)
        sigma1, sigma2 = sigma1 + eps * eye, sigma2 + eps * eye
    s1_half = _psd_sqrt(sigma1)
    inner = s1_half @ sigma2 @ s1_half
    tr_covmean = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp(min=0).sqrt().sum()
    value = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * tr_covmean
    # Round-off can leave -1e-12 for identical statistics; a distance is never negative.
    return max(float(value), 0.0)


def regularisation_for(n1: int, n2: int, dim: int, eps: float, what: str) -> float:
    """`eps` (with a warning) when either covariance comes from ≤ dim samples, else 0."""
    if min(n1, n2) <= dim:
        log.warning(
            "%s: covariance from %d / %d samples in %d dimensions is singular; the distance is "
            "biased and noisy — adding %g·I to both covariances. Use more samples than dimensions.",
            what,
            n1,
            n2,
            dim,
            eps,
        )
        return eps
    return 0.0
