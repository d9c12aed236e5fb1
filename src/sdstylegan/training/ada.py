"""ADA's overfitting heuristic: move the augmentation probability p so that r_t → target (0.6).

r_t = E[sign(D(x_real))] over the last `interval` minibatches: D that is confidently right on
every real image (r_t → 1) is overfitting, so p rises; r_t below target lowers p. Each adjustment
moves p by sign(r_t − target) · batch·interval / (kimg·1000), i.e. p can go 0 → 1 in `kimg`
thousand images (500 in the paper). State lives in buffers so the checkpoint keeps p exactly;
the statistic is summed over ranks every step, so every DDP rank holds the same p.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class AdaController(nn.Module):
    """Accumulates sign(D(real)) and adjusts `p` every `interval` minibatches."""

    def __init__(
        self,
        target: float = 0.6,  # r_t the heuristic aims for
        interval: int = 4,  # minibatches between adjustments
        kimg: float = 500.0,  # thousands of images for p to move by 1
        p_init: float = 0.0,  # starting probability
        p_max: float = 1.0,  # upper bound on p
    ):
        super().__init__()
        if not 0 < target < 1:
            raise ValueError(f"ada.target must lie in (0, 1), got {target}")
        if interval < 1 or kimg <= 0:
            raise ValueError(f"ada.interval must be ≥ 1 and ada.kimg > 0, got {interval}, {kimg}")
        self.target, self.interval, self.kimg, self.p_max = (
            float(target),
            int(interval),
            float(kimg),
            float(p_max),
        )
        self.register_buffer("p", torch.tensor(float(p_init)))
        self.register_buffer("sign_sum", torch.zeros([], dtype=torch.float64))
        self.register_buffer("count", torch.zeros([], dtype=torch.float64))
        self.register_buffer("batches", torch.zeros([], dtype=torch.long))
        self.register_buffer("rt", torch.tensor(float("nan")))  # last r_t, for logging

    @torch.no_grad()
    def accumulate(
        self,
        real_logits: torch.Tensor,
        all_reduce_sum: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        """Add this rank's real logits; `all_reduce_sum` sums [sign sum, count] over DDP ranks."""
        stats = torch.stack(
            [
                real_logits.detach().float().sign().sum(),
                torch.tensor(float(real_logits.numel()), device=real_logits.device),
            ]
        ).to(torch.float64)
        if all_reduce_sum is not None:
            stats = all_reduce_sum(stats)
        self.sign_sum += stats[0].to(self.sign_sum.device)
        self.count += stats[1].to(self.count.device)

    @torch.no_grad()
    def step(self, batch_size: int) -> bool:
        """Call once per minibatch (total `batch_size` over all ranks); returns True when p was adjusted."""
        self.batches += 1
        if int(self.batches) % self.interval != 0 or float(self.count) == 0:
            return False
        rt = self.sign_sum / self.count
        adjust = torch.sign(rt - self.target) * (batch_size * self.interval) / (self.kimg * 1000)
        self.p.copy_((self.p + adjust.to(self.p.dtype)).clamp(0.0, self.p_max))
        self.rt.copy_(rt.to(self.rt.dtype))
        self.sign_sum.zero_()
        self.count.zero_()
        return True
