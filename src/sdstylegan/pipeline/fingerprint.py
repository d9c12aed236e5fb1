"""Config fingerprints: a stage's outputs are reused only when the config that made them is the same."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig, OmegaConf


def select_config(cfg: DictConfig, keys: Iterable[str]) -> dict[str, Any]:
    """The resolved values of dotted `keys` (missing keys recorded as None, so adding one changes the hash)."""
    out = {}
    for key in keys:
        node = OmegaConf.select(cfg, key, default=None)
        out[key] = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    return out


def fingerprint(payload: Any) -> str:
    """sha256 of a canonical JSON rendering of `payload`."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
