"""Model presets: every conf/model/*.yaml composes and instantiates G/D/E with the contract, and the
`auto` preset follows StyleGAN2-ADA's resolution-dependent values."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from sdstylegan.models import Discriminator, Encoder, Generator
from sdstylegan.models.presets import auto_channel_base, auto_discriminator, auto_generator

PRESETS = ["tiny", "auto", "paper256", "paper512", "paper1024", "stylegan2"]
# (mapping layers, channel_base, mbstd group) — StyleGAN2-ADA train.py specs
EXPECTED = {
    "paper256": (8, 16384, 8),
    "paper512": (8, 32768, 8),
    "paper1024": (8, 32768, 4),
    "stylegan2": (8, 32768, 4),
}


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_builds_the_three_networks(make_cfg, preset):
    cfg = make_cfg([f"model={preset}", "dataset.resolution=16"])
    G, D, E = (instantiate(cfg.model[k]) for k in ("generator", "discriminator", "encoder"))
    assert isinstance(G, Generator) and isinstance(D, Discriminator) and isinstance(E, Encoder)
    assert G.img_resolution == D.img_resolution == E.img_resolution == 16
    assert E.w_dim == G.w_dim and E.num_ws == G.num_ws
    if preset in EXPECTED:
        layers, base, mbstd = EXPECTED[preset]
        assert len(G.mapping.layers) == layers
        assert G.init_kwargs["channel_base"] == base and G.init_kwargs["num_fp16_res"] == 4
        assert G.init_kwargs["conv_clamp"] == 256
        assert D.epilogue.mbstd.group_size == mbstd


def test_tiny_runs_end_to_end(make_cfg):
    cfg = make_cfg(["model=tiny", "dataset.resolution=32"])
    G, D, E = (instantiate(cfg.model[k]) for k in ("generator", "discriminator", "encoder"))
    img = G(torch.randn(2, G.z_dim))
    assert D(img).shape == (2, 1) and E(img).shape == (2, G.w_dim)
    assert sum(p.numel() for p in G.parameters()) < 1_000_000  # small enough for CPU training


def test_auto_values_follow_resolution():
    assert (
        auto_channel_base(256) == 16384
        and auto_channel_base(512) == 32768
        and auto_channel_base(1024) == 32768
    )
    G = auto_generator(16, channel_max=8)  # overrides win; small to keep the test fast
    assert G.init_kwargs["channel_base"] == 16384 and G.init_kwargs["channel_max"] == 8
    assert len(G.mapping.layers) == 2 and (G.z_dim, G.w_dim) == (512, 512)
    assert G.init_kwargs["num_fp16_res"] == 4 and G.init_kwargs["conv_clamp"] == 256
    D = auto_discriminator(16, mbstd_group_size=2, channel_max=8)
    assert D.epilogue.mbstd.group_size == 2 and D.init_kwargs["channel_base"] == 16384
