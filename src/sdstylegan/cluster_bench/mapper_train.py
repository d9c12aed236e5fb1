"""Train a `FeatureMapper` against a fixed generator: pixel L1 + LPIPS + a feature-space loss, all with gradient.

For a batch of real images x with frozen-encoder features f = F(x):
    ŵ = mapper(f);  x̂ = G.synthesis(ŵ, noise 'const')
    L = λ_L1·|x̂ − x|₁ + λ_LPIPS·LPIPS(x̂, x) + λ_feat·(1 − cos(F'(x̂), F'(x)))  [+ λ_w·|ŵ_g − w_g|₁]
F' is the feature-loss encoder (default F itself). It sees x̂ as float [0, 255] — never rounded to uint8, which
would cut the gradient (the toy-store study's CLIP terms passed none) — so the feature term reaches the
mapper through F' and G. Optionally (`generated_per_batch`), images G(w_g) of random w_g add a latent term:
the mapper learns the inverse on samples whose latent is known. G, F and F' are frozen: only the MLP's
parameters are in the optimiser, and `check_gradients` refuses a loss term that passes no gradient to them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sdstylegan.cluster_bench.mapper_net import FeatureMapper
from sdstylegan.distill.truncation import broadcast_ws
from sdstylegan.invert.projector import to_compare
from sdstylegan.metrics.extractors import FeatureExtractor


@dataclass
class MapperTrainConfig:
    steps: int = 2000  # optimiser steps
    batch_size: int = 16  # real images per step
    lr: float = 1e-3  # Adam learning rate (β = 0.9, 0.999)
    lambda_l1: float = 1.0  # pixel L1 in [-1, 1] units
    lambda_lpips: float = 1.0  # LPIPS at ≤ max_side²
    lambda_feature: float = 1.0  # 1 − cosine of feature-loss encoder features
    lambda_w: float = 1.0  # latent L1 on generated images (only with generated_per_batch > 0)
    generated_per_batch: int = 0  # G samples per step with known w
    max_side: int = 256  # LPIPS compares images area-downsampled to at most this
    seed: int = 0  # batch order, generated latents


class NoGradientError(RuntimeError):
    """A loss term is switched on but passes no gradient to the mapper."""


def float_255(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images → float [0, 255] (not rounded): what a benchmark encoder reads, with gradient."""
    return (images.clamp(-1, 1) + 1) * 127.5


def feature_loss(
    encoder: FeatureExtractor, generated: torch.Tensor, target_features: torch.Tensor
) -> torch.Tensor:
    """Mean 1 − cos(F(generated), target features); differentiable in `generated` when F is."""
    f = encoder(float_255(generated)).float()
    return (1 - F.cosine_similarity(f, target_features.float(), dim=1)).mean()


