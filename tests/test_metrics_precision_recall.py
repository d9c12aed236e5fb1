"""Improved precision/recall on planted distributions."""

import pytest
import torch

from sdstylegan.metrics.precision_recall import knn_radii, precision_recall


def blobs(n: int, centre: float, seed: int, dim: int = 4) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)) * 0.1 + centre


def test_radii_match_brute_force():
    x = blobs(30, 0.0, 0)
    d = torch.cdist(x, x) + torch.eye(30) * 1e9  # exclude self
    expected = d.sort(dim=1).values[:, 2]
    assert torch.allclose(knn_radii(x, k=3, block=7), expected, atol=1e-5)


def test_identical_sets_score_one():
    x = blobs(200, 0.0, 1)
    p, r = precision_recall(x, x.clone(), k=3)
    assert p == 1.0 and r == 1.0


def test_same_distribution_scores_high_disjoint_scores_zero():
    real = blobs(300, 0.0, 2)
    p, r = precision_recall(real, blobs(300, 0.0, 3), k=3)
    assert p > 0.8 and r > 0.8
    p, r = precision_recall(real, blobs(300, 5.0, 4), k=3)
    assert p == 0.0 and r == 0.0


def test_mode_collapse_keeps_precision_loses_recall():
    real = torch.cat([blobs(200, 0.0, 5), blobs(200, 3.0, 6)])
    fake = blobs(400, 0.0, 7)  # only one of the two real modes
    p, r = precision_recall(real, fake, k=3)
    assert p > 0.8 and r == pytest.approx(0.5, abs=0.1)


def test_k_must_be_smaller_than_the_set():
    with pytest.raises(ValueError, match="k"):
        knn_radii(blobs(3, 0.0, 8), k=3)
