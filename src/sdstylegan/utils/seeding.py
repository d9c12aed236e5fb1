"""Explicit seeding: every random stream in the pipeline derives from `cfg.seed`."""

from __future__ import annotations

import hashlib
import random

import numpy as np


def derive_seed(seed: int, *names: str) -> int:
    """A stable 31-bit seed for a named sub-stream (same inputs → same seed on every machine)."""
    h = hashlib.sha256(repr((int(seed), names)).encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (imported lazily so this module stays light)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
