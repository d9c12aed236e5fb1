"""Accumulate extractor features into Gaussian statistics (and keep rows for KID / precision-recall).

`FeatureAccumulator` is a torchmetrics `Metric`: under DDP each rank updates it with its share of
images and `compute()` sums the moments and concatenates the kept rows across ranks (torchmetrics'
own synchronisation), so every rank gets the statistics of all samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat


@dataclass
class FeatureStats:
    """Mean and covariance (float64) of `count` feature vectors, plus the rows themselves (float32)."""

    mu: torch.Tensor
    sigma: torch.Tensor
    count: int
    features: torch.Tensor

    @property
    def dim(self) -> int:
        return int(self.mu.numel())

    def to(self, device: torch.device | str) -> FeatureStats:
        return FeatureStats(self.mu.to(device), self.sigma.to(device), self.count, self.features.to(device))


def stats_from_features(features: torch.Tensor) -> FeatureStats:
    """Statistics of a feature matrix (N, D) in one go — local to this process, never synchronised.

    (Under DDP a synchronising Metric here would wait for ranks that are not computing the same
    thing, e.g. in rank-0-only stages such as self_filter's FID(kept, all).)
    """
    acc = FeatureAccumulator(features.shape[1], sync_on_compute=False)
    acc.update(features)
    return acc.compute()


class FeatureAccumulator(Metric):
    """Running Σf, Σffᵀ and count in float64, and the float32 rows; `compute()` → FeatureStats."""

    full_state_update = False
    higher_is_better = None
    is_differentiable = False

    def __init__(self, num_features: int, **kwargs):
        super().__init__(**kwargs)
        self.num_features = int(num_features)
        d = self.num_features
        self.add_state("total", torch.zeros(d, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("outer", torch.zeros(d, d, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("rows", [], dist_reduce_fx="cat")

    def update(self, features: torch.Tensor) -> None:
        if features.ndim != 2 or features.shape[1] != self.num_features:
            raise ValueError(f"expected features (N, {self.num_features}), got {tuple(features.shape)}")
        if not torch.isfinite(features).all():
            raise ValueError("feature extractor returned NaN or inf")
        f = features.detach().to(torch.float64)
        self.total += f.sum(dim=0)
        self.outer += f.T @ f
        self.count += f.shape[0]
        self.rows.append(features.detach().to(torch.float32))

    def compute(self) -> FeatureStats:
        n = int(self.count)
        if n < 2:
            raise ValueError(f"need at least 2 feature vectors for a covariance, got {n}")
        mu = self.total / n
        # Unbiased covariance from the raw moments: (Σffᵀ − n·μμᵀ) / (n − 1), in float64.
        sigma = (self.outer - n * torch.outer(mu, mu)) / (n - 1)
        return FeatureStats(mu=mu, sigma=(sigma + sigma.T) / 2, count=n, features=dim_zero_cat(self.rows))