def _latent_target(
    mapper: FeatureMapper, G: nn.Module, n: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random w of G (W: [n, w_dim]; W+: per layer) and their images, without gradient."""
    device = mapper.w_avg.device
    with torch.no_grad():
        z = torch.randn(n, G.z_dim, generator=gen).to(device)
        ws = G.mapping(z)
        images = G.synthesis(ws, noise_mode="const").float().clamp(-1, 1)
    return (ws if mapper.space == "wplus" else ws[:, 0]), images


def loss_terms(
    mapper: FeatureMapper,
    G: nn.Module,
    lpips: nn.Module,
    images: torch.Tensor,  # [N, C, R, R] real images in [-1, 1]
    features: torch.Tensor,  # [N, D] mapper-encoder features of `images`
    cfg: MapperTrainConfig,
    feature_encoder: FeatureExtractor | None = None,  # None: the mapper's encoder
    target_features: torch.Tensor | None = None,  # feature_encoder's features of `images` (None: `features`)
    gen: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """Each switched-on loss term (unweighted) of one batch: l1, lpips, feature, w."""
    ws = mapper.map(features)
    out = G.synthesis(broadcast_ws(G, ws), noise_mode="const").float()
    terms: dict[str, torch.Tensor] = {}
    if cfg.lambda_l1 > 0:
        terms["l1"] = (out - images).abs().mean()
    if cfg.lambda_lpips > 0:
        terms["lpips"] = lpips(to_compare(out, cfg.max_side), to_compare(images, cfg.max_side)).mean()
    if cfg.lambda_feature > 0:
        enc = feature_encoder if feature_encoder is not None else mapper.encoder
        target = target_features if target_features is not None else features
        terms["feature"] = feature_loss(enc, out, target)
    if cfg.generated_per_batch > 0 and cfg.lambda_w > 0:
        w_true, x_gen = _latent_target(mapper, G, cfg.generated_per_batch, gen or torch.Generator())
        terms["w"] = (mapper.map(mapper.features(x_gen)) - w_true).abs().mean()
    return terms


def weighted(terms: dict[str, torch.Tensor], cfg: MapperTrainConfig) -> torch.Tensor:
    weights = {
        "l1": cfg.lambda_l1,
        "lpips": cfg.lambda_lpips,
        "feature": cfg.lambda_feature,
        "w": cfg.lambda_w,
    }
    return sum(weights[k] * v for k, v in terms.items())


def check_gradients(
    terms: dict[str, torch.Tensor], mapper: FeatureMapper, what: dict[str, str] | None = None
) -> None:
    """Raise NoGradientError when a term has no gradient path to the mapper's MLP (or a zero gradient)."""
    params = [p for p in mapper.mlp.parameters() if p.requires_grad]
    for name, term in terms.items():
        grads = (
            torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
            if term.requires_grad
            else []
        )
        norm = sum(float(g.norm()) for g in grads if g is not None) if grads else 0.0
        if not norm > 0:
            raise NoGradientError(
                f"mapper loss term '{name}' passes no gradient to the mapper"
                + (f" ({what[name]})" if what and name in what else "")
                + "; set its lambda to 0 or choose another network for it"
            )


def train_mapper(
    mapper: FeatureMapper,
    G: nn.Module,
    lpips: nn.Module,
    images: torch.Tensor,  # [N, C, R, R] real training images in [-1, 1] (CPU or device)
    features: torch.Tensor,  # [N, D] mapper-encoder features of `images`
    cfg: MapperTrainConfig,
    feature_encoder: FeatureExtractor | None = None,
    target_features: torch.Tensor | None = None,  # [N, D'] feature-loss encoder features of `images`
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Optimise the mapper's MLP (G, the encoders and LPIPS stay frozen); returns the per-step losses."""
    if images.shape[0] != features.shape[0] or images.shape[0] < 1:
        raise ValueError(f"mapper training: {images.shape[0]} images, {features.shape[0]} feature rows")
    device = mapper.w_avg.device
    for net in (G, lpips, mapper.encoder, feature_encoder):
        if net is not None:
            net.eval().requires_grad_(False)
    mapper.mlp.train().requires_grad_(True)
    mapper.set_statistics(features)
    opt = torch.optim.Adam(mapper.mlp.parameters(), lr=cfg.lr, betas=(0.9, 0.999))
    gen = torch.Generator().manual_seed(int(cfg.seed))
    n, history = images.shape[0], []
    order, pos = torch.randperm(n, generator=gen), 0
    what = {
        "feature": f"encoder {(feature_encoder or mapper.encoder).label} is not differentiable in its input"
    }
    for step in range(int(cfg.steps)):
        if pos + min(cfg.batch_size, n) > n:
            order, pos = torch.randperm(n, generator=gen), 0
        idx = order[pos : pos + min(cfg.batch_size, n)]
        pos += idx.numel()
        x, f = images[idx].to(device).float(), features[idx].to(device)
        tf = target_features[idx].to(device) if target_features is not None else None
        t0 = time.perf_counter()
        try:
            terms = loss_terms(mapper, G, lpips, x, f, cfg, feature_encoder, tf, gen)
        except Exception as e:  # e.g. an encoder that only accepts uint8 (torch-fidelity's Inception)
            if cfg.lambda_feature > 0 and step == 0:
                raise NoGradientError(
                    f"mapper feature loss: {what['feature']} ({type(e).__name__}: {e})"
                ) from e
            raise
        if step == 0:
            check_gradients(terms, mapper, what)
        loss = weighted(terms, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        row = {"step": step, "loss": float(loss.detach()), **{k: float(v.detach()) for k, v in terms.items()}}
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        if progress is not None:
            progress(step, row)
    mapper.mlp.eval()
    return history
