"""OmegaConf resolvers the configs use; `register()` runs before Hydra composes (train.py imports it)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from omegaconf import OmegaConf

MAX_NAME = 120  # a folder name well under the 255-byte limit of common file systems


def job_dirname(overrides: Sequence[str], exclude: Sequence[str] = ()) -> str:
    """A sweep job's folder name from its overrides (`hydra.overrides.task`): readable, one path level.

    Overrides keep their order (a sweeper's own parameters come first, then the command line's), keys
    in `exclude` are left out, '/' becomes '_' so a path value does not nest folders, and a name longer
    than `MAX_NAME` keeps its first 80 characters plus a hash of the whole: distinct jobs never share a
    folder, and the same job always finds its own.
    """
    skip = set(exclude)
    kept = [str(o) for o in overrides if str(o).split("=", 1)[0].lstrip("+~") not in skip]
    full = ",".join(kept)
    name = full.replace("/", "_").replace("\\", "_").strip() or "default"
    if len(name) > MAX_NAME:
        digest = hashlib.sha256(full.encode()).hexdigest()[:12]
        name = f"{name[:80]}…{digest}"
    return name


def register() -> None:
    """Register the project's resolvers once (`${sdstylegan_job:...}`)."""
    if not OmegaConf.has_resolver("sdstylegan_job"):
        OmegaConf.register_new_resolver("sdstylegan_job", job_dirname)
