"""conv2d_resample: fused transposed-conv/strided-conv paths against the plain 'resample then convolve'
(or 'convolve then resample') compositions, which agree away from the zero-padded borders."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sdstylegan.ops import conv2d_resample, downsample2d, setup_filter, upsample2d

F4 = setup_filter([1, 3, 3, 1])


def _data(k: int, groups: int = 1):
    gen = torch.Generator().manual_seed(k)
    x = torch.randn(2, 4 * groups, 12, 12, dtype=torch.float64, generator=gen)
    w = torch.randn(6 * groups, 4, k, k, dtype=torch.float64, generator=gen)
    return x, w


@pytest.mark.parametrize("k", [1, 3])
def test_upsampling_conv_matches_upsample_then_conv(k):
    x, w = _data(k)
    got = conv2d_resample(x, w, F4, up=2, impl="ref")
    want = F.conv2d(upsample2d(x, F4, impl="ref"), w, padding=k // 2)
    assert got.shape == want.shape == (2, 6, 24, 24)
    m = 4  # border where zero padding enters the two compositions differently
    torch.testing.assert_close(got[..., m:-m, m:-m], want[..., m:-m, m:-m])


@pytest.mark.parametrize("k", [1, 3])
def test_downsampling_conv_matches_conv_then_downsample(k):
    x, w = _data(k)
    got = conv2d_resample(x, w, F4, down=2, impl="ref")
    want = downsample2d(F.conv2d(x, w, padding=k // 2), F4, impl="ref")
    assert got.shape == want.shape == (2, 6, 6, 6)
    torch.testing.assert_close(got[..., 2:-2, 2:-2], want[..., 2:-2, 2:-2])


@pytest.mark.parametrize("up,down", [(1, 1), (2, 1), (1, 2)])
def test_grouped_conv_equals_separate_convs(up, down):
    x, w = _data(3, groups=2)
    got = conv2d_resample(x, w, F4, up=up, down=down, groups=2, impl="ref")
    parts = [
        conv2d_resample(x[:, 4 * g : 4 * g + 4], w[6 * g : 6 * g + 6], F4, up=up, down=down, impl="ref")
        for g in range(2)
    ]
    torch.testing.assert_close(got, torch.cat(parts, dim=1))


def test_no_resampling_is_a_same_conv():
    x, w = _data(3)
    torch.testing.assert_close(conv2d_resample(x, w), F.conv2d(x, w, padding=1))


def test_rejects_even_kernels_and_up_with_down():
    x, _ = _data(3)
    with pytest.raises(ValueError, match="odd square"):
        conv2d_resample(x, torch.zeros(2, 4, 2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="up and down"):
        conv2d_resample(x, torch.zeros(2, 4, 3, 3, dtype=torch.float64), F4, up=2, down=2)
