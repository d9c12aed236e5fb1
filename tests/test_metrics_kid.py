"""KID against a direct unbiased MMD² computation; determinism; sensitivity."""

import numpy as np
import pytest
import torch

from sdstylegan.metrics.kid import kernel_inception_distance


def direct_unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Bińkowski et al.'s estimator written out with explicit pair loops (k(a,b) = (a·b/d + 1)³)."""
    m, d = x.shape[0], x.shape[1]

    def k(a, b):
        return (a @ b / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_single_full_subset_equals_direct_mmd():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 6)), rng.normal(size=(30, 6)) * 1.5 + 0.3
    mean, std = kernel_inception_distance(torch.from_numpy(x), torch.from_numpy(y), subsets=1, subset_size=30)
    assert mean == pytest.approx(direct_unbiased_mmd2(x, y), rel=1e-9)
    assert std == 0.0


def test_subsets_are_seeded_and_subset_size_is_capped():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(50, 8, generator=g), torch.randn(40, 8, generator=g) + 0.5
    a = kernel_inception_distance(x, y, subsets=5, subset_size=1000, seed=3)
    b = kernel_inception_distance(x, y, subsets=5, subset_size=1000, seed=3)
    c = kernel_inception_distance(x, y, subsets=5, subset_size=20, seed=4)
    assert a == b and a != c
    # subset_size 1000 > 40 samples: lowered to 40, i.e. every subset of fake is the whole set
    assert np.isfinite(a[0])


def test_same_distribution_near_zero_shifted_clearly_positive():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(400, 8, generator=g), torch.randn(400, 8, generator=g)
    same, _ = kernel_inception_distance(x, y, subsets=10, subset_size=200)
    shifted, _ = kernel_inception_distance(x, y + 1.0, subsets=10, subset_size=200)
    assert abs(same) < 0.05 and shifted > 20 * abs(same) and shifted > 0.1


def test_bad_shapes_and_sizes():
    with pytest.raises(ValueError, match="shapes"):
        kernel_inception_distance(torch.zeros(5, 3), torch.zeros(5, 4))
    with pytest.raises(ValueError, match="at least 2"):
        kernel_inception_distance(torch.zeros(1, 3), torch.zeros(5, 3))
