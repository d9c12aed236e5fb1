"""Optimisation projector: find latents whose images match target images (NVlabs `projector.py`, batched).

StyleGAN2-ADA's recipe (Karras et al. 2020, projector.py), per image: start at w_avg (or given latents),
Adam(β = (0.9, 0.999)) on w and on the per-layer noise maps; learning rate `lr·ramp(t)` with a cosine
ramp-down over the last `lr_rampdown` of the run and a linear ramp-up over the first `lr_rampup`; Gaussian
noise of std `w_std·w_noise·max(0, 1 − t/noise_ramp)²` added to w before synthesis; loss = perceptual
distance (LPIPS, images area-downsampled to ≤ 256²) + `noise_reg`·Σ multi-scale autocorrelation of each
noise map; noise maps re-normalised to zero mean and unit variance after every step.

Differences, on purpose: many images at once (each its own latent and noise maps, one forward for the
batch), W (one w repeated over layers) or W+ (one w per layer), resumable from given latents, and
`optimize_noise=False` to fit w alone under G's constant noise (what a later render with
`noise_mode='const'` uses — NVlabs keeps only w too, so its saved latents are rendered with that noise).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SPACES = ("w", "wplus")


@dataclass
class ProjectorConfig:
    """NVlabs projector.py defaults."""

    num_steps: int = 1000
    lr: float = 0.1  # initial_learning_rate
    lr_rampdown: float = 0.25  # lr_rampdown_length (fraction of the run)
    lr_rampup: float = 0.05  # lr_rampup_length
    w_noise: float = 0.05  # initial_noise_factor (× w_std)
    noise_ramp: float = 0.75  # noise_ramp_length
    noise_reg: float = 1e5  # regularize_noise_weight
    w_avg_samples: int = 10000  # for w_avg and w_std
    max_side: int = 256  # images compared at most this large (area downsampling)
    optimize_noise: bool = True  # False: keep G's constant noise (the noise later renders use) and fit w only


def learning_rate(step: int, cfg: ProjectorConfig) -> float:
    """lr at `step`: cosine ramp-down over the last lr_rampdown, linear ramp-up over the first lr_rampup."""
    t = step / cfg.num_steps
    ramp = min(1.0, (1.0 - t) / cfg.lr_rampdown)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return cfg.lr * ramp * min(1.0, t / cfg.lr_rampup)


def w_noise_scale(step: int, cfg: ProjectorConfig, w_std: float) -> float:
    """Std of the noise added to w at `step`: w_std · w_noise · max(0, 1 − t/noise_ramp)²."""
    t = step / cfg.num_steps
    return w_std * cfg.w_noise * max(0.0, 1.0 - t / cfg.noise_ramp) ** 2


def noise_regularisation(noises: list[torch.Tensor]) -> torch.Tensor:
    """Σ over maps and scales of the squared mean autocorrelation at one-pixel shifts (per image: [N])."""
    total = None
    for noise in noises:  # [N, 1, H, W]
        n = noise
        while True:
            term = (n * torch.roll(n, shifts=1, dims=3)).mean(dim=(1, 2, 3)) ** 2 + (
                n * torch.roll(n, shifts=1, dims=2)
            ).mean(dim=(1, 2, 3)) ** 2
            total = term if total is None else total + term
            if n.shape[2] <= 8:
                break
            n = F.avg_pool2d(n, kernel_size=2)
    return total


def to_compare(images: torch.Tensor, max_side: int) -> torch.Tensor:
    """[-1, 1] images area-downsampled so the longer side is at most `max_side` (NVlabs: target at 256²)."""
    if images.shape[-1] > max_side:
        images = F.interpolate(images, size=(max_side, max_side), mode="area")
    return images


@torch.no_grad()
def w_statistics(G: nn.Module, num: int, seed: int = 123) -> tuple[torch.Tensor, float]:
    """w_avg [w_dim] and w_std = sqrt(Σ‖w − w_avg‖² / num) over `num` mapped z (NVlabs: 10,000, seed 123)."""
    device = next(G.parameters()).device
    z = torch.from_numpy(np.random.RandomState(seed).randn(num, G.z_dim)).float().to(device)
    w = torch.cat([G.mapping(zb)[:, 0] for zb in z.split(1024)]).double()
    avg = w.mean(dim=0)
    return avg.float(), float(((w - avg).square().sum() / num).sqrt())


def _noise_layers(G: nn.Module) -> list[nn.Module]:
    return [m for m in G.synthesis.modules() if getattr(m, "use_noise", False) and hasattr(m, "noise_const")]


@dataclass
class Projection:
    """Per image: latents ([N, w_dim] for W, [N, num_ws, w_dim] for W+), images, final distance, the loss path."""

    ws: torch.Tensor
    images: torch.Tensor
    distance: torch.Tensor
    history: list[float]
    noises: list[torch.Tensor]


def project(
    G: nn.Module,
    target: torch.Tensor,  # [N, C, R, R] in [-1, 1]
    distance: nn.Module,  # perceptual distance, (x, y) → [N]
    space: str = "w",
    cfg: ProjectorConfig | None = None,
    init_ws: torch.Tensor | None = None,  # resume: [N, w_dim] or [N, num_ws, w_dim]
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
) -> Projection:
    """Project every target image into G (see the module docstring); G itself is not modified."""
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    cfg = cfg or ProjectorConfig()
    if target.ndim != 4 or target.shape[1:] != (G.img_channels, G.img_resolution, G.img_resolution):
        raise ValueError(
            f"target images must be [N, {G.img_channels}, {G.img_resolution}, {G.img_resolution}], "
            f"got {tuple(target.shape)}"
        )
    device = target.device
    G = copy.deepcopy(G).eval().requires_grad_(False).to(device)
    n = target.shape[0]
    gen = torch.Generator(device="cpu").manual_seed(seed)
    w_avg, w_std = w_statistics(G, cfg.w_avg_samples)
    if init_ws is None:
        start = w_avg.to(device).expand(n, -1)
        start = start.unsqueeze(1).expand(-1, G.num_ws, -1) if space == "wplus" else start
    else:
        start = init_ws.to(device).float()
        if space == "wplus" and start.ndim == 2:
            start = start.unsqueeze(1).expand(-1, G.num_ws, -1)
        if space == "w" and start.ndim == 3:
            raise ValueError("init_ws holds one w per layer (W+); project with space='wplus' to resume it")
        expected = (n, G.w_dim) if space == "w" else (n, G.num_ws, G.w_dim)
        if tuple(start.shape) != expected:
            raise ValueError(f"init_ws must be {expected}, got {tuple(start.shape)}")
    w_opt = start.clone().contiguous().requires_grad_(True)
    # Per-image noise maps: each layer's constant-noise buffer becomes an [N, 1, H, W] variable.
    layers = _noise_layers(G) if cfg.optimize_noise else []
    noises = []
    for layer in layers:
        res = layer.noise_const.shape[-1]
        noise = torch.randn(n, 1, res, res, generator=gen).to(device).requires_grad_(True)
        layer.noise_const = noise
        noises.append(noise)
    opt = torch.optim.Adam([w_opt, *noises], betas=(0.9, 0.999), lr=cfg.lr)
    target_c = to_compare(target.float(), cfg.max_side)
    history = []
    for step in range(cfg.num_steps):
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, cfg)
        scale = w_noise_scale(step, cfg, w_std)
        w = w_opt + torch.randn(w_opt.shape, generator=gen).to(device) * scale
        ws = w.unsqueeze(1).expand(-1, G.num_ws, -1) if space == "w" else w
        images = G.synthesis(ws, noise_mode="const")
        dist = distance(to_compare(images.float(), cfg.max_side), target_c)
        reg = noise_regularisation(noises) if noises else 0.0
        loss = (dist + cfg.noise_reg * reg).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():  # NVlabs: noise maps back to zero mean, unit variance
            for noise in noises:
                noise -= noise.mean(dim=(1, 2, 3), keepdim=True)
                noise *= noise.square().mean(dim=(1, 2, 3), keepdim=True).rsqrt()
        history.append(float(dist.detach().mean()))
        if progress is not None:
            progress(step, history[-1])
    with torch.no_grad():
        ws = w_opt.unsqueeze(1).expand(-1, G.num_ws, -1) if space == "w" else w_opt
        images = G.synthesis(ws, noise_mode="const").float().clamp(-1, 1)
        final = distance(to_compare(images, cfg.max_side), target_c)
    return Projection(w_opt.detach(), images, final.detach(), history, [z.detach() for z in noises])
