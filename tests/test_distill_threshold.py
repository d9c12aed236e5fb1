"""θ search: the floor, the FID condition on planted features (known outcome), quantile steps, bad input."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.distill.filter_stage import fid_functions
from sdstylegan.distill.threshold import kept_floor, search_threshold, theta_keeping


def planted(n_in: int = 150, n_out: int = 30, dim: int = 3, seed: int = 0):
    """Inliers: features N(0, I), scores in [0.10, 0.30). Outliers: features N(6, I), scores in [0.50, 0.70)."""
    g = torch.Generator().manual_seed(seed)
    feats = torch.cat([torch.randn(n_in, dim, generator=g), 6 + torch.randn(n_out, dim, generator=g)])
    scores = torch.cat(
        [0.10 + 0.2 * torch.rand(n_in, generator=g), 0.50 + 0.2 * torch.rand(n_out, generator=g)]
    )
    is_out = torch.arange(n_in + n_out) >= n_in
    return scores, feats, is_out


def test_floor_is_the_larger_of_count_and_fraction_capped_at_total():
    assert kept_floor(1000, 70000, None) == 1000
    assert kept_floor(1000, 100, 0.7) == 700
    assert kept_floor(1000, 800, 0.7) == 800
    assert kept_floor(1000, None, None) == 0
    with pytest.raises(ValueError, match="min_kept_fraction"):
        kept_floor(10, None, 1.5)
    with pytest.raises(ValueError, match="min_kept"):
        kept_floor(10, -1, None)


def test_theta_keeping_keeps_exactly_count():
    scores = torch.tensor([0.5, 0.1, 0.3, 0.3, 0.9], dtype=torch.float64)
    assert int((scores < theta_keeping(scores, 1)).sum()) == 1
    assert int((scores < theta_keeping(scores, 2)).sum()) == 3  # tie: both 0.3s come together
    assert int((scores < theta_keeping(scores, 4)).sum()) == 4
    assert int((scores < theta_keeping(scores, 5)).sum()) == 5


def test_fid_condition_stops_before_the_kept_set_drifts_away():
    scores, feats, is_out = planted()
    # Reconstructions pull the outliers half-way towards the inliers, so FID(G(E(all)), all) lies between 0
    # (keep all) and FID(inliers, all): removing outliers (highest scores first) raises FID(kept, all) until it
    # crosses the bar among the outliers, where the search must stop; every accepted step is under the bar.
    recon = feats.clone()
    recon[is_out] -= 3
    fid_recon, fid_of_kept = fid_functions(feats, recon)
    assert 0 < fid_recon < fid_of_kept(~is_out)
    res = search_threshold(scores, fid_of_kept, fid_recon, theta=0.8, theta_step=0.02, floor=0)
    accepted = [s for s in res.path if s.accepted and s.fid_kept is not None]
    assert accepted and all(s.fid_kept < fid_recon for s in accepted)
    stop = res.path[-1]
    assert not stop.accepted and stop.fid_kept >= fid_recon and stop.theta == pytest.approx(res.theta - 0.02)
    kept = res.kept_mask
    assert torch.equal(kept, scores < res.theta)
    assert kept[~is_out].all(), "no inlier may be dropped before the outliers"
    assert 0.5 <= res.theta <= 0.7  # stopped among the outliers (the FID bar was reached there)
    # the FIDs in the path are the real ones of those kept sets
    for s in accepted:
        assert s.fid_kept == pytest.approx(fid_of_kept(scores < s.theta))


def test_high_bar_lowers_theta_until_the_floor():
    scores, feats, _ = planted()
    res = search_threshold(scores, lambda m: 0.0, fid_recon=1.0, theta=0.8, theta_step=0.01, floor=120)
    kept = int(res.kept_mask.sum())
    assert kept >= 120
    assert res.path[-1].reason.startswith("below the floor") and res.path[-1].kept < 120
    assert int((scores < res.theta - 0.01).sum()) < 120  # one more step would break the floor


def test_fid_is_never_asked_for_a_set_that_breaks_the_floor_and_start_below_floor_is_raised():
    scores, _, _ = planted()
    asked = []
    res = search_threshold(
        scores, lambda m: asked.append(int(m.sum())) or 0.0, 1.0, theta=0.8, theta_step=0.05, floor=170
    )
    assert all(a >= 170 for a in asked)
    low = search_threshold(scores, lambda m: 0.0, 1.0, theta=0.2, theta_step=0.01, floor=100)
    assert low.raised_for_floor and int(low.kept_mask.sum()) == 100
    assert res.raised_for_floor is False


def test_quantile_steps_from_keep_all():
    scores, _, _ = planted()
    res = search_threshold(
        scores, lambda m: 0.0, 1.0, theta=None, theta_step=None, step_fraction=0.1, floor=90
    )
    counts = [s.kept for s in res.path]
    assert counts[0] == 180  # start above every score
    assert counts[1:4] == [162, 144, 126]  # 10 % of 180 = 18 per step
    assert int(res.kept_mask.sum()) == 90


def test_bad_scores_and_steps_are_refused():
    with pytest.raises(ValueError, match="not finite"):
        search_threshold(torch.tensor([0.1, float("nan")]), lambda m: 0.0, 1.0)
    with pytest.raises(ValueError, match="no usable image"):
        search_threshold(torch.tensor([]), lambda m: 0.0, 1.0)
    with pytest.raises(ValueError, match="theta_step"):
        search_threshold(torch.tensor([0.1]), lambda m: 0.0, 1.0, theta_step=0)
