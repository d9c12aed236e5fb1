"""ADA augmentation pipe: identity at p=0, exact flips/turns/shifts, colour maths, differentiable."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.training.augment import AugmentPipe

ALL = dict(
    xflip=1,
    rotate90=1,
    xint=1,
    scale=1,
    rotate=1,
    aniso=1,
    brightness=1,
    contrast=1,
    lumaflip=1,
    hue=1,
    saturation=1,
)


def images(n: int = 8, size: int = 8) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_p_zero_is_identity():
    x = images()
    assert torch.equal(AugmentPipe(**ALL)(x), x)


def test_xflip_at_p1_gives_each_image_or_its_mirror_and_both_occur():
    torch.manual_seed(0)
    pipe = AugmentPipe(xflip=1)
    pipe.p.fill_(1.0)
    x = images(32)
    y = pipe(x)
    flipped = [torch.allclose(y[i], x[i].flip(-1), atol=1e-5) for i in range(32)]
    same = [torch.allclose(y[i], x[i], atol=1e-5) for i in range(32)]
    assert all(f or s for f, s in zip(flipped, same))
    assert all(flipped)  # p·strength = 1: every image is mirrored


def test_rotate90_is_lossless():
    torch.manual_seed(1)
    pipe = AugmentPipe(rotate90=1)
    pipe.p.fill_(1.0)
    x = images(16)
    y = pipe(x)
    for i in range(16):
        assert any(torch.allclose(y[i], torch.rot90(x[i], k, dims=(1, 2)), atol=1e-5) for k in range(4))


def test_integer_translation_moves_whole_pixels():
    torch.manual_seed(2)
    pipe = AugmentPipe(xint=1, xint_max=0.25)
    pipe.p.fill_(1.0)
    x = images(16, 16)
    y = pipe(x)
    for i in range(16):  # the interior must equal the input shifted by an integer (dy, dx)
        ok = any(
            torch.allclose(y[i, :, 4:12, 4:12], x[i, :, 4 + dy : 12 + dy, 4 + dx : 12 + dx], atol=1e-5)
            for dy in range(-4, 5)
            for dx in range(-4, 5)
        )
        assert ok, f"image {i} is not an integer shift"


def test_brightness_adds_the_same_offset_to_every_pixel():
    torch.manual_seed(3)
    pipe = AugmentPipe(brightness=1)
    pipe.p.fill_(1.0)
    x = images(8)
    d = pipe(x) - x
    assert torch.allclose(d, d[:, :1, :1, :1].expand_as(d), atol=1e-5)
    assert d.abs().amax() > 0


def test_saturation_keeps_grey_images_grey_and_lumaflip_inverts_them():
    grey = torch.linspace(-0.5, 0.5, 8).reshape(8, 1, 1, 1).expand(8, 3, 4, 4).contiguous()
    torch.manual_seed(4)
    sat = AugmentPipe(saturation=1)
    sat.p.fill_(1.0)
    torch.testing.assert_close(sat(grey), grey, atol=1e-5, rtol=0)
    flip = AugmentPipe(lumaflip=1)
    flip.p.fill_(1.0)
    y = flip(grey)
    # each grey image is either unchanged or negated (reflection of the luma component)
    for i in range(8):
        assert torch.allclose(y[i], grey[i], atol=1e-5) or torch.allclose(y[i], -grey[i], atol=1e-5)


def test_full_pipe_is_differentiable_and_keeps_shape():
    torch.manual_seed(5)
    pipe = AugmentPipe(**ALL)
    pipe.p.fill_(0.8)
    x = images(8).requires_grad_(True)
    y = pipe(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_negative_strength_is_refused():
    with pytest.raises(ValueError, match="strength hue"):
        AugmentPipe(hue=-1)
