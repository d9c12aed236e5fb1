"""Modulated convolution against an explicit per-sample computation (scale the weight by the styles,
normalise each output filter to unit L2 norm, convolve), and the fused vs non-fused schedules."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.ops import conv2d_resample, modulated_conv2d, setup_filter

F4 = setup_filter([1, 3, 3, 1])


def _data():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 8, 8, dtype=torch.float64, generator=gen)
    weight = torch.randn(7, 5, 3, 3, dtype=torch.float64, generator=gen)
    styles = torch.rand(3, 5, dtype=torch.float64, generator=gen) + 0.5
    return x, weight, styles


@pytest.mark.parametrize("up,down", [(1, 1), (2, 1), (1, 2)])
@pytest.mark.parametrize("demodulate", [True, False])
def test_matches_per_sample_definition(up, down, demodulate):
    x, weight, styles = _data()
    got = modulated_conv2d(x, weight, styles, up=up, down=down, resample_filter=F4, demodulate=demodulate)
    for i in range(x.shape[0]):
        w = weight * styles[i].reshape(1, -1, 1, 1)
        if demodulate:
            w = w / w.flatten(1).norm(dim=1).reshape(-1, 1, 1, 1)
        want = conv2d_resample(x[i : i + 1], w, F4, up=up, down=down)
        torch.testing.assert_close(got[i : i + 1], want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("up,down", [(1, 1), (2, 1), (1, 2)])
def test_fused_and_non_fused_agree_with_noise(up, down):
    x, weight, styles = _data()
    size = 8 * up // down
    noise = torch.randn(3, 1, size, size, dtype=torch.float64)
    kw = dict(noise=noise, up=up, down=down, resample_filter=F4)
    fused = modulated_conv2d(x, weight, styles, fused_modconv=True, **kw)
    plain = modulated_conv2d(x, weight, styles, fused_modconv=False, **kw)
    torch.testing.assert_close(fused, plain)
    no_noise = modulated_conv2d(x, weight, styles, up=up, down=down, resample_filter=F4)
    torch.testing.assert_close(fused - no_noise, noise.expand_as(fused))


def test_demodulation_makes_outputs_unit_variance_for_white_input():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 64, 32, 32, generator=gen)
    weight = torch.randn(16, 64, 3, 3, generator=gen)
    styles = torch.rand(2, 64, generator=gen) * 5
    y = modulated_conv2d(x, weight, styles)
    assert y[..., 1:-1, 1:-1].std().item() == pytest.approx(1.0, abs=0.05)


def test_wrong_style_shape_is_a_clear_error():
    x, weight, styles = _data()
    with pytest.raises(ValueError, match=r"styles must have shape \[3, 5\]"):
        modulated_conv2d(x, weight, styles[:, :4])


@pytest.mark.parametrize("fused", [True, False])
def test_float16_with_large_weights_and_styles_stays_finite(fused):
    """Squared products of these weights and styles (~5000²) overflow float16; the max-abs prescaling must
    keep the demodulated result finite and equal to the float32 one."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, 8, 8, generator=gen)
    weight = torch.randn(4, 8, 3, 3, generator=gen) * 50
    styles = torch.rand(2, 8, generator=gen) * 100 + 1
    want = modulated_conv2d(x, weight, styles)
    got = modulated_conv2d(x.half(), weight.half(), styles.half(), fused_modconv=fused)
    assert got.dtype == torch.float16 and torch.isfinite(got).all()
    torch.testing.assert_close(got.float(), want, rtol=1e-2, atol=1e-2)
