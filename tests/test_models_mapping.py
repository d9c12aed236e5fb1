"""Mapping network: shapes, w_avg tracking, truncation toward w_avg or any given centre, bad input."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.models.mapping import MappingNetwork, truncate


@pytest.fixture
def mapping():
    torch.manual_seed(0)
    return MappingNetwork(z_dim=8, w_dim=6, num_ws=5, num_layers=2, w_avg_beta=0.5)


def test_shape_and_broadcast(mapping):
    ws = mapping(torch.randn(3, 8))
    assert ws.shape == (3, 5, 6)
    assert torch.equal(ws[:, 0], ws[:, 4])  # one w per sample, broadcast to all layers


def test_w_avg_updates_only_with_update_emas(mapping):
    z = torch.randn(4, 8)
    mapping(z)
    assert torch.count_nonzero(mapping.w_avg) == 0
    ws = mapping(z, update_emas=True)
    torch.testing.assert_close(mapping.w_avg, ws[:, 0].mean(0) * 0.5)  # lerp from 0 with beta 0.5


def test_truncation_psi_zero_gives_centre_and_one_identity(mapping):
    z = torch.randn(4, 8)
    mapping(z, update_emas=True)
    plain = mapping(z)
    torch.testing.assert_close(mapping(z, truncation_psi=1.0), plain)
    torch.testing.assert_close(mapping(z, truncation_psi=0.0), mapping.w_avg.expand(4, 5, 6))
    centres = torch.randn(4, 6)  # multi-modal truncation: one centre per sample
    torch.testing.assert_close(
        mapping(z, truncation_psi=0.0, truncation_center=centres), centres[:, None].expand(4, 5, 6)
    )
    half = mapping(z, truncation_psi=0.5, truncation_center=centres)
    torch.testing.assert_close(half, centres[:, None] + 0.5 * (plain - centres[:, None]))


def test_truncation_cutoff_leaves_fine_layers(mapping):
    z = torch.randn(2, 8)
    plain = mapping(z)
    cut = mapping(z, truncation_psi=0.0, truncation_cutoff=2, truncation_center=torch.zeros(6))
    assert torch.count_nonzero(cut[:, :2]) == 0
    torch.testing.assert_close(cut[:, 2:], plain[:, 2:])


def test_bad_input_errors(mapping):
    with pytest.raises(ValueError, match=r"z of shape \[N, 8\]"):
        mapping(torch.randn(2, 7))
    with pytest.raises(ValueError, match="truncation_psi must be >= 0"):
        mapping(torch.randn(2, 8), truncation_psi=-0.5)
    with pytest.raises(ValueError, match="truncation_center must have shape"):
        mapping(torch.randn(2, 8), truncation_psi=0.5, truncation_center=torch.zeros(5))
    with pytest.raises(ValueError, match="truncation_cutoff"):
        truncate(torch.zeros(1, 5, 6), 0.5, torch.zeros(6), cutoff=9)


def test_w_avg_update_under_autocast_stays_float32():
    import torch

    from sdstylegan.models.mapping import MappingNetwork

    m = MappingNetwork(z_dim=8, w_dim=8, num_ws=2, num_layers=2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        m(torch.randn(4, 8), update_emas=True)
    assert m.w_avg.dtype == torch.float32 and torch.isfinite(m.w_avg).all() and m.w_avg.abs().sum() > 0


def test_w_avg_decay_defaults_to_stylegan2_adas():
    # NVlabs stylegan2-ada-pytorch MappingNetwork(w_avg_beta=0.995): the w_avg behind truncation follows it
    from sdstylegan.models.generator import Generator

    assert MappingNetwork(z_dim=4, w_dim=4, num_ws=2).w_avg_beta == 0.995
    assert (
        Generator(z_dim=4, w_dim=4, img_resolution=8, channel_base=32, channel_max=4).mapping.w_avg_beta
        == 0.995
    )
