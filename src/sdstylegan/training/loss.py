"""StyleGAN2 loss organised by phase: G main, G reg (path length), D main, D reg (R1), + SDIP encoder terms.

Phases follow StyleGAN2-ADA (Karras et al. 2020):
- Gmain: non-saturating logistic loss softplus(−D(G(z))); style mixing with probability 0.9.
- Greg:  path-length penalty (weight 2, every 4 minibatches, batch ÷2, pl_mean decay 0.01).
- Dmain: softplus(D(G(z))) + softplus(−D(x)).
- Dreg:  R1 = γ/2 · ‖∇ₓD(x)‖² on reals, every 16 minibatches.
Lazy regularisation (Karras et al. 2020a, Sec. 3.1 / App. B): a phase run every k minibatches has its
loss multiplied by k, and the optimiser sharing that module uses lr·k/(k+1) and β^(k/(k+1)) —
`lazy_adam` is the one place this correction is made. Greg and Dreg run in float32 with autocast
off: the second-order gradients overflow/underflow easily in fp16.
SDIP encoder terms (Mokady et al. 2022): λw·‖w − E(G(w))‖₁ + λL1·L1(x, G(E(x))) + λLPIPS·LPIPS(x, G(E(x))),
on real and generated images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ReduceMean = Callable[[torch.Tensor], torch.Tensor]  # mean of a tensor over DDP ranks (identity alone)


@dataclass
class LossConfig:
    """Hyperparameters of the phases (StyleGAN2-ADA defaults)."""

    r1_gamma: float = 10.0  # R1 weight γ (use `auto_r1_gamma` for the `auto` preset)
    r1_interval: int = 16  # minibatches between Dreg phases (lazy R1); 0 = no R1
    pl_weight: float = 2.0  # path-length weight; 0 = no Greg phase
    pl_interval: int = 4  # minibatches between Greg phases
    pl_batch_shrink: int = 2  # Greg uses batch // shrink images
    pl_decay: float = 0.01  # decay of the running path-length mean
    style_mixing: float = 0.9  # probability of mixing two latents in a generated image
    lambda_w: float = 0.1  # SDIP ‖w − E(G(w))‖₁ weight
    lambda_l1: float = 0.1  # SDIP L1(x, G(E(x))) weight
    lambda_lpips: float = 0.1  # SDIP LPIPS(x, G(E(x))) weight

    def __post_init__(self) -> None:
        for name in ("r1_interval", "pl_interval"):
            if getattr(self, name) < 0:
                raise ValueError(f"training.loss.{name} must be ≥ 0, got {getattr(self, name)}")
        if self.pl_batch_shrink < 1:
            raise ValueError(f"training.loss.pl_batch_shrink must be ≥ 1, got {self.pl_batch_shrink}")
        if self.r1_gamma < 0 or self.pl_weight < 0:
            raise ValueError(f"r1_gamma and pl_weight must be ≥ 0, got {self.r1_gamma}, {self.pl_weight}")

    def g_reg_due(self, step: int) -> bool:
        return self.pl_weight > 0 and self.pl_interval > 0 and step % self.pl_interval == 0

    def d_reg_due(self, step: int) -> bool:
        return self.r1_gamma > 0 and self.r1_interval > 0 and step % self.r1_interval == 0


def auto_r1_gamma(resolution: int, batch_size: int) -> float:
    """StyleGAN2-ADA `auto` preset: γ = 0.0002 · res² / batch."""
    return 0.0002 * resolution**2 / batch_size


def lazy_adam(lr: float, betas: tuple[float, float], reg_interval: int) -> tuple[float, tuple[float, float]]:
    """Adam lr and betas for a module whose regulariser runs every `reg_interval` minibatches.

    With k = reg_interval the module takes k+1 optimiser steps per k minibatches; scaling lr by
    k/(k+1) and raising β to k/(k+1) keeps the per-minibatch dynamics of non-lazy training.
    """
    if reg_interval <= 0:
        return lr, tuple(betas)
    ratio = reg_interval / (reg_interval + 1)
    return lr * ratio, (betas[0] ** ratio, betas[1] ** ratio)


def broadcast_ws(w: torch.Tensor, num_ws: int) -> torch.Tensor:
    """[N, w_dim] → [N, num_ws, w_dim]; [N, num_ws, w_dim] passes through (encoder with w_plus)."""
    return w.unsqueeze(1).repeat(1, num_ws, 1) if w.ndim == 2 else w


class StyleGAN2Loss(nn.Module):
    """Loss of each phase for given G, D (and E). Holds the running path-length mean `pl_mean`."""

    def __init__(self, cfg: LossConfig, lpips: nn.Module | None = None):
        super().__init__()
        self.cfg = cfg
        # Not registered as a submodule: the frozen LPIPS net would otherwise bloat every checkpoint.
        object.__setattr__(self, "lpips", lpips)
        self.register_buffer("pl_mean", torch.zeros([]))

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def mapping(G: nn.Module, z: torch.Tensor, update_emas: bool = False) -> torch.Tensor:
        """G.mapping in float32 even under autocast (as StyleGAN2-ADA: the mapping net never runs in fp16)."""
        with torch.autocast(device_type=z.device.type, enabled=False):
            return G.mapping(z.float(), update_emas=update_emas)

    def generate(
        self, G: nn.Module, z: torch.Tensor, update_emas: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Images and their ws; with probability `style_mixing` the ws after a random cut come from another z."""
        ws = self.mapping(G, z, update_emas=update_emas)
        if self.cfg.style_mixing > 0 and ws.shape[1] > 1:
            n = ws.shape[0]
            cutoff = torch.randint(1, ws.shape[1], (n,), device=ws.device)
            cutoff = torch.where(
                torch.rand(n, device=ws.device) < self.cfg.style_mixing,
                cutoff,
                torch.full_like(cutoff, ws.shape[1]),
            )
            ws2 = self.mapping(G, torch.randn_like(z))
            layer = torch.arange(ws.shape[1], device=ws.device)[None, :]
            ws = torch.where((layer >= cutoff[:, None])[:, :, None], ws2, ws)
        img = G.synthesis(ws, update_emas=update_emas)
        return img, ws

    @staticmethod
    def discriminate(D: nn.Module, img: torch.Tensor, augment: nn.Module | None) -> torch.Tensor:
        if augment is not None:
            img = augment(img)
        return D(img)

    # ------------------------------------------------------------------ phases
    def g_main(
        self, G: nn.Module, D: nn.Module, z: torch.Tensor, augment: nn.Module | None
    ) -> dict[str, torch.Tensor]:
        img, _ = self.generate(G, z)
        logits = self.discriminate(D, img, augment)
        return {"loss": F.softplus(-logits).mean(), "fake_score": logits.detach().mean()}

    def g_reg(
        self, G: nn.Module, z: torch.Tensor, reduce_mean: ReduceMean | None = None
    ) -> dict[str, torch.Tensor]:
        """Path length: E‖Jᵀy‖ for y ~ N(0, I)/√(HW), pulled toward its running mean (float32, no autocast)."""
        cfg = self.cfg
        n = max(z.shape[0] // cfg.pl_batch_shrink, 1)
        with torch.autocast(device_type=z.device.type, enabled=False):
            img, ws = self.generate(G, z[:n].float())
            img = img.float()
            noise = torch.randn_like(img) / np.sqrt(img.shape[2] * img.shape[3])
            (grads,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
            lengths = grads.square().sum(2).mean(1).sqrt()
            batch_mean = lengths.detach().mean()
            if reduce_mean is not None:
                batch_mean = reduce_mean(batch_mean)
            with torch.no_grad():
                self.pl_mean.copy_(self.pl_mean.lerp(batch_mean.to(self.pl_mean.dtype), cfg.pl_decay))
            penalty = (lengths - self.pl_mean).square()
            # `img[:, 0, 0, 0] * 0` keeps every synthesis parameter in the graph (DDP with unused params).
            loss = (penalty * cfg.pl_weight).mean() * cfg.pl_interval + (img[:, 0, 0, 0] * 0).sum()
        return {"loss": loss, "pl_penalty": penalty.detach().mean(), "pl_mean": self.pl_mean.detach().clone()}

    def d_main(
        self, G: nn.Module, D: nn.Module, z: torch.Tensor, real: torch.Tensor, augment: nn.Module | None
    ) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            fake, _ = self.generate(G, z, update_emas=True)
        fake_logits = self.discriminate(D, fake, augment)
        real_logits = self.discriminate(D, real, augment)
        loss = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        return {
            "loss": loss,
            "real_logits": real_logits.detach(),
            "real_score": real_logits.detach().mean(),
            "fake_score": fake_logits.detach().mean(),
        }

    def d_reg(self, D: nn.Module, real: torch.Tensor, augment: nn.Module | None) -> dict[str, torch.Tensor]:
        """R1 on reals: γ/2 · ‖∇ₓ D(aug(x))‖², times the lazy interval (float32, no autocast)."""
        cfg = self.cfg
        with torch.autocast(device_type=real.device.type, enabled=False):
            x = real.detach().float().requires_grad_(True)
            logits = self.discriminate(D, x, augment).float()
            (grads,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
            penalty = grads.square().sum([1, 2, 3])
            loss = (penalty * (cfg.r1_gamma / 2)).mean() * cfg.r1_interval + (logits * 0).sum()
        return {"loss": loss, "r1_penalty": penalty.detach().mean()}

    def encoder_terms(
        self, G: nn.Module, E: nn.Module, z: torch.Tensor, real: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """SDIP: λw‖w − E(G(w))‖₁ + Σ_{x ∈ real, fake} λL1·L1(x, G(E(x))) + λLPIPS·LPIPS(x, G(E(x)))."""
        cfg = self.cfg
        ws = self.mapping(G, z)
        fake = G.synthesis(ws, noise_mode="const")
        w_hat = E(fake)
        target = ws if w_hat.ndim == 3 else ws[:, 0]
        loss_w = (w_hat - target).abs().mean()
        rec_fake = G.synthesis(broadcast_ws(w_hat, ws.shape[1]), noise_mode="const")
        rec_real = G.synthesis(broadcast_ws(E(real), ws.shape[1]), noise_mode="const")
        l1 = (rec_real - real).abs().mean() + (rec_fake - fake).abs().mean()
        loss = cfg.lambda_w * loss_w + cfg.lambda_l1 * l1
        out = {"loss_w": loss_w.detach(), "l1": l1.detach()}
        if cfg.lambda_lpips > 0:
            if self.lpips is None:
                raise ValueError(
                    "training.loss.lambda_lpips > 0 needs an LPIPS network (training.encoder.lpips)"
                )
            lp = self.lpips(rec_real, real).mean() + self.lpips(rec_fake, fake).mean()
            loss = loss + cfg.lambda_lpips * lp
            out["lpips"] = lp.detach()
        out["loss"] = loss
        return out
