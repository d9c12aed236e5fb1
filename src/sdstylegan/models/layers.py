"""Building blocks with equalised learning rate (Karras et al. 2018): weights are stored N(0, 1)/lr_mult and
scaled at run time by lr_mult/sqrt(fan_in), so Adam's per-parameter step sizes are uniform across layers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from sdstylegan.ops import bias_act, conv2d_resample, setup_filter
from sdstylegan.ops.bias_act import ACTIVATIONS


def init_arguments(local_vars: dict) -> dict:
    """A constructor's arguments from its `locals()` taken on entry, sequences as lists of floats.

    Networks keep them as `init_kwargs`, so a checkpoint can rebuild them from a plain dict (no pickled classes).
    """
    return {
        k: [float(x) for x in v] if isinstance(v, (list, tuple)) else v
        for k, v in local_vars.items()
        if k not in ("self", "__class__")
    }


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale each vector to unit root-mean-square (the pixel norm applied to z)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def check_image(img: torch.Tensor, channels: int, resolution: int, who: str) -> None:
    """Clear error for images that D or E cannot take."""
    if img.ndim != 4 or img.shape[1] != channels or img.shape[2] != resolution or img.shape[3] != resolution:
        raise ValueError(
            f"{who} expects images of shape [N, {channels}, {resolution}, {resolution}], got {tuple(img.shape)}"
        )


class FullyConnected(nn.Module):
    """Dense layer with equalised lr, fused bias + activation."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,  # < 1 slows this layer down (mapping network: 0.01)
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features, self.activation = in_features, out_features, activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / np.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias
        if b is not None:
            b = b.to(x.dtype)
            if self.bias_gain != 1:
                b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)

    def extra_repr(self) -> str:  # noqa: D102
        return f"in={self.in_features}, out={self.out_features}, act={self.activation}"


class Conv2dLayer(nn.Module):
    """'Same' conv with equalised lr, optional FIR up/downsampling, fused bias + activation + clamp."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,  # clamp outputs to ±conv_clamp (keeps fp16 in range)
        channels_last: bool = False,
        trainable: bool = True,
    ) -> None:
        super().__init__()
        self.activation, self.up, self.down, self.conv_clamp = activation, up, down, conv_clamp
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.weight_gain = 1 / np.sqrt(in_channels * kernel_size**2)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        weight = torch.randn(out_channels, in_channels, kernel_size, kernel_size).to(
            memory_format=memory_format
        )
        b = torch.zeros(out_channels) if bias else None
        if trainable:
            self.weight = nn.Parameter(weight)
            self.bias = nn.Parameter(b) if b is not None else None
        else:
            self.register_buffer("weight", weight)
            self.register_buffer("bias", b)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:  # noqa: D102
        w = self.weight * self.weight_gain
        b = self.bias.to(x.dtype) if self.bias is not None else None
        x = conv2d_resample(x, w.to(x.dtype), self.resample_filter, up=self.up, down=self.down)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        act_gain = bias_act_default_gain(self.activation) * gain
        return bias_act(x, b, act=self.activation, gain=act_gain, clamp=clamp)


def bias_act_default_gain(activation: str) -> float:
    """The activation's default gain (sqrt 2 for (l)relu), used when a layer scales it further."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[activation].gain
