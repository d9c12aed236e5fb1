"""Outlier scores that self-filtering is compared with (higher = more outlier-like), one per image.

- `feature_mean_distance`: Euclidean distance of an image's FID features to the set's mean feature
  (the features `self_filter` already extracts for FID(kept, all));
- `discriminator_outlier_scores`: minus the train_raw discriminator's realness logit, so the images D finds
  least real rank first. D's minibatch-std layer mixes the images of a batch, so a score depends a little
  on its batch mates; batches follow the loader's fixed order, so the scores are reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from sdstylegan.distill.reconstruction import unit_images


def feature_mean_distance(features: torch.Tensor) -> torch.Tensor:
    """‖f_i − mean(f)‖₂ per row of an (N, D) feature matrix (float64 → float32)."""
    f = features.double()
    return (f - f.mean(dim=0, keepdim=True)).norm(dim=1).float()


@torch.no_grad()
def discriminator_outlier_scores(
    D: nn.Module, loader: Iterable, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """−D(x) for every image the loader yields (uint8 or [-1, 1] NCHW at D's resolution), in order, fp32."""
    device = torch.device(device)
    D = D.to(device).eval()
    out = []
    for batch in loader:
        batch = batch[0] if isinstance(batch, (tuple, list)) else batch
        x = unit_images(batch.to(device))
        out.append(-D(x, force_fp32=True).float().reshape(x.shape[0], -1)[:, 0].cpu())
    if not out:
        raise ValueError("discriminator_outlier_scores: the loader yielded no image")
    return torch.cat(out)
