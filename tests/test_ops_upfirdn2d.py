"""upfirdn2d reference against a direct definition written out here (explicit zero insertion, padding,
sliding-window filtering, decimation), its helpers, gradients of any order, and the CUDA kernel (gpu)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdstylegan.ops import downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d


def direct_upfirdn2d(x, f, up=(1, 1), down=(1, 1), pad=(0, 0, 0, 0), flip=False, gain=1.0):
    """The textbook definition in float64 numpy loops; f is 2-D (or 1-D meaning the outer product)."""
    x = np.asarray(x, dtype=np.float64)
    f = np.asarray(f, dtype=np.float64)
    if f.ndim == 1:
        f = np.outer(f, f)
    n, c, h, w = x.shape
    upx, upy = up
    px0, px1, py0, py1 = pad
    zeros = np.zeros((n, c, h * upy, w * upx))
    zeros[:, :, ::upy, ::upx] = x  # each sample followed by up-1 zeros
    padded = np.zeros((n, c, h * upy + py0 + py1, w * upx + px0 + px1))
    for i in range(zeros.shape[2]):
        for j in range(zeros.shape[3]):
            ii, jj = i + py0, j + px0
            if 0 <= ii < padded.shape[2] and 0 <= jj < padded.shape[3]:
                padded[:, :, ii, jj] = zeros[:, :, i, j]
    kernel = f if flip else f[::-1, ::-1]  # not flipped by the caller: a true convolution with f
    fh, fw = f.shape
    out = np.zeros((n, c, padded.shape[2] - fh + 1, padded.shape[3] - fw + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = (padded[:, :, i : i + fh, j : j + fw] * kernel).sum(axis=(2, 3))
    return out[:, :, :: down[1], :: down[0]] * gain


RNG = np.random.default_rng(0)
NONSEP = RNG.normal(size=(3, 3))
EVEN_RECT = RNG.normal(size=(2, 4))  # even lengths, not square
CASES = [
    # (filter, separable, up, down, padding, flip, gain)
    ([1, 3, 3, 1], True, 1, 1, 0, False, 1.0),
    ([1, 3, 3, 1], True, 2, 1, (2, 1, 2, 1), False, 4.0),
    ([1, 3, 3, 1], True, 1, 2, 1, False, 1.0),
    ([1, 3, 3, 1], False, 2, 1, (2, 1), False, 4.0),
    ([1, 2, 1], True, (2, 1), (1, 2), (1, 0, 2, -1), True, 1.5),
    (NONSEP, False, 1, 1, 1, False, 1.0),
    (NONSEP, False, 1, 1, 1, True, 1.0),
    (NONSEP, False, 3, 2, (0, 2, 1, 1), False, 0.5),
    (NONSEP, False, 2, 3, (-1, 2, 3, -2), True, 2.0),
    (EVEN_RECT, False, 1, 1, 0, False, 1.0),
    (EVEN_RECT, False, 2, 2, (1, 2, 0, 1), True, 1.0),
    (EVEN_RECT, False, (3, 2), (2, 1), (-2, 0, 1, 1), False, 3.0),
]


def _pairs(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _pad4(p):
    if isinstance(p, int):
        return (p,) * 4
    return (p[0], p[0], p[1], p[1]) if len(p) == 2 else tuple(p)


@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_reference_matches_direct_definition(case):
    taps, separable, up, down, padding, flip, gain = case
    f = setup_filter(taps, normalize=False, separable=separable)
    assert f.ndim == (1 if separable else 2)
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    got = upfirdn2d(x, f, up=up, down=down, padding=padding, flip_filter=flip, gain=gain, impl="ref")
    want = direct_upfirdn2d(x.numpy(), f.numpy(), _pairs(up), _pairs(down), _pad4(padding), flip, gain)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-10)


def test_setup_filter_normalises_flips_and_applies_gain():
    f = setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4) and torch.isclose(f.sum(), torch.tensor(1.0))
    sep = setup_filter([1, 3, 3, 1], separable=True)
    assert sep.shape == (4,) and torch.isclose(sep.sum(), torch.tensor(1.0))
    assert setup_filter([1] * 8).ndim == 1  # long 1-D filters stay separable by default
    flipped = setup_filter([[1, 2], [3, 4]], normalize=False, flip_filter=True, gain=2.0)
    assert torch.equal(flipped, torch.tensor([[8.0, 6.0], [4.0, 2.0]]))
    with pytest.raises(ValueError, match="sum to 0"):
        setup_filter([1, -1])


@pytest.mark.parametrize("separable", [False, True])
def test_resampling_helpers_keep_sizes_and_dc_gain(separable):
    f = setup_filter([1, 3, 3, 1], separable=separable)
    x = torch.full((1, 2, 8, 8), 0.7, dtype=torch.float64)
    up = upsample2d(x, f)
    down = downsample2d(x, f)
    same = filter2d(x, f)
    assert up.shape == (1, 2, 16, 16) and down.shape == (1, 2, 4, 4) and same.shape == (1, 2, 8, 8)
    # Away from the zero-padded border a constant image stays constant: the DC gain is 1.
    assert torch.allclose(up[..., 3:-3, 3:-3], torch.tensor(0.7, dtype=torch.float64))
    assert torch.allclose(down[..., 1:-1, 1:-1], torch.tensor(0.7, dtype=torch.float64))
    assert torch.allclose(same[..., 2:-2, 2:-2], torch.tensor(0.7, dtype=torch.float64))


def test_upsample2d_equals_explicit_upfirdn2d_call():
    f = setup_filter([1, 3, 3, 1])
    x = torch.randn(1, 1, 5, 5, dtype=torch.float64)
    want = direct_upfirdn2d(x.numpy(), f.numpy(), (2, 2), (1, 1), (2, 1, 2, 1), False, 4.0)
    np.testing.assert_allclose(upsample2d(x, f).numpy(), want, atol=1e-12)


@pytest.mark.parametrize("separable", [False, True])
def test_gradgradcheck_reference(separable):
    f = setup_filter([1, 2, 1], separable=separable).double()
    x = torch.randn(1, 1, 4, 3, dtype=torch.float64, requires_grad=True)

    def fn(x):
        return upfirdn2d(x, f, up=2, down=(1, 2), padding=(1, 0, 2, -1), gain=3.0, impl="ref")

    assert torch.autograd.gradcheck(fn, (x,), fast_mode=True)
    assert torch.autograd.gradgradcheck(fn, (x,), fast_mode=True)


def test_bad_arguments_give_clear_errors():
    x = torch.zeros(1, 1, 4, 4)
    f = setup_filter([1, 3, 3, 1])
    with pytest.raises(ValueError, match="NCHW"):
        upfirdn2d(x[0], f)
    with pytest.raises(ValueError, match="padding"):
        upfirdn2d(x, f, padding=(1, 2, 3))
    with pytest.raises(ValueError, match="up must be >= 1"):
        upfirdn2d(x, f, up=0)
    with pytest.raises(ValueError, match="smaller than the filter"):
        upfirdn2d(x, f, padding=-2)
    with pytest.raises(ValueError, match="impl"):
        upfirdn2d(x, f, impl="fast")


# ----------------------------------------------------------------------------- CUDA kernel vs reference


@pytest.mark.gpu
@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
def test_kernel_matches_reference_values_and_gradients(case, dtype):
    taps, separable, up, down, padding, flip, gain = case
    f = setup_filter(taps, normalize=False, separable=separable, device="cuda")
    x = torch.randn(3, 4, 9, 8, device="cuda", dtype=dtype, requires_grad=True)
    kw = dict(up=up, down=down, padding=padding, flip_filter=flip, gain=gain)
    y_ref = upfirdn2d(x, f, impl="ref", **kw)
    y_cuda = upfirdn2d(x, f, impl="cuda", **kw)
    tol = 1e-2 if dtype == torch.float16 else 1e-5
    torch.testing.assert_close(y_cuda, y_ref, rtol=tol, atol=tol)
    dy = torch.randn_like(y_ref, requires_grad=True)
    (g_ref,) = torch.autograd.grad(y_ref, x, dy, create_graph=True)
    (g_cuda,) = torch.autograd.grad(y_cuda, x, dy, create_graph=True)
    torch.testing.assert_close(g_cuda, g_ref, rtol=tol, atol=tol)
    # Second order: the gradient is linear in dy, so d(sum g²)/d(dy) goes through the backward's backward.
    (gg_ref,) = torch.autograd.grad(g_ref.square().sum(), dy)
    (gg_cuda,) = torch.autograd.grad(g_cuda.square().sum(), dy)
    torch.testing.assert_close(gg_cuda, gg_ref, rtol=10 * tol, atol=10 * tol)


@pytest.mark.gpu
def test_kernel_gradgradcheck_float64():
    f = setup_filter([1, 3, 3, 1], device="cuda")
    x = torch.randn(1, 2, 5, 5, device="cuda", dtype=torch.float64, requires_grad=True)

    def fn(x):
        return upfirdn2d(x, f, up=2, padding=(2, 1, 2, 1), gain=4.0, impl="cuda")

    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


# ----------------------------------------------------------------------------- autograd plumbing on CPU


class TorchKernel:
    """The compiled kernel's contract (2-D float32 filter, integer parameters) written with the direct
    definition above, so the CUDA path's autograd.Function can be exercised on a machine without a GPU."""

    @staticmethod
    def upfirdn2d(x, f, upx, upy, downx, downy, px0, px1, py0, py1, flip, gain):
        out = direct_upfirdn2d(
            x.detach().numpy(), f.numpy(), (upx, upy), (downx, downy), (px0, px1, py0, py1), flip, gain
        )
        return torch.from_numpy(out).to(x.dtype)


@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_kernel_function_gradients_match_reference(case):
    """The Function's backward (adjoint padding, flipped filter, swapped up/down) equals autograd of the reference."""
    from sdstylegan.ops.upfirdn2d import _pair, _Upfirdn2dCuda, parse_padding

    taps, _, up, down, padding, flip, gain = case
    f = setup_filter(taps, normalize=False, separable=False)
    x = torch.randn(1, 2, 7, 6, dtype=torch.float64, requires_grad=True)
    args = (_pair(up, "up"), _pair(down, "down"), parse_padding(padding), flip, gain)
    y_ref = upfirdn2d(x, f, up=up, down=down, padding=padding, flip_filter=flip, gain=gain, impl="ref")
    y_fn = _Upfirdn2dCuda.apply(x, f, TorchKernel, *args)
    torch.testing.assert_close(y_fn, y_ref)
    dy = torch.randn_like(y_ref)
    (g_ref,) = torch.autograd.grad(y_ref, x, dy)
    (g_fn,) = torch.autograd.grad(y_fn, x, dy)
    torch.testing.assert_close(g_fn, g_ref)
