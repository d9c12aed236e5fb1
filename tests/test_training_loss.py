"""Loss phases: non-saturating losses, R1 and path length against hand computation, lazy Adam, SDIP terms."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sdstylegan.models.discriminator import Discriminator
from sdstylegan.models.encoder import Encoder
from sdstylegan.models.generator import Generator
from sdstylegan.training.loss import LossConfig, StyleGAN2Loss, auto_r1_gamma, broadcast_ws, lazy_adam

RES = 8


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    kw = dict(img_resolution=RES, channel_base=64, channel_max=8)
    return (
        Generator(z_dim=8, w_dim=8, mapping_layers=1, **kw),
        Discriminator(mbstd_group_size=2, **kw),
        Encoder(w_dim=8, **kw),
    )


def test_lazy_adam_correction_and_auto_gamma():
    lr, betas = lazy_adam(0.0025, (0.0, 0.99), 16)
    assert lr == pytest.approx(0.0025 * 16 / 17)
    assert betas == (0.0, pytest.approx(0.99 ** (16 / 17)))
    assert lazy_adam(0.002, (0.5, 0.9), 0) == (0.002, (0.5, 0.9))
    assert auto_r1_gamma(256, 64) == pytest.approx(0.2048)


def test_phase_intervals():
    c = LossConfig(r1_interval=16, pl_interval=4)
    assert [s for s in range(33) if c.d_reg_due(s)] == [0, 16, 32]
    assert [s for s in range(9) if c.g_reg_due(s)] == [0, 4, 8]
    assert not LossConfig(r1_gamma=0).d_reg_due(0) and not LossConfig(pl_weight=0).g_reg_due(0)
    with pytest.raises(ValueError, match="pl_batch_shrink"):
        LossConfig(pl_batch_shrink=0)


def test_d_main_is_the_logistic_loss_and_g_main_the_non_saturating_one(nets):
    G, D, _ = nets
    loss = StyleGAN2Loss(LossConfig(style_mixing=0))
    torch.manual_seed(1)
    z, real = torch.randn(4, 8), torch.rand(4, 3, RES, RES) * 2 - 1
    out = loss.d_main(G, D, z, real, None)
    with torch.no_grad():
        torch.manual_seed(1)
        fake = G(torch.randn(4, 8))
    torch.manual_seed(1)
    torch.randn(4, 8)
    expected = F.softplus(D(fake)).mean() + F.softplus(-D(real)).mean()
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-4)
    g = loss.g_main(G, D, z, None)
    assert g["loss"].item() > 0 and g["loss"].requires_grad


def test_r1_matches_the_gradient_penalty_formula(nets):
    _, D, _ = nets
    cfg = LossConfig(r1_gamma=4.0, r1_interval=16)
    real = torch.rand(4, 3, RES, RES) * 2 - 1
    out = StyleGAN2Loss(cfg).d_reg(D, real, None)
    x = real.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x)
    penalty = grad.square().sum([1, 2, 3])
    assert (
        out["r1_penalty"].item() == pytest.approx(penalty.mean().item(), rel=1e-4) and out["r1_penalty"] > 0
    )
    assert out["loss"].item() == pytest.approx((penalty * 2.0).mean().item() * 16, rel=1e-4)
    out["loss"].backward()  # second-order gradient reaches D's weights
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in D.parameters())


def test_path_length_is_positive_and_updates_the_running_mean(nets):
    G, _, _ = nets
    loss = StyleGAN2Loss(LossConfig(pl_decay=0.5, pl_batch_shrink=2))
    out = loss.g_reg(G, torch.randn(4, 8))
    assert out["pl_penalty"] > 0 and float(loss.pl_mean) > 0
    first = float(loss.pl_mean)
    loss.g_reg(G, torch.randn(4, 8))
    assert float(loss.pl_mean) != first and math.isfinite(float(loss.pl_mean))


def test_style_mixing_mixes_ws(nets):
    G, _, _ = nets
    torch.manual_seed(2)
    _, ws = StyleGAN2Loss(LossConfig(style_mixing=1.0)).generate(G, torch.randn(16, 8))
    # every sample: layers after its cut-off come from another latent, so not all layers are equal
    assert all(not torch.allclose(ws[i, 0], ws[i, -1]) for i in range(16))
    _, ws = StyleGAN2Loss(LossConfig(style_mixing=0.0)).generate(G, torch.randn(4, 8))
    assert torch.allclose(ws[:, :1].expand_as(ws), ws)


def test_encoder_terms_with_an_l1_distance_and_lpips_required(nets):
    G, _, E = nets

    class L1Distance(
        torch.nn.Module
    ):  # a differentiable perceptual-distance stand-in with the LPIPS signature
        def forward(self, x, y):
            return (x - y).abs().mean([1, 2, 3])

    loss = StyleGAN2Loss(LossConfig(lambda_w=0.1, lambda_l1=0.1, lambda_lpips=0.1), lpips=L1Distance())
    out = loss.encoder_terms(G, E, torch.randn(4, 8), torch.rand(4, 3, RES, RES) * 2 - 1)
    expected = 0.1 * out["loss_w"] + 0.1 * out["l1"] + 0.1 * out["lpips"]
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    out["loss"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in E.parameters())
    with pytest.raises(ValueError, match="LPIPS"):
        StyleGAN2Loss(LossConfig()).encoder_terms(G, E, torch.randn(2, 8), torch.zeros(2, 3, RES, RES))
    assert broadcast_ws(torch.zeros(2, 8), 5).shape == (2, 5, 8)
