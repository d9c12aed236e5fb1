"""One way to find pretrained weights: a local file, a URL, or a timm/hub name — or a clear error.

Every backbone (DINO, Inception, LPIPS nets) resolves through here. Offline with neither the file
nor a cached download, the error names the config key to set and what to download. Random
stand-in networks (`pretrained=false`) exist for tests and the offline demo only; `standin_warning`
makes that loud, and every number computed with one carries `_standin` in its name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)

STANDIN_SUFFIX = "_standin"


class WeightsNotFoundError(FileNotFoundError):
    """Pretrained weights could not be found locally nor downloaded."""


def _offline_message(source: str, config_key: str, hint: str, cause: BaseException | None) -> str:
    why = f" ({type(cause).__name__}: {cause})" if cause else ""
    return (
        f"cannot load weights '{source}' for {config_key}{why}. Set {config_key}=/path/to/file "
        f"to a local copy, or run once on a machine with internet so it is cached. {hint}"
    ).strip()


def load_state_dict(
    source: str | os.PathLike,
    *,
    config_key: str,
    hint: str = "",
    cache_dir: str | os.PathLike | None = None,
    safe_types: Sequence[type] = (),
) -> dict[str, Any]:
    """A state dict from a local `.pt/.pth/.bin` (weights_only) or `.safetensors` file, or an http(s) URL.

    `safe_types`: plain-data classes the restricted (weights_only) unpickler may also rebuild, e.g.
    `argparse.Namespace` for DINO's full training checkpoints; nothing else is ever constructed or called.
    """
    src = str(source)
    path = Path(src).expanduser()
    if path.is_file():
        try:
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                return load_file(str(path))
            with torch.serialization.safe_globals(list(safe_types)):
                return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ValueError(
                f"{config_key}={src}: not a readable checkpoint ({type(e).__name__}: {e})"
            ) from e
    if src.startswith(("http://", "https://")):
        model_dir = Path(cache_dir).expanduser() if cache_dir else Path(torch.hub.get_dir()) / "checkpoints"
        cached = model_dir / Path(urlparse(src).path).name  # where torch.hub keeps the download
        had_file = cached.is_file()
        try:
            with torch.serialization.safe_globals(list(safe_types)):
                return torch.hub.load_state_dict_from_url(
                    src, model_dir=str(model_dir), map_location="cpu", weights_only=True
                )
        except Exception as e:
            if not cached.is_file():  # nothing arrived: the network is the problem
                raise WeightsNotFoundError(_offline_message(src, config_key, hint, e)) from e
            # The file arrived but does not load: cut off, or not a weights-only checkpoint. Remove it, so
            # a later run downloads it anew instead of failing on the same bytes forever.
            cached.unlink()
            where = "a cached copy" if had_file else "the download"
            raise ValueError(
                f"{config_key}={src}: {where} ({cached}) is not a readable weights-only checkpoint "
                f"({type(e).__name__}: {e}); it was removed, so the next run downloads it again. "
                f"If that fails too, the file at the URL is not a plain state dict. {hint}".strip()
            ) from e
    if os.sep in src or src.endswith((".pt", ".pth", ".bin", ".safetensors", ".pkl")):
        raise WeightsNotFoundError(f"{config_key}={src}: no such file. {hint}".strip())
    raise WeightsNotFoundError(f"{config_key}={src}: neither a file nor an http(s) URL. {hint}".strip())


def create_timm_model(
    name: str,
    *,
    config_key: str,
    pretrained: bool = True,
    weights_file: str | os.PathLike | None = None,
    hint: str = "",
    **kwargs: Any,
) -> torch.nn.Module:
    """`timm.create_model(name)` with weights from `weights_file`, the hub (cached), or none (stand-in)."""
    import timm

    if weights_file is not None:
        model = timm.create_model(name, pretrained=False, **kwargs)
        state = load_state_dict(weights_file, config_key=config_key, hint=hint)
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as e:  # same names, other shapes: e.g. ViT-B weights for a ViT-S
            raise ValueError(
                f"{config_key}={weights_file}: the weights do not fit {name} "
                f"({str(e).splitlines()[-1].strip()}) — is it a checkpoint of this architecture and size?"
            ) from e
        if missing:
            raise ValueError(
                f"{config_key}={weights_file}: {len(missing)} weights missing for {name}, "
                f"e.g. {missing[:3]} — is it a checkpoint of this architecture?"
            )
        if unexpected:
            log.warning(
                "%s=%s: ignored %d unexpected keys, e.g. %s",
                config_key,
                weights_file,
                len(unexpected),
                unexpected[:3],
            )
        return model
    if not pretrained:
        standin_warning(f"{name} ({config_key})")
        return timm.create_model(name, pretrained=False, **kwargs)
    try:
        return timm.create_model(name, pretrained=True, **kwargs)
    except Exception as e:
        raise WeightsNotFoundError(_offline_message(name, config_key, hint, e)) from e


def standin_warning(what: str) -> None:
    """Log, loudly, that `what` is a randomly initialised stand-in whose outputs mean nothing."""
    log.warning(
        "STAND-IN: %s uses random weights; its outputs are for tests/demo only and are "
        "labelled '%s'. Configure real weights for meaningful results.",
        what,
        STANDIN_SUFFIX,
    )
