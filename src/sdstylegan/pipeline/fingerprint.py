"""Config fingerprints: a stage's outputs are reused only when the config that made them is the same."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

_MISSING = object()


def missing_keys(cfg: DictConfig, keys: Iterable[str]) -> list[str]:
    """The dotted `keys` that do not exist in `cfg` (a null value exists; a misspelt key does not)."""
    return [k for k in keys if OmegaConf.select(cfg, k, default=_MISSING) is _MISSING]


def select_config(
    cfg: DictConfig,
    keys: Iterable[str],
    exclude: Iterable[str] = (),
    neutral: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The resolved values of dotted `keys`, without the dotted sub-keys in `exclude` (settings that only
    change speed, e.g. `detector.num_workers`) and without those of `neutral` that hold their neutral value
    (keys added in a later version, at the value that keeps the earlier behaviour: runs made before the key
    existed keep their fingerprint). The runner checks at start that every key exists."""
    out = {}
    for key in keys:
        node = OmegaConf.select(cfg, key, default=None)
        out[key] = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    for dotted in exclude:
        _pop(out, dotted)
    for dotted, value in (neutral or {}).items():
        _pop(out, dotted, only_if=value)
    return out


def _pop(out: dict[str, Any], dotted: str, only_if: Any = _MISSING) -> None:
    """Remove the sub-key `dotted` from the selected value it lies under (when it equals `only_if`, if given)."""
    for key, value in out.items():
        if dotted.startswith(key + ".") and isinstance(value, dict):
            *parents, leaf = dotted[len(key) + 1 :].split(".")
            for p in parents:
                value = value.get(p) if isinstance(value, dict) else None
            if isinstance(value, dict) and leaf in value and (only_if is _MISSING or value[leaf] == only_if):
                del value[leaf]


def fingerprint(payload: Any) -> str:
    """sha256 of a canonical JSON rendering of `payload`."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
