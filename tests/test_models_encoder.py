"""Encoder E(img) → w (or W+): shapes, per-image codes independent of the batch, feeding synthesis."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.models import Encoder, Generator


def tiny_e(res: int, **kw) -> Encoder:
    torch.manual_seed(0)
    return Encoder(img_resolution=res, w_dim=16, channel_base=256, channel_max=16, **kw)


@pytest.mark.parametrize("res", [16, 64, 256])
def test_shapes(res):
    x = torch.randn(2, 3, res, res)
    assert tiny_e(res)(x).shape == (2, 16)
    e_plus = tiny_e(res, w_plus=True)
    assert e_plus(x).shape == (2, e_plus.num_ws, 16) and e_plus.num_ws == 2 * res.bit_length() - 4


def test_code_does_not_depend_on_batch_mates():
    E = tiny_e(16)
    x = torch.randn(3, 3, 16, 16)
    torch.testing.assert_close(E(x)[:1], E(x[:1]))


def test_reconstruction_chain_matches_generator():
    torch.manual_seed(1)
    G = Generator(z_dim=16, w_dim=16, img_resolution=32, mapping_layers=2, channel_base=256, channel_max=16)
    E = tiny_e(32)
    img = torch.randn(2, 3, 32, 32)
    w = E(img)
    rec = G.synthesis(w.unsqueeze(1).repeat(1, G.num_ws, 1), noise_mode="const")
    assert rec.shape == img.shape
    rec.square().mean().backward()
    assert E.trunk.blocks["b32"].fromrgb.weight.grad is not None


def test_bad_image_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Encoder expects images of shape \[N, 3, 16, 16\]"):
        tiny_e(16)(torch.randn(2, 3, 32, 32))


@pytest.mark.slow
def test_1024():
    e = tiny_e(1024, w_plus=True)
    assert e(torch.randn(1, 3, 1024, 1024)).shape == (1, 18, 16)
