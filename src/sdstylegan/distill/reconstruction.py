"""Reconstruction scores d(x) = LPIPS(x, G(E(x))) for the self-filter, with FID features in the same pass.

E maps an image to w ([N, w_dim], or [N, num_ws, w_dim] for a w+ encoder); G.synthesis renders it with
constant noise, so a score does not depend on a noise draw. One pass over the images yields, per image, the
score, and Inception (or stand-in) features of x and of G(E(x)) — everything the threshold search needs
(FID(kept, all) and FID(G(E(all)), all)) without keeping images in memory. The worst and best
reconstructions are kept for the report grid (a bounded number).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from sdstylegan.distill.truncation import broadcast_ws
from sdstylegan.metrics.images import to_uint8


def reconstruct(G: nn.Module, E: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """G(E(x)) for float images in [-1, 1] (constant noise; w broadcast to every layer if E gives one w)."""
    w = E(x)
    ws = broadcast_ws(G, w)
    if ws.shape[1:] != (G.num_ws, G.w_dim):
        raise ValueError(
            f"encoder output {tuple(w.shape)} does not fit the generator (num_ws={G.num_ws}, "
            f"w_dim={G.w_dim}); were G and E trained together (train_raw)?"
        )
    return G.synthesis(ws, noise_mode="const").float().clamp(-1, 1)


def unit_images(batch: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] or float [-1, 1] NCHW → float [-1, 1] (the networks' input range)."""
    return batch.float() / 127.5 - 1 if batch.dtype == torch.uint8 else batch.float()


@dataclass
class ScoredSet:
    """Per image (loader order): score, real and reconstruction features; plus extreme reconstructions."""

    scores: torch.Tensor  # (N,) float32
    real_features: torch.Tensor  # (N, D) float32
    recon_features: torch.Tensor  # (N, D) float32
    worst: list[tuple[float, int, torch.Tensor, torch.Tensor]]  # (score, index, x, G(E(x))) highest scores
    best: list[tuple[float, int, torch.Tensor, torch.Tensor]]  # lowest scores


def _keep_extremes(store: list, items: list, k: int, highest: bool) -> list:
    store = sorted(store + items, key=lambda t: t[0], reverse=highest)
    return store[:k]


@torch.no_grad()
def score_images(
    G: nn.Module,
    E: nn.Module,
    lpips: nn.Module,
    extractor: nn.Module,  # uint8 NCHW → (N, D) features (metrics extractor)
    loader: Iterable,  # uint8 NCHW (or float [-1, 1]) batches, fixed order
    device: torch.device | str = "cpu",
    keep_extremes: int = 16,
) -> ScoredSet:
    """Score every image the loader yields; see the module docstring."""
    device = torch.device(device)
    G, E, lpips, extractor = G.to(device).eval(), E.to(device).eval(), lpips.to(device), extractor.to(device)
    scores, real_f, recon_f = [], [], []
    worst: list = []
    best: list = []
    seen = 0
    for batch in loader:
        batch = batch[0] if isinstance(batch, (tuple, list)) else batch
        batch = batch.to(device)
        x = unit_images(batch)
        if x.shape[-1] != G.img_resolution:
            raise ValueError(
                f"images are {x.shape[-1]}² but the train_raw generator makes {G.img_resolution}²; "
                "self_filter must run at the resolution train_raw was trained at"
            )
        y = reconstruct(G, E, x)
        d = lpips(x, y).float()
        scores.append(d.cpu())
        real_f.append(extractor(to_uint8(x)).float().cpu())
        recon_f.append(extractor(to_uint8(y)).float().cpu())
        if keep_extremes > 0:
            items = [(float(d[i]), seen + i, x[i].cpu(), y[i].cpu()) for i in range(x.shape[0])]
            worst = _keep_extremes(worst, items, keep_extremes, highest=True)
            best = _keep_extremes(best, items, keep_extremes, highest=False)
        seen += x.shape[0]
    if not seen:
        raise ValueError("self_filter: the loader yielded no image")
    return ScoredSet(torch.cat(scores), torch.cat(real_f), torch.cat(recon_f), worst, best)
