"""Mode shares, and the three truncated sample sets drawn from the same z."""

from __future__ import annotations

import math

import pytest
import torch

from sdstylegan.distill.truncation import multimodal_truncate, render
from sdstylegan.models.generator import Generator
from sdstylegan.proof.coverage import coverage_table, mode_shares, truncated_sets


def test_mode_shares_on_hand_computed_counts():
    s = mode_shares(torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 1, 2]), 4, min_share=0.15)
    assert s["shares"] == pytest.approx([0.6, 0.3, 0.1, 0.0])
    assert s["modes_covered"] == 2 and s["min_share"] == 0.0 and s["samples"] == 10
    h = -(0.6 * math.log(0.6) + 0.3 * math.log(0.3) + 0.1 * math.log(0.1)) / math.log(4)
    assert s["entropy"] == pytest.approx(h)
    assert mode_shares(torch.arange(8) % 4, 4)["entropy"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        mode_shares(torch.tensor([], dtype=torch.long), 4)


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    g = Generator(
        z_dim=8, w_dim=8, img_resolution=16, img_channels=3, mapping_layers=2, channel_base=128, channel_max=8
    ).eval()
    g.mapping.w_avg.normal_()  # a w_avg away from 0, so global truncation is visible
    return g


def test_sets_share_z_and_follow_the_truncation_formulas(G):
    centres = torch.randn(3, 8)
    sets = truncated_sets(G, 0.5, 6, seed=4, centres=centres, lpips=None, distance="w", batch=4)
    z = torch.randn(6, 8, generator=torch.Generator().manual_seed(4))
    ws = G.mapping(z)
    assert torch.allclose(sets["untruncated"], render(G, ws))
    w_global = G.mapping.w_avg + 0.5 * (ws - G.mapping.w_avg)
    assert torch.allclose(sets["global"], render(G, w_global), atol=1e-5)
    assert torch.allclose(
        sets["multimodal"], render(G, multimodal_truncate(G, ws, centres, 0.5, "w")), atol=1e-5
    )
    assert not torch.allclose(sets["global"], sets["multimodal"])


def test_coverage_table_rows_per_psi_and_set(G):
    calls = []

    def classify(x):
        calls.append(x.shape[0])
        return (x.mean(dim=(1, 2, 3)) > x.mean()).long()  # a deterministic 2-way split

    table, images = coverage_table(
        G,
        classify,
        lambda x: {"all": float(x.mean())},
        [0.5, 1.0],
        10,
        1,
        torch.randn(2, 8),
        None,
        num_modes=2,
        distance="w",
        batch=5,
    )
    assert set(table) == {"psi_0.5", "psi_1"} and set(images) == {0.5, 1.0}
    assert set(table["psi_0.5"]) == {"untruncated", "global", "multimodal"} and calls == [10] * 6
    row = table["psi_1"]
    # ψ = 1 leaves w unchanged in all three sets
    assert row["untruncated"]["shares"] == row["global"]["shares"] == row["multimodal"]["shares"]
    assert torch.allclose(images[1.0]["global"], images[1.0]["untruncated"], atol=1e-5)
