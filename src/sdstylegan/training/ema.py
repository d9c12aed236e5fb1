"""Exponential moving average of the generator weights (G_ema), with StyleGAN2-ADA's ramp-up.

The half-life is `ema_kimg` thousand images; with ramp-up r it is capped at r · (images seen so
far), so early G_ema follows G quickly instead of averaging random initial weights. Per step:
β = 0.5 ** (batch / ema_nimg), θ_ema ← θ + β·(θ_ema − θ); buffers (e.g. w_avg) are copied.
"""

from __future__ import annotations

import torch
from torch import nn


def ema_beta(batch_size: int, cur_nimg: int, ema_kimg: float, rampup: float | None = 0.05) -> float:
    """Decay for one step of `batch_size` images after `cur_nimg` images have been seen."""
    ema_nimg = ema_kimg * 1000
    if rampup is not None and rampup > 0:
        ema_nimg = min(ema_nimg, cur_nimg * rampup)
    return 0.5 ** (batch_size / max(ema_nimg, 1e-8))


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, beta: float) -> None:
    """θ_ema ← lerp(θ, θ_ema, β) for parameters; buffers copied from `model`."""
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.copy_(p.detach().lerp(p_ema, beta))
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)
