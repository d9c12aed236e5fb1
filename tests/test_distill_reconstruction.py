"""Reconstruction scores: G(E(x)) with a real tiny G and E, per-image scores in loader order, extremes, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sdstylegan.distill.reconstruction import reconstruct, score_images, unit_images
from sdstylegan.metrics.extractors import StandinExtractor
from sdstylegan.metrics.images import to_uint8
from sdstylegan.models.encoder import Encoder
from sdstylegan.models.generator import Generator

RES = 16


class MeanAbs(nn.Module):
    """A plain per-image distance (mean |x − y|), in place of LPIPS: same (x, y) → (N,) contract."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x - y).abs().mean(dim=(1, 2, 3))


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    G = Generator(
        z_dim=8,
        w_dim=8,
        img_resolution=RES,
        img_channels=3,
        mapping_layers=2,
        channel_base=128,
        channel_max=8,
    ).eval()
    E = Encoder(img_resolution=RES, img_channels=3, w_dim=8, channel_base=128, channel_max=8).eval()
    Ep = Encoder(
        img_resolution=RES, img_channels=3, w_dim=8, w_plus=True, channel_base=128, channel_max=8
    ).eval()
    return G, E, Ep


def images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, 3, RES, RES), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


def test_reconstruct_uses_constant_noise_and_fits_w_and_w_plus(nets):
    G, E, Ep = nets
    x = unit_images(images(3))
    with torch.no_grad():
        a, b = reconstruct(G, E, x), reconstruct(G, E, x)
        assert torch.equal(a, b) and a.shape == x.shape
        ws = E(x).unsqueeze(1).expand(-1, G.num_ws, -1)
        assert torch.allclose(a, G.synthesis(ws, noise_mode="const").clamp(-1, 1))
        assert reconstruct(G, Ep, x).shape == x.shape
    bad = Encoder(img_resolution=RES, img_channels=3, w_dim=4, channel_base=128, channel_max=8)
    with pytest.raises(ValueError, match="does not fit the generator"):
        reconstruct(G, bad, x)


def test_unit_images():
    u8 = torch.tensor([0, 255], dtype=torch.uint8).view(1, 1, 1, 2)
    assert unit_images(u8).tolist() == [[[[-1.0, 1.0]]]]


def test_scores_features_and_extremes_in_loader_order(nets):
    G, E, _ = nets
    data = images(10)
    loader = [data[:4], data[4:8], (data[8:],)]  # batches of different sizes; tuple batches accepted
    ext = StandinExtractor(num_features=8, input_size=16)
    out = score_images(G, E, MeanAbs(), ext, loader, keep_extremes=3)
    x = unit_images(data)
    with torch.no_grad():
        y = reconstruct(G, E, x)
        expect = (x - y).abs().mean(dim=(1, 2, 3))
        assert torch.allclose(out.scores, expect, atol=1e-6)
        assert torch.allclose(out.real_features, ext(data))
        assert torch.allclose(out.recon_features, ext(to_uint8(y)))
    order = expect.argsort()
    assert [i for _, i, _, _ in out.worst] == order.flip(0)[:3].tolist()
    assert [i for _, i, _, _ in out.best] == order[:3].tolist()
    s, i, xi, yi = out.worst[0]
    assert torch.equal(xi, x[i]) and torch.allclose(yi, y[i])


def test_wrong_resolution_and_empty_loader_are_refused(nets):
    G, E, _ = nets
    ext = StandinExtractor(num_features=8, input_size=16)
    with pytest.raises(ValueError, match="makes 16²"):
        score_images(G, E, MeanAbs(), ext, [torch.zeros(2, 3, 32, 32, dtype=torch.uint8)])
    with pytest.raises(ValueError, match="no image"):
        score_images(G, E, MeanAbs(), ext, [])
