"""ADA controller: p rises when D always wins on reals, falls otherwise, by the configured speed."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.training.ada import AdaController


def test_p_rises_when_d_always_wins_on_real_images():
    ada = AdaController(target=0.6, interval=4, kimg=1.0)
    adjusted = []
    for _ in range(8):
        ada.accumulate(torch.full((8, 1), 3.0))  # D is right on every real image: r_t = 1
        adjusted.append(ada.step(batch_size=8))
    assert adjusted == [False, False, False, True] * 2
    # two adjustments of batch·interval / (kimg·1000) = 32/1000 each
    assert float(ada.p) == pytest.approx(0.064)
    assert float(ada.rt) == pytest.approx(1.0)


def test_p_falls_and_stays_at_zero_when_d_is_fooled():
    ada = AdaController(target=0.6, interval=1, kimg=1.0, p_init=0.01)
    for _ in range(3):
        ada.accumulate(torch.full((8, 1), -1.0))
        ada.step(batch_size=8)
    assert float(ada.p) == 0.0


def test_statistic_is_summed_through_the_reduce_function():
    ada = AdaController(interval=1, kimg=1.0)
    calls = []

    def fake_world_of_two(x):  # the other rank saw the same logits
        calls.append(x.clone())
        return x * 2

    ada.accumulate(torch.ones(4, 1), fake_world_of_two)
    assert float(ada.count) == 8 and len(calls) == 1
    assert ada.step(batch_size=8) and float(ada.p) == pytest.approx(0.008)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="target"):
        AdaController(target=1.5)
    with pytest.raises(ValueError, match="interval"):
        AdaController(interval=0)
