"""Feature accumulation: exact moments, batch-split invariance, bad input."""

import numpy as np
import pytest
import torch

from sdstylegan.metrics.features import FeatureAccumulator, stats_from_features


def test_moments_match_numpy_and_do_not_depend_on_batching():
    x = torch.randn(97, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 4 + 10
    acc = FeatureAccumulator(5)
    for chunk in x.split(13):
        acc.update(chunk)
    s = acc.compute()
    assert s.count == 97 and s.dim == 5
    np.testing.assert_allclose(s.mu.numpy(), x.numpy().mean(0), rtol=1e-12)
    np.testing.assert_allclose(s.sigma.numpy(), np.cov(x.numpy(), rowvar=False), rtol=1e-9)
    assert torch.equal(s.features, x.float())
    whole = stats_from_features(x)
    assert torch.allclose(whole.sigma, s.sigma, rtol=1e-12)


def test_too_few_or_bad_features_are_errors():
    acc = FeatureAccumulator(3)
    acc.update(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="at least 2"):
        acc.compute()
    with pytest.raises(ValueError, match="NaN"):
        acc.update(torch.full((2, 3), float("nan")))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        acc.update(torch.zeros(2, 4))
