"""Start a training run from pretrained networks: `training.init_from=<checkpoint | run dir | NVlabs .pkl>`.

Transfer learning as StyleGAN2-ADA's `--resume=<pkl>` does it: G, G_ema and D (and the SDIP encoder E
when the source has one and this run trains it) get the source's weights, including G's `w_avg`; counters,
optimiser states and ADA's p start fresh, so `training.total_kimg` counts the new run. Only a fresh
stage is initialised: a stage that resumes its own `last.ckpt` ignores `init_from`. The model config must
describe the same architecture as the source (shapes are checked, every mismatch is listed).
NVlabs/SDIP pickles are read as data (`interop.nvlabs_pickle`), never executed.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from sdstylegan.training.checkpoint import find_checkpoint, load_checkpoint
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)

NETWORKS = ("G", "G_ema", "D", "E")


def source_state(source: str | os.PathLike) -> dict[str, dict[str, torch.Tensor]]:
    """network name → state dict of a training checkpoint, a run directory (its latest) or an NVlabs pickle."""
    path = Path(source).expanduser()
    if path.is_dir():
        path = find_checkpoint(path).checkpoint
    if not path.is_file():
        raise FileNotFoundError(f"training.init_from={source}: no such checkpoint, run directory or .pkl")
    if path.suffix == ".pkl":
        from sdstylegan.interop.nvlabs_networks import load_nvlabs_pickle

        nets = load_nvlabs_pickle(path)
        return {
            name: net.state_dict() for name in ("G", "G_ema", "D") if (net := getattr(nets, name)) is not None
        }
    state = load_checkpoint(path).get("state_dict") or {}
    out: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        name, _, rest = key.partition(".")
        if name in NETWORKS and rest:
            out.setdefault(name, {})[rest] = value
    if not out:
        raise ValueError(f"training.init_from={source}: {path} holds no G/G_ema/D weights")
    return out


def init_from(module: torch.nn.Module, source: str | os.PathLike) -> list[str]:
    """Copy the source's G, G_ema, D (and E) weights into `module`; returns the names of the networks copied."""
    states = source_state(source)
    if "G_ema" not in states and "G" in states:
        states["G_ema"] = states["G"]  # a generator-only source: G_ema starts as G
    if "G" not in states and "G_ema" in states:
        states["G"] = states["G_ema"]
    copied, problems = [], []
    for name in NETWORKS:
        net = getattr(module, name, None)
        if net is None or name not in states:
            continue
        own = net.state_dict()
        src = states[name]
        missing = [k for k in own if k not in src]
        unexpected = [k for k in src if k not in own]
        shapes = [
            f"{k}: {tuple(src[k].shape)} vs {tuple(v.shape)}"
            for k, v in own.items()
            if k in src and src[k].shape != v.shape
        ]
        if missing or unexpected or shapes:
            problems.append(
                f"{name}: {len(missing)} missing (e.g. {missing[:2]}), {len(unexpected)} unexpected "
                f"(e.g. {unexpected[:2]}), {len(shapes)} of other shape (e.g. {shapes[:2]})"
            )
            continue
        net.load_state_dict({k: src[k].to(v.dtype) for k, v in own.items()})
        copied.append(name)
    if problems:
        raise ValueError(
            f"training.init_from={source} does not fit this model config (set model=… and "
            f"dataset.resolution to the source's architecture):\n  " + "\n  ".join(problems)
        )
    if not {"G", "G_ema"} <= set(copied):
        raise ValueError(f"training.init_from={source}: no generator weights to start from")
    log.info("init_from %s: copied %s; counters, optimisers and ADA start fresh", source, ", ".join(copied))
    return copied
