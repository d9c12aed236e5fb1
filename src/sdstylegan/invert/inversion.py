"""One interface for the three ways to put real images into a generator, scored the same way.

    res = invert(G, images, method="encoder+projector", space="wplus", E=E, distance=lpips)
    res.ws, res.images, res.lpips, res.mse, res.seconds_per_image

- `projector`: NVlabs' optimisation from w_avg (`invert.projector`), `steps` steps;
- `encoder`: the SDIP encoder E trained in `train_raw` (one forward; W, or W+ if E predicts one w per layer);
- `encoder+projector`: E's latents refined by `refine_steps` projector steps, without the exploration noise on
  w (the start is already close) and under G's constant noise (the noise E's reconstruction and every later
  render use), so refinement starts at the encoder's reconstruction and can only improve on it.
Reconstructions are rendered from the latents with `noise_mode='const'`, as a stored latent would be.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from sdstylegan.distill.truncation import broadcast_ws
from sdstylegan.invert.projector import SPACES, ProjectorConfig, project, to_compare

METHODS = ("projector", "encoder", "encoder+projector")


@dataclass
class Inversion:
    """Latents and reconstructions of N images, with the same scores for every method."""

    method: str
    space: str
    ws: torch.Tensor  # [N, w_dim] (W) or [N, num_ws, w_dim] (W+)
    images: torch.Tensor  # [N, C, R, R] in [-1, 1]
    lpips: torch.Tensor  # [N] perceptual distance to the targets (at ≤ 256²)
    mse: torch.Tensor  # [N] mean squared error in [-1, 1] units
    seconds_per_image: float
    history: list[float] = dataclasses.field(default_factory=list)


@torch.no_grad()
def encode(G: nn.Module, E: nn.Module, images: torch.Tensor, space: str) -> torch.Tensor:
    """E's latents in `space`: W needs an encoder with one w; W+ broadcasts a single w to every layer."""
    w = E(images.float())
    if space == "w" and w.ndim == 3:
        raise ValueError("this encoder predicts one w per layer (W+): use space='wplus'")
    return broadcast_ws(G, w).contiguous() if space == "wplus" else w


def invert(
    G: nn.Module,
    images: torch.Tensor,  # [N, C, R, R] in [-1, 1]
    method: str = "projector",
    space: str = "w",
    distance: nn.Module | None = None,  # LPIPS; needed by the projector methods and for scoring
    E: nn.Module | None = None,  # the SDIP encoder, for the encoder methods
    steps: int = 1000,
    refine_steps: int = 200,
    init_ws: torch.Tensor | None = None,  # resume the projector from stored latents
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
) -> Inversion:
    """Invert `images` with `method` in `space` (see the module docstring)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    if distance is None:
        raise ValueError("invert needs a perceptual distance (metrics.lpips) to optimise and to score")
    if method != "projector" and E is None:
        raise ValueError(f"method {method!r} needs the encoder E (a train_raw checkpoint)")
    t0 = time.perf_counter()
    history: list[float] = []
    if method == "encoder":
        ws = encode(G, E, images, space)
    else:
        start = encode(G, E, images, space) if method == "encoder+projector" else init_ws
        cfg = (
            ProjectorConfig(num_steps=steps)
            if method == "projector"
            else ProjectorConfig(num_steps=refine_steps, w_noise=0.0, optimize_noise=False)
        )
        proj = project(G, images, distance, space=space, cfg=cfg, init_ws=start, seed=seed, progress=progress)
        ws, history = proj.ws, proj.history
    with torch.no_grad():
        out = G.synthesis(broadcast_ws(G, ws), noise_mode="const").float().clamp(-1, 1)
        seconds = (time.perf_counter() - t0) / max(1, images.shape[0])
        lp = distance(to_compare(out, 256), to_compare(images.float(), 256))
        mse = (out - images.float()).square().mean(dim=(1, 2, 3))
    return Inversion(method, space, ws, out, lp, mse, seconds, history)
