"""Encoder features of an image set, through the cache, with a progress bar in images per second.

`extract(encoder, images, resolution, ...)` → `Extraction` (features (N, D) float32, whether they came from
the cache, seconds and images/s of the computation). Batches are decoded by a DataLoader (`num_workers`
processes), moved to `device`, and encoded under `torch.no_grad`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from sdstylegan.cluster_bench.cache import FeatureCache, cache_key
from sdstylegan.cluster_bench.images import ImageDataset, ImageSet
from sdstylegan.metrics.extractors import FeatureExtractor
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)


@dataclass
class Extraction:
    features: np.ndarray
    cached: bool
    seconds: float  # time spent computing (0 when read from the cache)
    images_per_second: float | None
    cache_file: str | None = None


@torch.no_grad()
def encode(
    encoder: FeatureExtractor,
    images: ImageSet,
    resolution: int,
    batch_size: int = 64,
    num_workers: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> np.ndarray:
    """Features of every image, in order."""
    loader = DataLoader(
        ImageDataset(images.paths, resolution),
        batch_size=int(batch_size),
        shuffle=False,
        num_workers=int(num_workers),
    )
    encoder = encoder.to(device).eval()
    out = []
    with tqdm(
        total=len(images),
        unit="img",
        desc=f"features {encoder.label}",
        disable=not progress,
        dynamic_ncols=True,
    ) as bar:
        for batch in loader:
            f = encoder(batch.to(device))
            if f.ndim != 2 or f.shape[0] != batch.shape[0]:
                raise RuntimeError(
                    f"encoder {encoder.label} returned shape {tuple(f.shape)} for {batch.shape[0]} images"
                )
            out.append(f.float().cpu())
            bar.update(batch.shape[0])
    feats = torch.cat(out).numpy()
    if not np.isfinite(feats).all():
        raise RuntimeError(f"encoder {encoder.label} produced NaN or inf features")
    return feats


def extract(
    encoder: FeatureExtractor,
    images: ImageSet,
    resolution: int,
    cache: FeatureCache | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> Extraction:
    """Cached features when the key matches, else computed (and cached)."""
    key = cache_key(encoder.identity, images.fingerprint(), resolution) if cache is not None else None
    if cache is not None:
        hit = cache.load(encoder.label, key, len(images))
        if hit is not None:
            log.info("cluster_bench: %s features of %d images from the cache", encoder.label, len(images))
            return Extraction(hit, True, 0.0, None, str(cache.path(encoder.label, key)))
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    feats = encode(encoder, images, resolution, batch_size, num_workers, device, progress)
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    rate = len(images) / seconds if seconds > 0 else None
    log.info(
        "cluster_bench: %s features (%d-d) of %d images in %.1f s (%.1f images/s)",
        encoder.label,
        feats.shape[1],
        len(images),
        seconds,
        rate or 0.0,
    )
    path = cache.save(encoder.label, key, feats, encoder.identity) if cache is not None else None
    return Extraction(feats, False, seconds, rate, str(path) if path else None)
