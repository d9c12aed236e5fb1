"""bias_act: add a per-channel bias, apply an activation, scale by a gain, clamp — in one pass.

Semantics as in StyleGAN2-ADA: y = clamp(act(x + b) * gain, -clamp, clamp), with `b` broadcast along `dim`
and each activation's usual default alpha and gain (lrelu: 0.2, sqrt 2). The reference is plain PyTorch.
On CUDA tensors the kernel (csrc/bias_act_kernel.cu) computes y and the first derivative; the second
derivative uses the closed forms below (act''), so R1 / path-length double backward works through
supported autograd APIs only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sdstylegan.ops.build import cuda_extension_for

Fn = Callable[[torch.Tensor, float], torch.Tensor]


@dataclass(frozen=True)
class Activation:
    """One activation: reference forward, closed-form second derivative, defaults, kernel code."""

    code: int  # index understood by the CUDA kernel
    func: Fn  # reference forward (differentiable to any order)
    d2: Fn | None  # f''(z); None where it is 0 almost everywhere
    alpha: float  # default alpha (only lrelu uses it)
    gain: float  # default gain: keeps the signal's second moment roughly constant


_SELU_SCALE = 1.0507009873554805
_SELU_ALPHA = 1.6732632423543772


def _sig_d2(z: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(z)
    return s * (1 - s) * (1 - 2 * s)


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation(0, lambda z, a: z, None, 0.0, 1.0),
    "relu": Activation(1, lambda z, a: F.relu(z), None, 0.0, math.sqrt(2)),
    "lrelu": Activation(2, lambda z, a: F.leaky_relu(z, a), None, 0.2, math.sqrt(2)),
    "tanh": Activation(
        3, lambda z, a: torch.tanh(z), lambda z, a: -2 * torch.tanh(z) * (1 - torch.tanh(z) ** 2), 0.0, 1.0
    ),
    "sigmoid": Activation(4, lambda z, a: torch.sigmoid(z), lambda z, a: _sig_d2(z), 0.0, 1.0),
    "elu": Activation(5, lambda z, a: F.elu(z), lambda z, a: torch.where(z > 0, 0.0, torch.exp(z)), 0.0, 1.0),
    "selu": Activation(
        6,
        lambda z, a: F.selu(z),
        lambda z, a: torch.where(z > 0, 0.0, _SELU_SCALE * _SELU_ALPHA * torch.exp(z)),
        0.0,
        1.0,
    ),
    "softplus": Activation(
        7, lambda z, a: F.softplus(z), lambda z, a: torch.sigmoid(z) * (1 - torch.sigmoid(z)), 0.0, 1.0
    ),
    "swish": Activation(
        8,
        lambda z, a: F.silu(z),
        # d²/dz² z·σ(z) = σ(1−σ)(2 + z(1−2σ))
        lambda z, a: torch.sigmoid(z) * (1 - torch.sigmoid(z)) * (2 + z * (1 - 2 * torch.sigmoid(z))),
        0.0,
        math.sqrt(2),
    ),
}


def _bias_shape(x: torch.Tensor, dim: int) -> list[int]:
    return [-1 if i == dim else 1 for i in range(x.ndim)]


def _check(x: torch.Tensor, b: torch.Tensor | None, dim: int, act: str) -> Activation:
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; choose from {sorted(ACTIVATIONS)}")
    if not 0 <= dim < x.ndim:
        raise ValueError(f"dim={dim} is out of range for a {x.ndim}-D tensor")
    if b is not None and (b.ndim != 1 or b.shape[0] != x.shape[dim]):
        raise ValueError(f"bias must have shape [{x.shape[dim]}] (x.shape[{dim}]), got {tuple(b.shape)}")
    return ACTIVATIONS[act]


def _bias_act_ref(x, b, dim, spec: Activation, alpha, gain, clamp):
    if b is not None:
        x = x + b.to(x.dtype).reshape(_bias_shape(x, dim))
    x = spec.func(x, alpha)
    if gain != 1:
        x = x * gain
    if clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


# ----------------------------------------------------------------------------- CUDA path


def _empty(x: torch.Tensor) -> torch.Tensor:
    return x.new_empty([0])


class _BiasActCuda(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, b, meta):  # noqa: D102
        ext, dim, spec, alpha, gain, clamp = meta
        bb = _empty(x) if b is None else b.contiguous()
        y = ext.bias_act(x, bb, _empty(x), _empty(x), dim, 0, spec.code, alpha, gain, clamp)
        ctx.save_for_backward(x, bb, y)
        ctx.meta, ctx.has_b = meta, b is not None
        return y

    @staticmethod
    def backward(ctx, dy):  # noqa: D102
        x, bb, y = ctx.saved_tensors
        dz = _BiasActGradCuda.apply(dy.contiguous(), x, bb, y, ctx.meta)
        db = None
        if ctx.has_b and ctx.needs_input_grad[1]:
            dim = ctx.meta[1]
            db = dz.sum([i for i in range(dz.ndim) if i != dim])
        return dz, db, None


class _BiasActGradCuda(torch.autograd.Function):
    """dz = dy · gain · act'(x + b) · [|y| < clamp]; linear in dy, so its dy-gradient is itself."""

    @staticmethod
    def forward(ctx, dy, x, bb, y, meta):  # noqa: D102
        ext, dim, spec, alpha, gain, clamp = meta
        dz = ext.bias_act(x, bb, y, dy, dim, 1, spec.code, alpha, gain, clamp)
        ctx.save_for_backward(dy, x, bb, y)
        ctx.meta = meta
        return dz

    @staticmethod
    def backward(ctx, ddz):  # noqa: D102
        dy, x, bb, y = ctx.saved_tensors
        ext, dim, spec, alpha, gain, clamp = ctx.meta
        d_dy = d_x = d_b = None
        if ctx.needs_input_grad[0]:
            d_dy = _BiasActGradCuda.apply(ddz.contiguous(), x, bb, y, ctx.meta)
        if spec.d2 is not None and (ctx.needs_input_grad[1] or ctx.needs_input_grad[2]):
            z = x + bb.reshape(_bias_shape(x, dim)) if bb.numel() else x
            d_x = ddz * dy * gain * spec.d2(z, alpha)
            if clamp >= 0:
                d_x = d_x * (y.abs() < clamp)
            if bb.numel() and ctx.needs_input_grad[2]:
                d_b = d_x.sum([i for i in range(d_x.ndim) if i != dim])
        return d_dy, d_x, d_b, None, None


# ----------------------------------------------------------------------------- public API


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
    impl: str = "auto",
) -> torch.Tensor:
    """clamp(act(x + b) · gain); alpha/gain None = the activation's default, clamp None = no clamping."""
    spec = _check(x, b, dim, act)
    alpha = float(spec.alpha if alpha is None else alpha)
    gain = float(spec.gain if gain is None else gain)
    clamp = float(-1 if clamp is None else clamp)
    ext = cuda_extension_for(x, impl)
    if ext is None:
        return _bias_act_ref(x, b, dim, spec, alpha, gain, clamp)
    if b is not None:
        b = b.to(x.dtype).contiguous()
    # contiguous here, not inside the Function, so the saved x stays on the caller's graph (double backward).
    return _BiasActCuda.apply(x.contiguous(), b, (ext, dim, spec, alpha, gain, clamp))
