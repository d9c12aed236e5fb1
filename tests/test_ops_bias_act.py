"""bias_act reference against plain per-element formulas for every activation (with gain and clamp),
second-order gradients, and the CUDA kernel against the reference (gpu)."""

from __future__ import annotations

import math

import pytest
import torch

from sdstylegan.ops import ACTIVATIONS, bias_act


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


# Written from the textbook definitions, independent of the module under test.
FORMULAS = {
    "linear": lambda z, a: z,
    "relu": lambda z, a: max(z, 0.0),
    "lrelu": lambda z, a: z if z > 0 else a * z,
    "tanh": lambda z, a: math.tanh(z),
    "sigmoid": lambda z, a: _sigmoid(z),
    "elu": lambda z, a: z if z > 0 else math.exp(z) - 1,
    "selu": lambda z, a: 1.0507009873554805 * (z if z > 0 else 1.6732632423543772 * (math.exp(z) - 1)),
    "softplus": lambda z, a: math.log1p(math.exp(z)),
    "swish": lambda z, a: z * _sigmoid(z),
}
DEFAULT_GAIN = {"relu": math.sqrt(2), "lrelu": math.sqrt(2), "swish": math.sqrt(2)}


def test_every_activation_has_a_formula():
    assert set(ACTIVATIONS) == set(FORMULAS)


@pytest.mark.parametrize("act", sorted(FORMULAS))
@pytest.mark.parametrize("gain,clamp,alpha", [(None, None, None), (0.5, 0.3, 0.1)])
def test_reference_matches_formulas(act, gain, clamp, alpha):
    x = torch.randn(2, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2
    b = torch.tensor([0.5, -1.0, 0.25], dtype=torch.float64)
    y = bias_act(x, b, dim=1, act=act, alpha=alpha, gain=gain, clamp=clamp, impl="ref")
    g = DEFAULT_GAIN.get(act, 1.0) if gain is None else gain
    a = 0.2 if alpha is None else alpha
    for idx in torch.cartesian_prod(*(torch.arange(s) for s in x.shape)).tolist():
        i, c, k = idx
        want = FORMULAS[act](x[i, c, k].item() + b[c].item(), a) * g
        if clamp is not None:
            want = max(-clamp, min(clamp, want))
        assert y[i, c, k].item() == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_bias_follows_dim_and_is_optional():
    x = torch.zeros(2, 3, 5)
    b = torch.arange(5.0)
    y = bias_act(x, b, dim=2, impl="ref")
    assert torch.equal(y[1, 2], b)
    assert torch.equal(bias_act(x + 1, impl="ref"), x + 1)


@pytest.mark.parametrize("act", sorted(FORMULAS))
def test_gradgradcheck_reference(act):
    gen = torch.Generator().manual_seed(1)
    x = (torch.randn(2, 3, dtype=torch.float64, generator=gen) + 0.05).requires_grad_()
    b = torch.randn(3, dtype=torch.float64, generator=gen).requires_grad_()

    def fn(x, b):
        return bias_act(x, b, act=act, gain=1.3, impl="ref")

    assert torch.autograd.gradcheck(fn, (x, b), fast_mode=True)
    assert torch.autograd.gradgradcheck(fn, (x, b), fast_mode=True)


def test_clamped_outputs_pass_no_gradient():
    x = torch.tensor([[-5.0, 0.1, 5.0]], requires_grad=True)
    y = bias_act(x, dim=1, act="linear", clamp=1.0, impl="ref")
    y.sum().backward()
    assert torch.equal(x.grad, torch.tensor([[0.0, 1.0, 0.0]]))


def test_bad_arguments_give_clear_errors():
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="unknown activation"):
        bias_act(x, act="gelu")
    with pytest.raises(ValueError, match=r"shape \[3\]"):
        bias_act(x, torch.zeros(4))
    with pytest.raises(ValueError, match="out of range"):
        bias_act(x, dim=2)


# ----------------------------------------------------------------------------- CUDA kernel vs reference


@pytest.mark.gpu
@pytest.mark.parametrize("act", sorted(FORMULAS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
@pytest.mark.parametrize("clamp", [None, 0.7])
def test_kernel_matches_reference_to_second_order(act, dtype, clamp):
    gen = torch.Generator(device="cuda").manual_seed(2)
    x = torch.randn(4, 5, 6, 7, device="cuda", dtype=dtype, generator=gen).requires_grad_()
    b = torch.randn(5, device="cuda", dtype=dtype, generator=gen).requires_grad_()
    tol = 2e-2 if dtype == torch.float16 else 1e-5
    outs = {}
    for impl in ("ref", "cuda"):
        y = bias_act(x, b, act=act, gain=1.1, clamp=clamp, impl=impl)
        dy = torch.ones_like(y) * 0.3
        gx, gb = torch.autograd.grad(y, (x, b), dy, create_graph=True)
        ggx, ggb = torch.autograd.grad((gx.square().sum() + gb.sum()), (x, b), allow_unused=True)
        outs[impl] = (y, gx, gb, ggx, ggb)
    for r, c in zip(outs["ref"], outs["cuda"], strict=True):
        if r is None or c is None:
            for t in (r, c):
                assert t is None or torch.count_nonzero(t) == 0
            continue
        torch.testing.assert_close(c, r, rtol=tol, atol=tol)


@pytest.mark.gpu
@pytest.mark.parametrize("act", ["lrelu", "tanh", "swish", "softplus"])
def test_kernel_gradgradcheck_float64(act):
    x = (torch.randn(2, 3, 4, device="cuda", dtype=torch.float64) + 0.05).requires_grad_()
    b = torch.randn(3, device="cuda", dtype=torch.float64).requires_grad_()

    def fn(x, b):
        return bias_act(x, b, act=act, impl="cuda")

    assert torch.autograd.gradcheck(fn, (x, b))
    assert torch.autograd.gradgradcheck(fn, (x, b))
