"""Feature cache: one file per (encoder identity, image set, resolution), so a re-run computes only what changed.

The key is a sha256 over the encoder's `identity` (architecture, preprocessing and a hash of its weights),
the image set's `fingerprint` (keys, sizes, modification times, order) and the benchmark resolution. New
weights or a changed image set give a new key, so stale features are never read; files are `.npz` with the
features and the key material, written atomically. A file that cannot be read is recomputed, not trusted.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from sdstylegan.utils.io import atomic_open
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)


def cache_key(identity: str, image_fingerprint: str, resolution: int) -> str:
    text = json.dumps(
        {"encoder": identity, "images": image_fingerprint, "resolution": int(resolution)}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()


class FeatureCache:
    """Features on disk under `folder`, named `<label>-<key[:16]>.npz`."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, label: str, key: str) -> Path:
        return self.folder / f"{label}-{key[:16]}.npz"

    def load(self, label: str, key: str, num_images: int) -> np.ndarray | None:
        """The cached features, or None when absent, unreadable, or not for this key and image count."""
        path = self.path(label, key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["key"]) != key or z["features"].shape[0] != num_images:
                    return None
                return np.asarray(z["features"], dtype=np.float32)
        except Exception as e:  # a torn or foreign file: recompute
            log.warning(
                "cluster_bench: ignoring unreadable feature cache %s (%s: %s)", path, type(e).__name__, e
            )
            return None

    def save(self, label: str, key: str, features: np.ndarray, identity: str) -> Path:
        path = self.path(label, key)
        with atomic_open(path, "wb") as f:
            np.savez(
                f,
                features=np.asarray(features, dtype=np.float32),
                key=np.asarray(key),
                identity=np.asarray(identity),
            )
        return path
