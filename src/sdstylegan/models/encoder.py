"""Encoder E(img) -> w for self-filtering (Self-Distilled StyleGAN, Mokady et al. 2022, sec. 3.1): the
discriminator's residual architecture with a w_dim-wide head, fed to the synthesis network directly
(mapping skipped). `w_plus=True` predicts one w per synthesis layer, [N, num_ws, w_dim]. No minibatch-std:
an image's code must not depend on the other images in its batch."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sdstylegan.models.discriminator import Discriminator
from sdstylegan.models.layers import check_image, init_arguments
from sdstylegan.models.synthesis import check_resolution


def synthesis_num_ws(img_resolution: int) -> int:
    """Number of ws the synthesis network takes at this resolution: 2·log2(R) − 2."""
    return 2 * check_resolution(img_resolution) - 2


class Encoder(nn.Module):
    """Images [N, C, R, R] → w [N, w_dim] (or [N, num_ws, w_dim] with w_plus)."""

    def __init__(
        self,
        img_resolution: int = 256,
        img_channels: int = 3,
        w_dim: int = 512,
        w_plus: bool = False,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        mixed_precision: str = "float16",
        conv_clamp: float | None = None,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
    ) -> None:
        init_kwargs = init_arguments(locals())
        super().__init__()
        self.init_kwargs = init_kwargs
        self.img_resolution, self.img_channels, self.w_dim, self.w_plus = (
            img_resolution,
            img_channels,
            w_dim,
            w_plus,
        )
        self.num_ws = synthesis_num_ws(img_resolution)
        self.trunk = Discriminator(
            img_resolution=img_resolution,
            img_channels=img_channels,
            channel_base=channel_base,
            channel_max=channel_max,
            num_fp16_res=num_fp16_res,
            mixed_precision=mixed_precision,
            conv_clamp=conv_clamp,
            mbstd_group_size=0,
            resample_filter=resample_filter,
            out_features=w_dim * (self.num_ws if w_plus else 1),
        )

    def forward(self, img: torch.Tensor, force_fp32: bool = False) -> torch.Tensor:
        """w codes for the images."""
        check_image(img, self.img_channels, self.img_resolution, "Encoder")
        w = self.trunk(img, force_fp32=force_fp32)
        return w.reshape(-1, self.num_ws, self.w_dim) if self.w_plus else w
