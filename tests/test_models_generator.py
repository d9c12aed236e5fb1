"""Generator contract: shapes at 16…256 (1024 slow), seeds reproduce images exactly, truncation toward
w_avg or a given centre, style mixing, and clear errors for bad latents."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.models import Generator, mix_styles


def tiny_generator(res: int) -> Generator:
    torch.manual_seed(0)
    return Generator(
        z_dim=16, w_dim=16, img_resolution=res, mapping_layers=2, channel_base=256, channel_max=16
    )


@pytest.mark.parametrize("res", [16, 32, 64, 128, 256])
def test_output_shapes_and_contract_attributes(res):
    G = tiny_generator(res)
    assert (G.z_dim, G.w_dim, G.img_resolution, G.img_channels) == (16, 16, res, 3)
    z = torch.randn(2, 16)
    ws = G.mapping(z)
    assert ws.shape == (2, G.num_ws, 16) and G.num_ws == 2 * res.bit_length() - 4
    img = G.synthesis(ws, noise_mode="const")
    assert img.shape == (2, 3, res, res) and img.dtype == torch.float32 and torch.isfinite(img).all()


@pytest.mark.slow
def test_1024():
    G = tiny_generator(1024)
    assert G(torch.randn(1, 16)).shape == (1, 3, 1024, 1024)


def test_seed_reproduces_image_exactly():
    G = tiny_generator(32)
    z = torch.randn(2, 16, generator=torch.Generator().manual_seed(7))
    torch.manual_seed(123)
    a = G(z, noise_mode="random")
    torch.manual_seed(123)
    b = G(z, noise_mode="random")
    assert torch.equal(a, b)
    assert torch.equal(G(z, noise_mode="const"), G(z, noise_mode="const"))
    # A second generator built from the same seed is the same network.
    assert torch.equal(tiny_generator(32)(z, noise_mode="const"), G(z, noise_mode="const"))


def test_truncation_psi_zero_renders_the_centre():
    G = tiny_generator(32)
    z = torch.randn(3, 16)
    G.mapping(torch.randn(64, 16), update_emas=True)
    centre = G.synthesis(G.mapping.w_avg.expand(3, G.num_ws, 16), noise_mode="const")
    torch.testing.assert_close(G(z, truncation_psi=0.0, noise_mode="const"), centre)
    c = torch.randn(16)
    torch.testing.assert_close(
        G(z, truncation_psi=0.0, truncation_center=c, noise_mode="const"),
        G.synthesis(c.expand(3, G.num_ws, 16), noise_mode="const"),
    )
    torch.testing.assert_close(G(z, truncation_psi=1.0, noise_mode="const"), G(z, noise_mode="const"))


def test_update_emas_through_generator_moves_w_avg():
    G = tiny_generator(16)
    before = G.mapping.w_avg.clone()
    G(torch.randn(4, 16), update_emas=True)
    assert not torch.equal(before, G.mapping.w_avg)


def test_mix_styles_takes_layers_after_crossover():
    ws, other = torch.zeros(2, 6, 4), torch.ones(2, 6, 4)
    assert torch.equal(mix_styles(ws, other, prob=0.0), ws)
    mixed = mix_styles(ws, other, prob=1.0, generator=torch.Generator().manual_seed(0))
    layer_is_other = mixed[0, :, 0] == 1
    cut = int(layer_is_other.float().argmax())
    assert 1 <= cut < 6 and layer_is_other[cut:].all() and not layer_is_other[:cut].any()
    with pytest.raises(ValueError, match="prob"):
        mix_styles(ws, other, prob=1.5)


def test_bad_latents_and_psi():
    G = tiny_generator(16)
    with pytest.raises(ValueError, match=r"z of shape \[N, 16\]"):
        G(torch.randn(2, 15))
    with pytest.raises(ValueError, match="truncation_psi"):
        G(torch.randn(2, 16), truncation_psi=-1)


def test_rebuilds_from_init_kwargs():
    G = tiny_generator(32)
    G2 = Generator(**G.init_kwargs)
    G2.load_state_dict(G.state_dict())
    z = torch.randn(2, 16)
    assert torch.equal(G(z, noise_mode="const"), G2(z, noise_mode="const"))


@pytest.mark.parametrize("fused", [False, True])
def test_path_length_double_backward(fused):
    """Path-length regularisation differentiates d(img · noise)/d(ws) once more, into G's weights."""
    G = tiny_generator(16).train()
    ws = G.mapping(torch.randn(2, 16))
    img = G.synthesis(ws, fused_modconv=fused)
    (grad_ws,) = torch.autograd.grad((img * torch.randn_like(img)).sum(), ws, create_graph=True)
    grad_ws.square().sum(dim=2).mean().sqrt().backward()
    conv = G.synthesis.blocks["b16"].conv0
    assert conv.weight.grad is not None and torch.count_nonzero(conv.weight.grad) > 0
