"""Projector: NVlabs' schedules, noise regularisation and renormalisation, a decreasing loss, W and W+."""

from __future__ import annotations

import math

import pytest
import torch

from sdstylegan.invert.projector import (
    ProjectorConfig,
    learning_rate,
    noise_regularisation,
    project,
    w_noise_scale,
)
from sdstylegan.metrics.lpips import LPIPS
from sdstylegan.models.generator import Generator


def tiny_g(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    G = Generator(
        z_dim=8, w_dim=8, img_resolution=16, mapping_layers=2, channel_base=64, channel_max=8
    ).eval()
    with torch.no_grad():
        for p in G.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return G


def test_schedules_equal_the_nvlabs_formulas():
    cfg = ProjectorConfig(num_steps=1000)
    for step in (0, 10, 49, 50, 500, 750, 800, 999):
        t = step / 1000
        ramp = 0.5 - 0.5 * math.cos(min(1.0, (1 - t) / 0.25) * math.pi)
        assert learning_rate(step, cfg) == pytest.approx(0.1 * ramp * min(1.0, t / 0.05))
        assert w_noise_scale(step, cfg, 2.0) == pytest.approx(2.0 * 0.05 * max(0.0, 1 - t / 0.75) ** 2)
    assert learning_rate(0, cfg) == 0 and learning_rate(500, cfg) == pytest.approx(0.1)
    assert w_noise_scale(750, cfg, 1.0) == 0


def test_noise_regularisation_by_hand():
    # a map whose rows alternate +1/−1: horizontal autocorrelation 1, vertical −1 → per scale 1² + 1² = 2
    n = torch.ones(1, 1, 8, 8)
    n[:, :, 1::2] = -1
    assert noise_regularisation([n]).item() == pytest.approx(2.0)  # 8×8: one scale only
    white = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    assert noise_regularisation([white]).item() < 0.01


@pytest.mark.parametrize("space", ["w", "wplus"])
def test_loss_decreases_and_noise_stays_normalised(space):
    G = tiny_g()
    with torch.no_grad():
        target = G(torch.randn(2, 8), noise_mode="const").clamp(-1, 1)
    lpips = LPIPS("vgg", pretrained=False).eval().requires_grad_(False)
    before = {k: v.clone() for k, v in G.state_dict().items()}
    res = project(G, target, lpips, space=space, cfg=ProjectorConfig(num_steps=60, w_avg_samples=500))
    assert res.ws.shape == ((2, 8) if space == "w" else (2, G.num_ws, 8))
    assert res.history[-1] < 0.7 * res.history[0]
    for noise in res.noises:  # renormalised after every step: zero mean, unit variance per image
        torch.testing.assert_close(noise.mean(dim=(1, 2, 3)), torch.zeros(2), atol=1e-5, rtol=0)
        torch.testing.assert_close(noise.square().mean(dim=(1, 2, 3)), torch.ones(2), atol=1e-4, rtol=0)
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())  # G untouched


def test_resume_from_given_latents_and_bad_shapes():
    G = tiny_g()
    lpips = LPIPS("vgg", pretrained=False).eval()
    target = torch.zeros(1, 3, 16, 16)
    cfg = ProjectorConfig(num_steps=1, w_avg_samples=100, lr=0.0)  # lr 0: latents stay where they start
    start = torch.randn(1, 8)
    res = project(G, target, lpips, space="w", cfg=cfg, init_ws=start)
    torch.testing.assert_close(res.ws, start)
    with pytest.raises(ValueError, match="init_ws"):
        project(G, target, lpips, space="w", cfg=cfg, init_ws=torch.randn(2, 8))
    with pytest.raises(ValueError, match="target images"):
        project(G, torch.zeros(1, 3, 8, 8), lpips, cfg=cfg)
    with pytest.raises(ValueError, match="space"):
        project(G, target, lpips, space="z", cfg=cfg)
