"""invert(): three methods, one result type; the encoder refined beats the encoder alone."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from sdstylegan.invert.inversion import invert
from sdstylegan.metrics.lpips import LPIPS
from sdstylegan.models.encoder import Encoder

sys.path.insert(0, str(Path(__file__).parent))
from test_invert_projector import tiny_g  # noqa: E402


@pytest.fixture(scope="module")
def setup():
    G = tiny_g()
    torch.manual_seed(1)
    E = Encoder(img_resolution=16, w_dim=8, channel_base=64, channel_max=8).eval()
    with torch.no_grad():
        target = G(torch.randn(3, 8), noise_mode="const").clamp(-1, 1)
    return G, E, target, LPIPS("vgg", pretrained=False).eval().requires_grad_(False)


def test_encoder_alone_and_refined(setup):
    G, E, target, lpips = setup
    enc = invert(G, target, "encoder", "w", distance=lpips, E=E)
    ref = invert(G, target, "encoder+projector", "w", distance=lpips, E=E, refine_steps=40)
    assert enc.ws.shape == (3, 8) and enc.images.shape == target.shape and enc.history == []
    assert ref.lpips.mean() < enc.lpips.mean()  # refinement improves on the (untrained) encoder
    assert enc.mse.shape == (3,) and enc.seconds_per_image > 0
    wplus = invert(G, target, "encoder", "wplus", distance=lpips, E=E)
    assert wplus.ws.shape == (3, G.num_ws, 8)
    torch.testing.assert_close(wplus.images, enc.images)  # the same w on every layer


def test_projector_scores_like_the_others(setup):
    G, _, target, lpips = setup
    res = invert(G, target[:1], "projector", "wplus", distance=lpips, steps=30)
    assert res.method == "projector" and res.ws.shape == (1, G.num_ws, 8) and len(res.history) == 30
    with torch.no_grad():
        torch.testing.assert_close(res.lpips, lpips(res.images, target[:1]))


def test_bad_choices_are_clear(setup):
    G, E, target, lpips = setup
    with pytest.raises(ValueError, match="method"):
        invert(G, target, "magic", distance=lpips)
    with pytest.raises(ValueError, match="needs the encoder"):
        invert(G, target, "encoder", distance=lpips)
    with pytest.raises(ValueError, match="perceptual distance"):
        invert(G, target, "encoder", E=E)
    E_plus = Encoder(img_resolution=16, w_dim=8, w_plus=True, channel_base=64, channel_max=8).eval()
    with pytest.raises(ValueError, match="one w per layer"):
        invert(G, target, "encoder", "w", distance=lpips, E=E_plus)
