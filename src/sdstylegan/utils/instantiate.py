"""Build the Lightning pieces named in the config (dicts of `_target_` nodes) with Hydra."""

from __future__ import annotations

from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig


def instantiate_dict(nodes: DictConfig | None, **overrides: Any) -> list[Any]:
    """One object per `_target_` node of a dict config (e.g. `cfg.logger`, `cfg.callbacks`); None → []."""
    if not nodes:
        return []
    if not isinstance(nodes, DictConfig):
        raise TypeError(f"expected a dict of _target_ nodes, got {type(nodes).__name__}")
    objects = []
    for key, node in nodes.items():
        if isinstance(node, DictConfig) and "_target_" in node:
            objects.append(instantiate(node, **overrides))
        elif node is not None:
            raise ValueError(f"config node '{key}' has no _target_: {node}")
    return objects
