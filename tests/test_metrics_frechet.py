"""Fréchet distance against an independent SciPy computation; identical sets; singular covariances."""

import logging

import numpy as np
import pytest
import scipy.linalg
import torch

from sdstylegan.metrics.features import stats_from_features
from sdstylegan.metrics.frechet import frechet_distance, regularisation_for


def scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook formula with scipy.linalg.sqrtm, written independently of the module."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("shift", [0.0, 0.3, 2.0])
def test_matches_scipy_sqrtm_on_random_features(shift):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 24)) @ rng.normal(size=(24, 24))
    b = rng.normal(size=(300, 24)) @ rng.normal(size=(24, 24)) * 0.8 + shift
    ref = scipy_fid(a, b)
    sa, sb = stats_from_features(torch.from_numpy(a)), stats_from_features(torch.from_numpy(b))
    ours = frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma)
    assert ours == pytest.approx(ref, rel=1e-4)


def test_a_set_against_itself_is_zero():
    x = torch.randn(200, 16, generator=torch.Generator().manual_seed(1)) * 3 + 5
    s = stats_from_features(x)
    assert abs(frechet_distance(s.mu, s.sigma, s.mu, s.sigma)) < 1e-8
    # but a shifted copy is exactly ‖shift‖² away
    t = stats_from_features(x + 0.5)
    assert frechet_distance(s.mu, s.sigma, t.mu, t.sigma) == pytest.approx(16 * 0.25, rel=1e-6)


def test_singular_covariance_warns_and_stays_finite(caplog):
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(10, 64, generator=g), torch.randn(12, 64, generator=g) + 1
    sa, sb = stats_from_features(a), stats_from_features(b)
    with caplog.at_level(logging.WARNING):
        eps = regularisation_for(sa.count, sb.count, 64, 1e-6, "fid")
    assert eps == 1e-6 and "singular" in caplog.text
    value = frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma, eps=eps)
    assert np.isfinite(value) and value > 0
    # the unregularised estimate is finite too, and eps changes it only slightly
    plain = frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma)
    assert np.isfinite(plain) and value == pytest.approx(plain, rel=1e-3)


def test_enough_samples_need_no_regularisation():
    assert regularisation_for(100, 100, 8, 1e-6, "fid") == 0.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes"):
        frechet_distance(torch.zeros(3), torch.eye(3), torch.zeros(4), torch.eye(4))
