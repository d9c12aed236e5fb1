"""Baseline outlier scores: distance to the mean feature and the discriminator's negated realness."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sdstylegan.distill.baselines import discriminator_outlier_scores, feature_mean_distance
from sdstylegan.models.discriminator import Discriminator


def test_feature_mean_distance_by_hand():
    f = torch.tensor([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0], [2.0, 3.0]])  # mean (2, 0.75)
    expected = [(4 + 0.75**2) ** 0.5, 0.75, (4 + 0.75**2) ** 0.5, 2.25]
    assert feature_mean_distance(f).tolist() == pytest.approx(expected)


class MeanD(nn.Module):
    """Realness = mean pixel value (so the darkest image is the most outlier-like)."""

    def forward(self, x: torch.Tensor, force_fp32: bool = False) -> torch.Tensor:
        return x.mean(dim=(1, 2, 3)).unsqueeze(1)


def test_discriminator_scores_are_minus_realness_in_loader_order_uint8_or_float():
    levels = [0, 255, 128, 64, 200]
    imgs = torch.stack([torch.full((3, 8, 8), v, dtype=torch.uint8) for v in levels])
    loader = [imgs[:2], imgs[2:4], (imgs[4:],)]
    s = discriminator_outlier_scores(MeanD(), loader)
    assert s.tolist() == pytest.approx([-(v / 127.5 - 1) for v in levels], abs=1e-6)
    assert s.argmax().item() == 0
    floats = [imgs[:3].float() / 127.5 - 1, imgs[3:].float() / 127.5 - 1]
    assert discriminator_outlier_scores(MeanD(), floats).tolist() == pytest.approx(s.tolist())
    with pytest.raises(ValueError, match="no image"):
        discriminator_outlier_scores(MeanD(), [])


def test_discriminator_scores_match_a_real_discriminator_batch_by_batch():
    torch.manual_seed(0)
    D = Discriminator(img_resolution=16, channel_base=64, channel_max=16).eval()
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    s = discriminator_outlier_scores(D, [x[:4], x[4:]])
    with torch.no_grad():
        expected = torch.cat([-D(x[:4])[:, 0], -D(x[4:])[:, 0]])
    assert torch.allclose(s, expected, atol=1e-6)
