"""StyleGAN2 generator G = synthesis ∘ mapping, without class conditioning.

Contract used by training, metrics and distillation code:
    G.z_dim, G.w_dim, G.num_ws, G.img_resolution, G.img_channels
    G.mapping(z, truncation_psi=1, truncation_cutoff=None, truncation_center=None, update_emas=False)
        -> ws [N, num_ws, w_dim];  G.mapping.w_avg is the running mean of w (updated when update_emas)
    G.synthesis(ws, noise_mode='random'|'const'|'none', update_emas=False) -> img [N, C, R, R] in ~[-1, 1]
    G(z, truncation_psi=1, truncation_cutoff=None, truncation_center=None, noise_mode='random',
      update_emas=False) -> img
truncation_center (multi-modal truncation) is [w_dim], [N, w_dim] or [N, num_ws, w_dim]; None = w_avg.
`mix_styles` implements style-mixing regularisation for the training loop.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sdstylegan.models.layers import init_arguments
from sdstylegan.models.mapping import MappingNetwork
from sdstylegan.models.synthesis import SynthesisNetwork


class Generator(nn.Module):
    """z → w (MappingNetwork) → image (SynthesisNetwork)."""

    def __init__(
        self,
        z_dim: int = 512,
        w_dim: int = 512,
        img_resolution: int = 256,
        img_channels: int = 3,
        mapping_layers: int = 8,  # config F: 8; StyleGAN2-ADA `auto`: 2
        mapping_lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,  # StyleGAN2-ADA MappingNetwork default
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        mixed_precision: str = "float16",
        conv_clamp: float | None = None,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        use_noise: bool = True,
    ) -> None:
        init_kwargs = init_arguments(locals())
        super().__init__()
        self.init_kwargs = init_kwargs
        resample_filter = init_kwargs["resample_filter"]
        self.z_dim, self.w_dim, self.img_resolution, self.img_channels = (
            z_dim,
            w_dim,
            img_resolution,
            img_channels,
        )
        self.c_dim = 0  # no class conditioning (kept for code ported from StyleGAN2-ADA)
        self.synthesis = SynthesisNetwork(
            w_dim=w_dim,
            img_resolution=img_resolution,
            img_channels=img_channels,
            channel_base=channel_base,
            channel_max=channel_max,
            num_fp16_res=num_fp16_res,
            mixed_precision=mixed_precision,
            conv_clamp=conv_clamp,
            resample_filter=resample_filter,
            use_noise=use_noise,
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            z_dim=z_dim,
            w_dim=w_dim,
            num_ws=self.num_ws,
            num_layers=mapping_layers,
            lr_multiplier=mapping_lr_multiplier,
            w_avg_beta=w_avg_beta,
        )

    def forward(
        self,
        z: torch.Tensor,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        truncation_center: torch.Tensor | None = None,
        noise_mode: str = "random",
        update_emas: bool = False,
        **synthesis_kwargs,
    ) -> torch.Tensor:
        """Images [N, C, R, R] for latents z [N, z_dim]."""
        ws = self.mapping(
            z,
            truncation_psi=truncation_psi,
            truncation_cutoff=truncation_cutoff,
            truncation_center=truncation_center,
            update_emas=update_emas,
        )
        return self.synthesis(ws, noise_mode=noise_mode, update_emas=update_emas, **synthesis_kwargs)


def mix_styles(
    ws: torch.Tensor,  # [N, num_ws, w_dim] from the first latents
    ws_other: torch.Tensor,  # [N, num_ws, w_dim] from independent latents
    prob: float,  # probability that the batch is mixed (StyleGAN2: 0.9)
    generator: torch.Generator | None = None,  # explicit RNG for reproducible mixing
) -> torch.Tensor:
    """Style mixing: with probability `prob`, layers from a random crossover point on take `ws_other`.

    As in StyleGAN2-ADA, one crossover for the whole batch, drawn uniformly from [1, num_ws).
    """
    if ws.shape != ws_other.shape or ws.ndim != 3:
        raise ValueError(
            f"ws and ws_other must both be [N, num_ws, w_dim], got {tuple(ws.shape)} and {tuple(ws_other.shape)}"
        )
    if not 0 <= prob <= 1:
        raise ValueError(f"style mixing prob must be in [0, 1], got {prob}")
    num_ws = ws.shape[1]
    if prob == 0 or num_ws < 2:
        return ws
    device = generator.device if generator is not None else "cpu"
    if torch.rand([], generator=generator, device=device).item() >= prob:
        return ws
    cutoff = int(torch.randint(1, num_ws, [], generator=generator, device=device).item())
    return torch.cat([ws[:, :cutoff], ws_other[:, cutoff:]], dim=1)
