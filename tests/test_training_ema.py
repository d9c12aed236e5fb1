"""G_ema: decay with ramp-up and the lerp update."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.training.ema import ema_beta, update_ema


def test_beta_is_half_per_half_life_and_ramps_up():
    assert ema_beta(batch_size=10, cur_nimg=10**9, ema_kimg=0.01, rampup=0.05) == pytest.approx(0.5)
    # early on the half-life is capped at rampup · images seen: 0.05 · 200 = 10 images
    assert ema_beta(batch_size=10, cur_nimg=200, ema_kimg=10, rampup=0.05) == pytest.approx(0.5)
    assert ema_beta(batch_size=10, cur_nimg=200, ema_kimg=10, rampup=None) == pytest.approx(
        0.5 ** (10 / 10000)
    )
    assert ema_beta(batch_size=10, cur_nimg=0, ema_kimg=10, rampup=0.05) == pytest.approx(0.0)


def test_update_lerps_parameters_and_copies_buffers():
    model, ema = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        model.weight.fill_(1.0)
        ema.weight.fill_(3.0)
        model.running_mean.fill_(7.0)
    update_ema(ema, model, beta=0.25)
    torch.testing.assert_close(ema.weight, torch.full((3,), 1.0 + 0.25 * (3.0 - 1.0)))
    torch.testing.assert_close(ema.running_mean, torch.full((3,), 7.0))
