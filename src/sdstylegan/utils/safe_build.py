"""Build objects from config that was read from a file (checkpoint, a run's config.yaml): allowlist only.

A checkpoint or a saved config is data, not code. Hydra's `instantiate` calls whatever `_target_`
names (`builtins.open`, `shutil.rmtree`, …) and imports its module, so a file that loads cleanly with
`torch.load(weights_only=True)` could still run code through it. `build_trusted` instead accepts one
`_target_` from a fixed set of this project's constructors, with keyword arguments that are plain data
(no nested `_target_`, no Hydra `_args_`/`_partial_`/… keys) — nothing else is imported or called.

The command-line config composed from `conf/` is the user's own and still goes through Hydra.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

# Network constructors a checkpoint may name (`model.generator`, `.discriminator`, `.encoder`).
NETWORK_TARGETS = frozenset(
    {
        "sdstylegan.models.generator.Generator",
        "sdstylegan.models.discriminator.Discriminator",
        "sdstylegan.models.encoder.Encoder",
        "sdstylegan.models.presets.auto_generator",
        "sdstylegan.models.presets.auto_discriminator",
        "sdstylegan.models.presets.auto_encoder",
    }
)
# Perceptual distance a run's saved config may name (`metrics.lpips`).
LPIPS_TARGETS = frozenset({"sdstylegan.metrics.lpips.LPIPS"})

_PLAIN = (str, int, float, bool, type(None))


class UntrustedConfigError(ValueError):
    """Config read from a file names something outside the allowlist, or is not plain data."""


def _check_plain(value: Any, where: str, origin: str) -> None:
    """Raise unless `value` is plain data (scalars, lists, string-keyed dicts) holding no Hydra keys."""
    if isinstance(value, _PLAIN):
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]", origin)
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise UntrustedConfigError(f"{origin}: {where} has a non-string key {k!r}; refused")
            if k.startswith("_") and k.endswith("_"):
                raise UntrustedConfigError(
                    f"{origin}: {where}.{k} = {v!r}: Hydra keys are not accepted "
                    f"inside config read from a file; refused, nothing was built"
                )
            _check_plain(v, f"{where}.{k}", origin)
        return
    raise UntrustedConfigError(f"{origin}: {where} is a {type(value).__name__}, not plain data; refused")


def check_trusted(
    node: Mapping[str, Any], allowed: frozenset[str], origin: str, where: str = "config"
) -> str:
    """Validate `node` ({"_target_": name, **plain kwargs}) against `allowed`; return the target name.

    `origin` names the file in error messages, `where` the node inside it.
    """
    if not isinstance(node, Mapping):
        raise UntrustedConfigError(
            f"{origin}: {where} is a {type(node).__name__}, expected a mapping with _target_"
        )
    target = node.get("_target_")
    if not isinstance(target, str) or target not in allowed:
        raise UntrustedConfigError(
            f"{origin}: {where}._target_ = {target!r} is not one of this project's constructors allowed here "
            f"({', '.join(sorted(allowed))}); refused, nothing was imported or called. A checkpoint or saved "
            f"config is data: rebuild it from a trusted config instead."
        )
    _check_plain({k: v for k, v in node.items() if k != "_target_"}, where, origin)
    return target


def build_trusted(
    node: Mapping[str, Any], allowed: frozenset[str], origin: str, where: str = "config"
) -> Any:
    """Call the allowlisted constructor `node["_target_"]` with the node's other keys as keyword arguments."""
    target = check_trusted(node, allowed, origin, where)
    module_name, _, attr = target.rpartition(".")
    constructor = getattr(importlib.import_module(module_name), attr)  # only names from `allowed` get here
    return constructor(**{k: v for k, v in node.items() if k != "_target_"})
