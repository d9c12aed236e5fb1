"""Synthesis network w → image (StyleGAN2 config F, 'skip' generator): a learned 4×4 constant, per resolution
two modulated 3×3 convs (the first upsampling with an FIR filter), per-pixel noise, and a toRGB whose
outputs are upsampled and summed across resolutions. The highest `num_fp16_res` resolutions run in
reduced precision on CUDA (fp16 or bf16) with activations clamped to ±conv_clamp."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from sdstylegan.models.layers import FullyConnected, bias_act_default_gain
from sdstylegan.ops import bias_act, modulated_conv2d, setup_filter, upsample2d

NOISE_MODES = ("random", "const", "none")
MIXED_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def block_channels(resolutions: Sequence[int], channel_base: int, channel_max: int) -> dict[int, int]:
    """Feature maps per resolution: channel_base / res, capped at channel_max (at least 1)."""
    return {res: max(1, min(channel_base // res, channel_max)) for res in resolutions}


def check_resolution(resolution: int) -> int:
    """Resolutions are powers of two from 4 (16 … 1024 in practice)."""
    if resolution < 4 or resolution & (resolution - 1):
        raise ValueError(f"img_resolution must be a power of two >= 4, got {resolution}")
    return int(np.log2(resolution))


def mixed_dtype(mixed_precision: str) -> torch.dtype:
    """The reduced-precision dtype named by `mixed_precision` ("float16" or "bfloat16")."""
    if mixed_precision not in MIXED_DTYPES:
        raise ValueError(f"mixed_precision must be one of {sorted(MIXED_DTYPES)}, got {mixed_precision!r}")
    return MIXED_DTYPES[mixed_precision]


def fp16_resolution(img_resolution: int, num_fp16_res: int) -> int:
    """Lowest resolution run in reduced precision: the `num_fp16_res` highest ones, never below 8; with
    num_fp16_res = 0 a resolution above img_resolution, so none is."""
    if num_fp16_res <= 0:
        return img_resolution * 2
    return max(2 ** (check_resolution(img_resolution) + 1 - num_fp16_res), 8)


class SynthesisLayer(nn.Module):
    """Modulated conv (optionally upsampling ×2) + noise + bias + lrelu."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,  # output resolution
        kernel_size: int = 3,
        up: int = 1,
        use_noise: bool = True,
        activation: str = "lrelu",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.in_channels, self.resolution, self.up = in_channels, resolution, up
        self.activation, self.conv_clamp, self.use_noise = activation, conv_clamp, use_noise
        self.act_gain = bias_act_default_gain(activation)
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        # Styles start at 1: the modulation begins as the identity.
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        if use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        noise_mode: str = "random",
        fused_modconv: bool = True,
        gain: float = 1.0,
    ) -> torch.Tensor:  # noqa: D102
        styles = self.affine(w)
        noise = None
        if self.use_noise and noise_mode == "random":
            noise = (
                torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device)
                * self.noise_strength
            )
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        # Equalised lr of the conv weight is absorbed by demodulation, so no weight gain is needed here.
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            noise=noise,
            up=self.up,
            resample_filter=self.resample_filter,
            fused_modconv=fused_modconv,
        )
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias.to(x.dtype), act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    """1×1 modulated conv without demodulation, to image channels."""

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None
    ) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / np.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool = True) -> torch.Tensor:  # noqa: D102
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused_modconv=fused_modconv)
        return bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution: (constant | upsampling conv) → conv → toRGB added to the upsampled image."""

    def __init__(
        self,
        in_channels: int,  # 0 for the first (4×4) block, which starts from a learned constant
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        use_fp16: bool = False,
        mixed_precision: str = "float16",
        conv_clamp: float | None = None,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        use_noise: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels, self.resolution, self.use_fp16 = in_channels, resolution, use_fp16
        self.mixed_dtype = mixed_dtype(mixed_precision)
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        layer = dict(w_dim=w_dim, resolution=resolution, resample_filter=resample_filter, use_noise=use_noise)
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
            self.conv0 = None
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, up=2, conv_clamp=conv_clamp, **layer)
        self.conv1 = SynthesisLayer(out_channels, out_channels, conv_clamp=conv_clamp, **layer)
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.num_conv = 1 if in_channels == 0 else 2
        self.num_torgb = 1

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,  # [N, num_conv + num_torgb, w_dim]
        noise_mode: str = "random",
        force_fp32: bool = False,
        fused_modconv: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: D102
        n = ws.shape[0]
        # Reduced precision only on CUDA: CPU half convolutions are slow or missing.
        reduced = self.use_fp16 and not force_fp32 and ws.device.type == "cuda"
        dtype = self.mixed_dtype if reduced else torch.float32
        if fused_modconv is None:
            fused_modconv = (not self.training) and (dtype == torch.float32 or n == 1)
        w_iter = iter(ws.unbind(dim=1))
        if self.conv0 is None:
            x = self.const.to(dtype).unsqueeze(0).expand(n, -1, -1, -1)
            x = self.conv1(x, next(w_iter), noise_mode=noise_mode, fused_modconv=fused_modconv)
        else:
            x = x.to(dtype)
            x = self.conv0(x, next(w_iter), noise_mode=noise_mode, fused_modconv=fused_modconv)
            x = self.conv1(x, next(w_iter), noise_mode=noise_mode, fused_modconv=fused_modconv)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        y = self.torgb(x, next(w_iter), fused_modconv=fused_modconv).to(torch.float32)
        img = y if img is None else img + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] → images [N, img_channels, R, R], roughly in [-1, 1]."""

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int = 3,
        channel_base: int = 32768,  # feature maps at resolution r: min(channel_base / r, channel_max)
        channel_max: int = 512,
        num_fp16_res: int = 0,  # how many of the highest resolutions use reduced precision (on CUDA)
        mixed_precision: str = "float16",  # or "bfloat16"
        conv_clamp: float | None = None,  # StyleGAN2-ADA uses 256 together with fp16
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        use_noise: bool = True,
    ) -> None:
        super().__init__()
        log2 = check_resolution(img_resolution)
        mixed_dtype(mixed_precision)
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        channels = block_channels(self.block_resolutions, channel_base, channel_max)
        fp16_res = fp16_resolution(img_resolution, num_fp16_res)
        self.blocks = nn.ModuleDict()
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(
                channels[res // 2] if res > 4 else 0,
                channels[res],
                w_dim=w_dim,
                resolution=res,
                img_channels=img_channels,
                use_fp16=res >= fp16_res,
                mixed_precision=mixed_precision,
                conv_clamp=conv_clamp,
                resample_filter=resample_filter,
                use_noise=use_noise,
            )
            self.blocks[f"b{res}"] = block
            self.num_ws += block.num_conv
        self.num_ws += 1  # the last block's toRGB; earlier toRGBs share a w with the next block's first conv

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "random",
        update_emas: bool = False,  # accepted for API symmetry with the mapping; synthesis keeps no EMAs
        force_fp32: bool = False,
        fused_modconv: bool | None = None,
    ) -> torch.Tensor:
        """Render images from per-layer styles."""
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(
                f"synthesis expects ws of shape [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}"
            )
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        ws = ws.to(torch.float32)
        x = img = None
        idx = 0
        for block in self.blocks.values():
            block_ws = ws.narrow(1, idx, block.num_conv + block.num_torgb)
            idx += block.num_conv
            x, img = block(
                x, img, block_ws, noise_mode=noise_mode, force_fp32=force_fp32, fused_modconv=fused_modconv
            )
        return img
