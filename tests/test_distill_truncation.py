"""Multi-modal truncation with a real (tiny, random) generator and stand-in LPIPS: ψ limits, nearest centre."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.distill.truncation import (
    broadcast_ws,
    multimodal_truncate,
    nearest_centres,
    nearest_image,
    render,
    shrink,
)
from sdstylegan.metrics.lpips import LPIPS
from sdstylegan.models.generator import Generator


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    return Generator(
        z_dim=8, w_dim=8, img_resolution=16, img_channels=3, mapping_layers=2, channel_base=128, channel_max=8
    ).eval()


@pytest.fixture(scope="module")
def lpips():
    return LPIPS(net="vgg", pretrained=False)


def planted(G, k: int = 4, per: int = 3, spread: float = 0.01, seed: int = 0):
    """k distant centres in W and samples a small step from a known centre each."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, G.w_dim, generator=g) * 3
    owner = torch.arange(k).repeat(per)
    w = centres[owner] + spread * torch.randn(k * per, G.w_dim, generator=g)
    return centres, owner, broadcast_ws(G, w)


def test_psi_zero_gives_the_centre_and_psi_one_the_identity(G):
    centres, owner, ws = planted(G)
    for distance, kw in (("w", {}),):
        at0, idx = multimodal_truncate(G, ws, centres, psi=0.0, distance=distance, return_index=True, **kw)
        assert torch.allclose(at0, centres[idx].unsqueeze(1).expand_as(ws))
        at1 = multimodal_truncate(G, ws, centres, psi=1.0, distance=distance, **kw)
        assert torch.allclose(at1, ws)
    half = multimodal_truncate(G, ws, centres, psi=0.5, distance="w")
    assert torch.allclose(half, (ws + centres[owner].unsqueeze(1)) / 2, atol=1e-6)


def test_nearest_centre_is_found_in_w_and_by_lpips(G, lpips):
    centres, owner, ws = planted(G)
    assert torch.equal(nearest_centres(G, ws, centres, "w"), owner)
    assert torch.equal(nearest_centres(G, ws, centres, "lpips", lpips=lpips, batch=5), owner)
    images = render(G, centres)
    assert torch.equal(nearest_centres(G, ws, centres, "lpips", lpips=lpips, centre_images=images), owner)


def test_lpips_choice_follows_the_images_not_w(G, lpips):
    # Same samples, centre images given in swapped order: the LPIPS choice must follow the images (W is
    # not consulted for distance='lpips').
    centres, owner, ws = planted(G, k=2, per=2)
    imgs = render(G, centres)
    swapped = nearest_centres(G, ws, centres, "lpips", lpips=lpips, centre_images=imgs.flip(0))
    assert torch.equal(swapped, 1 - owner)


def test_same_result_as_the_mapping_truncation_contract(G, lpips):
    z = torch.randn(6, G.z_dim, generator=torch.Generator().manual_seed(1))
    ws = G.mapping(z)
    centres = G.mapping(torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(2)))[:, 0]
    out, idx = multimodal_truncate(G, ws, centres, psi=0.3, distance="lpips", lpips=lpips, return_index=True)
    ref = G.mapping(z, truncation_psi=0.3, truncation_center=centres[idx])
    assert torch.allclose(out, ref, atol=1e-6)
    assert out.shape == (6, G.num_ws, G.w_dim)


def test_bad_arguments(G):
    centres, _, ws = planted(G)
    with pytest.raises(ValueError, match="clustering.distance"):
        multimodal_truncate(G, ws, centres, distance="cosine")
    with pytest.raises(ValueError, match="needs an LPIPS module"):
        multimodal_truncate(G, ws, centres, distance="lpips")
    with pytest.raises(ValueError, match="centres must have shape"):
        multimodal_truncate(G, ws, centres[:, :3], distance="w")
    with pytest.raises(ValueError, match="truncation_psi must be >= 0"):
        multimodal_truncate(G, ws, centres, psi=-1, distance="w")


def test_nearest_image_chunks_and_downsampling(G, lpips):
    centres, owner, ws = planted(G, k=5, per=2)
    refs, x = render(G, centres), render(G, ws)
    full = lpips.cdist(x, refs).argmin(dim=1)
    assert torch.equal(full, owner)
    assert torch.equal(nearest_image(lpips, x, refs, chunk=2), full)  # 3 chunks of references
    big_x = torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")
    big_refs = torch.nn.functional.interpolate(refs, scale_factor=2, mode="nearest")
    assert shrink(big_x, 16).shape[-1] == 16 and torch.allclose(shrink(big_x, 16), x, atol=1e-6)
    assert torch.equal(nearest_image(lpips, big_x, big_refs, resolution=16), owner)
    assert shrink(x, None) is x and shrink(x, 64) is x
    idx = nearest_centres(G, ws, centres, "lpips", lpips=lpips, lpips_resolution=16)
    assert torch.equal(idx, owner)
