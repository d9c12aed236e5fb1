"""Cache of real-image feature statistics, keyed by dataset, resolution and extractor identity.

The key holds the dataset identity (the caller's `cache_key`, e.g. a hash of the manifest), the
image resolution, the extractor's `identity` (architecture, preprocessing, weights hash or
stand-in), the cap on real images and a format version. The file name carries a hash of the key
and the file stores the key itself: a file whose stored key differs is never reused (it is
recomputed and overwritten). Writes are atomic, so a killed run never leaves a half-written cache.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import torch

from sdstylegan.metrics.features import FeatureStats
from sdstylegan.utils.io import atomic_open
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)

FORMAT_VERSION = 1


def cache_key(dataset: str, resolution: int, extractor_identity: str, real_max: int | None) -> dict[str, Any]:
    """Everything the cached statistics depend on."""
    return {
        "dataset": str(dataset),
        "resolution": int(resolution),
        "extractor": str(extractor_identity),
        "real_max": None if real_max is None else int(real_max),
        "version": FORMAT_VERSION,
    }


def cache_path(cache_dir: str | Path, key: dict[str, Any], label: str) -> Path:
    """`<cache_dir>/<dataset>_<res>px_<extractor label>_<key hash>.pt` (label carries `_standin`)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", key["dataset"])[:60]
    return Path(cache_dir).expanduser() / f"{safe}_{key['resolution']}px_{label}_{digest}.pt"


def load_stats(path: str | Path, key: dict[str, Any]) -> FeatureStats | None:
    """Cached statistics for exactly `key`, or None (missing, unreadable, or made for another key)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        log.warning("real-statistics cache %s is unreadable (%s: %s); recomputing", path, type(e).__name__, e)
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        stored = data.get("key") if isinstance(data, dict) else None
        log.warning("real-statistics cache %s was made for %s, not %s; recomputing", path, stored, key)
        return None
    log.info("real statistics from cache %s (%d images)", path, int(data["count"]))
    return FeatureStats(
        mu=data["mu"], sigma=data["sigma"], count=int(data["count"]), features=data["features"]
    )


def save_stats(path: str | Path, key: dict[str, Any], stats: FeatureStats) -> None:
    """Write statistics and their key atomically."""
    payload = {
        "key": key,
        "mu": stats.mu.cpu(),
        "sigma": stats.sigma.cpu(),
        "count": int(stats.count),
        "features": stats.features.cpu(),
    }
    with atomic_open(path, "wb") as f:
        torch.save(payload, f)
    log.info("real statistics cached in %s", path)
