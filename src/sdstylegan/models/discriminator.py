"""StyleGAN2 residual discriminator D(img) -> logits [N, 1], no class conditioning.

From the image resolution down to 8×8: fromRGB (first block only), two 3×3 convs (the second downsampling
with an FIR filter) plus a 1×1 downsampling skip, summed with gain sqrt(1/2); then at 4×4 the epilogue:
minibatch standard deviation, conv, dense, dense → `out_features` (1 for D; the encoder reuses the trunk
with w_dim outputs). Reduced precision on the `num_fp16_res` highest resolutions (CUDA only).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from sdstylegan.models.layers import Conv2dLayer, FullyConnected, check_image, init_arguments
from sdstylegan.models.synthesis import block_channels, check_resolution, fp16_resolution, mixed_dtype


class DiscriminatorBlock(nn.Module):
    """Residual block at one resolution, halving it."""

    def __init__(
        self,
        in_channels: int,  # 0 for the first block, which reads the image through fromRGB
        tmp_channels: int,
        out_channels: int,
        img_channels: int,
        use_fp16: bool = False,
        mixed_precision: str = "float16",
        conv_clamp: float | None = None,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
    ) -> None:
        super().__init__()
        self.in_channels, self.use_fp16 = in_channels, use_fp16
        self.mixed_dtype = mixed_dtype(mixed_precision)
        conv = dict(activation="lrelu", conv_clamp=conv_clamp, resample_filter=resample_filter)
        self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, **conv) if in_channels == 0 else None
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, **conv)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, down=2, **conv)
        self.skip = Conv2dLayer(
            tmp_channels, out_channels, 1, bias=False, down=2, resample_filter=resample_filter
        )

    def forward(self, x: torch.Tensor | None, img: torch.Tensor, force_fp32: bool = False) -> torch.Tensor:  # noqa: D102
        reduced = self.use_fp16 and not force_fp32 and img.device.type == "cuda"
        dtype = self.mixed_dtype if reduced else torch.float32
        if self.fromrgb is not None:
            x = self.fromrgb(img.to(dtype))
        else:
            x = x.to(dtype)
        # Residual sum with gain sqrt(1/2) on both branches keeps the variance unchanged.
        y = self.skip(x, gain=np.sqrt(0.5))
        x = self.conv0(x)
        x = self.conv1(x, gain=np.sqrt(0.5))
        return y + x


class MinibatchStdLayer(nn.Module):
    """Append the std of features across groups of samples (Karras et al. 2018) as extra channels."""

    def __init__(self, group_size: int, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        n, c, h, w = x.shape
        # Largest group size <= group_size that divides the batch (StyleGAN2-ADA requires divisibility).
        g = min(self.group_size, n)
        while n % g:
            g -= 1
        f = self.num_channels
        if c % f:
            raise ValueError(f"minibatch-std: {c} channels are not divisible into {f} groups")
        # Sample i belongs to group i mod (n / g), as in the reference implementation.
        y = x.reshape(g, n // g, f, c // f, h, w).to(torch.float32)
        y = y - y.mean(dim=0)
        y = (y.square().mean(dim=0) + 1e-8).sqrt()  # [n/g, F, c/F, H, W]
        y = y.mean(dim=[2, 3, 4]).reshape(n // g, f, 1, 1)
        y = y.repeat(g, 1, h, w).to(x.dtype)
        return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """4×4 head: minibatch std → 3×3 conv → dense → dense(out_features)."""

    def __init__(
        self,
        in_channels: int,
        resolution: int = 4,
        out_features: int = 1,
        mbstd_group_size: int = 4,  # 0 disables (the encoder must not mix samples)
        mbstd_num_channels: int = 1,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_group_size > 0 else None
        extra = mbstd_num_channels if self.mbstd is not None else 0
        self.conv = Conv2dLayer(
            in_channels + extra, in_channels, 3, activation="lrelu", conv_clamp=conv_clamp
        )
        self.fc = FullyConnected(in_channels * resolution**2, in_channels, activation="lrelu")
        self.out = FullyConnected(in_channels, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        x = x.to(torch.float32)
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        return self.out(x)


class Discriminator(nn.Module):
    """Residual StyleGAN2 discriminator: images [N, C, R, R] → [N, out_features] (logits for D)."""

    def __init__(
        self,
        img_resolution: int = 256,
        img_channels: int = 3,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        mixed_precision: str = "float16",
        conv_clamp: float | None = None,
        mbstd_group_size: int = 4,
        mbstd_num_channels: int = 1,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        out_features: int = 1,
    ) -> None:
        init_kwargs = init_arguments(locals())
        super().__init__()
        self.init_kwargs = init_kwargs
        log2 = check_resolution(img_resolution)
        if img_resolution < 8:
            raise ValueError(f"the discriminator needs img_resolution >= 8, got {img_resolution}")
        mixed_dtype(mixed_precision)
        resample_filter = init_kwargs["resample_filter"]
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.block_resolutions = [2**i for i in range(log2, 2, -1)]
        channels = block_channels(self.block_resolutions + [4], channel_base, channel_max)
        fp16_res = fp16_resolution(img_resolution, num_fp16_res)
        self.blocks = nn.ModuleDict()
        for res in self.block_resolutions:
            self.blocks[f"b{res}"] = DiscriminatorBlock(
                channels[res] if res < img_resolution else 0,
                channels[res],
                channels[res // 2],
                img_channels=img_channels,
                use_fp16=res >= fp16_res,
                mixed_precision=mixed_precision,
                conv_clamp=conv_clamp,
                resample_filter=resample_filter,
            )
        self.epilogue = DiscriminatorEpilogue(
            channels[4],
            out_features=out_features,
            mbstd_group_size=mbstd_group_size,
            mbstd_num_channels=mbstd_num_channels,
            conv_clamp=conv_clamp,
        )

    def forward(self, img: torch.Tensor, update_emas: bool = False, force_fp32: bool = False) -> torch.Tensor:
        """Logits [N, out_features]; `update_emas` is accepted for API symmetry (D keeps no EMAs)."""
        check_image(img, self.img_channels, self.img_resolution, type(self).__name__)
        x = None
        for block in self.blocks.values():
            x = block(x, img, force_fp32=force_fp32)
        return self.epilogue(x)
