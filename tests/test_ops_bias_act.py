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


# ----------------------------------------------------------------------------- autograd plumbing on CPU


@pytest.mark.parametrize("act", sorted(FORMULAS))
def test_closed_form_second_derivatives(act):
    spec = ACTIVATIONS[act]
    z = torch.linspace(-3, 3, 13, dtype=torch.float64).add(0.01).requires_grad_()
    (d1,) = torch.autograd.grad(spec.func(z, 0.2).sum(), z, create_graph=True)
    want = torch.zeros_like(z)
    if d1.requires_grad:  # linear: f' is a constant with no graph
        (d2,) = torch.autograd.grad(d1.sum(), z, allow_unused=True)
        want = want if d2 is None else d2
    got = torch.zeros_like(z) if spec.d2 is None else spec.d2(z.detach(), 0.2)
    torch.testing.assert_close(got, want)


class TorchKernel:
    """The compiled kernel's contract written with textbook formulas (mode 0: forward, mode 1: dy·gain·f'·mask),
    so the CUDA path's autograd.Functions can be checked to second order without a GPU."""

    @staticmethod
    def bias_act(x, b, y, dy, dim, mode, code, alpha, gain, clamp):
        name = next(n for n, s in ACTIVATIONS.items() if s.code == code)
        z = x.detach() + (b.reshape([-1 if i == dim else 1 for i in range(x.ndim)]) if b.numel() else 0)
        zf = z.flatten().tolist()
        if mode == 0:
            out = torch.tensor([FORMULAS[name](v, alpha) * gain for v in zf], dtype=x.dtype).reshape(x.shape)
            return out.clamp(-clamp, clamp) if clamp >= 0 else out
        h = 1e-6  # central difference of the formula: an independent f'
        d = [(FORMULAS[name](v + h, alpha) - FORMULAS[name](v - h, alpha)) / (2 * h) for v in zf]
        g = dy.detach() * gain * torch.tensor(d, dtype=x.dtype).reshape(x.shape)
        return g * (y.abs() < clamp) if clamp >= 0 else g


@pytest.mark.parametrize("act", ["lrelu", "tanh", "swish", "elu"])
@pytest.mark.parametrize("clamp", [None, 0.8])
def test_kernel_functions_match_reference_to_second_order(act, clamp):
    from sdstylegan.ops.bias_act import _BiasActCuda

    gen = torch.Generator().manual_seed(3)
    x = (torch.randn(3, 4, dtype=torch.float64, generator=gen) + 0.05).requires_grad_()
    b = torch.randn(4, dtype=torch.float64, generator=gen).requires_grad_()
    spec = ACTIVATIONS[act]
    results = []
    for run in ("ref", "fn"):
        if run == "ref":
            y = bias_act(x, b, act=act, gain=1.2, clamp=clamp, impl="ref")
        else:
            y = _BiasActCuda.apply(
                x, b, (TorchKernel, 1, spec, spec.alpha, 1.2, -1.0 if clamp is None else clamp)
            )
        gx, gb = torch.autograd.grad(y, (x, b), torch.full_like(y, 0.7), create_graph=True)
        ggx, ggb = torch.autograd.grad((gx.pow(3).sum() + gb.square().sum()), (x, b), allow_unused=True)
        # An unused input (f'' = 0 almost everywhere) has gradient zero.
        ggx = torch.zeros_like(x) if ggx is None else ggx
        ggb = torch.zeros_like(b) if ggb is None else ggb
        results.append((y, gx, gb, ggx, ggb))
    for fn_value, ref_value in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(fn_value, ref_value, rtol=1e-5, atol=1e-6)
