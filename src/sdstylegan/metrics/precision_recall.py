"""Improved precision and recall (Kynkäänniemi et al. 2019) on feature vectors.

Each set's manifold is the union of balls around its points, radius = distance to the k-th nearest
other point of the same set (k = 3 in the paper). Precision = share of generated samples inside the
real manifold; recall = share of real samples inside the generated manifold. The paper (and
StyleGAN2-ADA) use VGG-16 fc2 features; here the feature space is configurable
(`metrics.precision_recall.extractor`), so compare published numbers only in the same space.
Distances are computed in row blocks (memory O(block · N)).
"""

from __future__ import annotations

import torch


def knn_radii(features: torch.Tensor, k: int = 3, block: int = 1024) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row (the row itself, at distance 0, is skipped)."""
    n = features.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"precision/recall: need 1 ≤ k < number of samples, got k={k}, n={n}")
    f = features.to(torch.float32)
    radii = []
    for start in range(0, n, block):
        d = torch.cdist(f[start : start + block], f)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # k + 1: the smallest is the point itself
    return torch.cat(radii)


def manifold_coverage(
    points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, block: int = 1024
) -> float:
    """Share of `points` within `radii[j]` of some `centres[j]`."""
    c = centres.to(torch.float32)
    inside = 0
    for start in range(0, points.shape[0], block):
        d = torch.cdist(points[start : start + block].to(torch.float32), c)
        inside += int((d <= radii.unsqueeze(0)).any(dim=1).sum())
    return inside / points.shape[0]


def precision_recall(
    real: torch.Tensor, fake: torch.Tensor, k: int = 3, block: int = 1024
) -> tuple[float, float]:
    """(precision, recall) of generated features `fake` against real features `real`."""
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"precision/recall: feature shapes do not match: {tuple(real.shape)} vs {tuple(fake.shape)}"
        )
    precision = manifold_coverage(fake, real, knn_radii(real, k, block), block)
    recall = manifold_coverage(real, fake, knn_radii(fake, k, block), block)
    return precision, recall
