"""Training checkpoints: atomic writes, `weights_only` loading, and networks rebuilt without pickled classes.

A checkpoint is Lightning's dict (state_dict with G, D, G_ema[, E], counters, ADA and pl_mean
buffers; optimiser states; loop progress) plus `sdstylegan`: the resolved model config, training
config, kimg, per-rank RNG states and W&B run id — only tensors and plain Python data, so it loads
with `torch.load(weights_only=True)`. Networks are rebuilt only through an allowlist of this project's
constructors (`utils.safe_build`): a checkpoint naming any other `_target_` is refused, nothing is
called. Writes go to a temp file that is fsynced and renamed over the target: a kill while saving
leaves the previous checkpoint intact.

    G = load_generator("outputs/demo/train/checkpoints/last.ckpt")           # G_ema, eval mode
    E = load_network(path, which="E")                                        # the SDIP encoder
    find_checkpoint("outputs/demo").checkpoint                               # a run dir's latest training checkpoint
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from sdstylegan.utils.io import atomic_open, read_json
from sdstylegan.utils.safe_build import NETWORK_TARGETS, build_trusted

CHECKPOINT_DIR = "checkpoints"
LAST = "last.ckpt"
BEST = "best.ckpt"
_CONFIG_NODE = {"G": "generator", "G_ema": "generator", "D": "discriminator", "E": "encoder"}


class CorruptCheckpointError(ValueError):
    """A checkpoint file cannot be read (truncated, not a torch file, or not from sdstylegan)."""


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu", mmap: bool = False) -> dict[str, Any]:
    """`torch.load(weights_only=True)` with a clear error for missing or corrupt files.

    `mmap=True` maps the tensors instead of reading them: cheap when only the metadata is wanted.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as e:
        raise CorruptCheckpointError(
            f"checkpoint {path} is unreadable ({type(e).__name__}: {e}); "
            f"delete it to start over, or point at another checkpoint"
        ) from e


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O: atomic save (temp + fsync + rename), weights_only load."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        with atomic_open(path, "wb") as f:
            torch.save(checkpoint, f)

    def load_checkpoint(
        self, path: Any, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return load_checkpoint(path, map_location=map_location if map_location is not None else "cpu")


def checkpoint_meta(checkpoint: dict[str, Any] | str | os.PathLike) -> dict[str, Any]:
    """The `sdstylegan` entry of a checkpoint (model config, kimg, W&B run id, …)."""
    # From a file: tensors memory-mapped, not read (a resume reads the whole file once more, in fit).
    ckpt = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint, mmap=True)
    meta = ckpt.get("sdstylegan")
    if meta is None:
        raise CorruptCheckpointError("not an sdstylegan training checkpoint (no 'sdstylegan' entry)")
    return meta


def load_network(path: str | os.PathLike, which: str = "G_ema", map_location: Any = "cpu") -> torch.nn.Module:
    """Rebuild network `which` ∈ {G_ema, G, D, E} from a training checkpoint (config + state dict), in eval mode.

    A `.pkl` path is read as an NVlabs/SDIP network snapshot (its stored code is never executed).
    """
    if which not in _CONFIG_NODE:
        raise ValueError(f"which must be one of {list(_CONFIG_NODE)}, got {which!r}")
    if Path(path).suffix == ".pkl":  # an NVlabs / SDIP snapshot, read as data (interop.nvlabs_pickle)
        return _load_nvlabs_network(path, which).to(map_location)
    ckpt = load_checkpoint(path, map_location=map_location)
    meta = checkpoint_meta(ckpt)
    prefix = which + "."
    state = {k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    if not state:
        raise ValueError(
            f"checkpoint {path} holds no {which} weights"
            + (" (trained without the encoder)" if which == "E" else "")
        )
    node = _CONFIG_NODE[which]
    model = meta.get("model") if isinstance(meta, dict) else None
    if not isinstance(model, dict) or node not in model:
        raise CorruptCheckpointError(
            f"checkpoint {path} has no model config for {which} (sdstylegan.model.{node})"
        )
    # The checkpoint is data: only this project's network constructors may be called (never Hydra's instantiate).
    net = build_trusted(
        model[node], NETWORK_TARGETS, origin=f"checkpoint {path}", where=f"sdstylegan.model.{node}"
    )
    net.load_state_dict(state)
    return net.to(map_location).eval().requires_grad_(False)


def _load_nvlabs_network(path: str | os.PathLike, which: str) -> torch.nn.Module:
    from sdstylegan.interop.nvlabs_networks import load_nvlabs_pickle

    if which == "E":
        raise ValueError(f"{path}: an NVlabs snapshot holds no SDIP encoder E")
    net = getattr(load_nvlabs_pickle(path, which=(which,)), which)
    if net is None:
        raise ValueError(f"{path}: the snapshot holds no {which}")
    return net


def load_generator(
    path: str | os.PathLike, which: str = "G_ema", map_location: Any = "cpu"
) -> torch.nn.Module:
    """The generator (`G_ema` by default, or `G`) of a training checkpoint, ready for sampling."""
    if which not in ("G_ema", "G"):
        raise ValueError(f"load_generator: which must be 'G_ema' or 'G', got {which!r}")
    return load_network(path, which, map_location)


def checkpoint_damage(path: str | os.PathLike) -> str | None:
    """Why `path` is not an intact `torch.save` file, or None; reads the zip directory and `data.pkl`, no tensor.

    Cheap enough to run on every skipped stage: a truncated file loses the zip's central directory
    (written last), and the small `data.pkl` (structure and metadata) is CRC-checked.
    """
    import zipfile

    path = Path(path)
    if not path.is_file():
        return "is missing"
    if path.stat().st_size == 0:
        return "is empty"
    try:
        with zipfile.ZipFile(path) as z:
            pkl = [n for n in z.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
            if not pkl:
                return "is a zip archive without torch's data.pkl"
            with z.open(pkl[0]) as f:
                while f.read(1 << 20):  # zipfile checks the CRC at the end
                    pass
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError) as e:
        return f"is not a readable torch file ({type(e).__name__}: {e})"
    return None


# ---------------------------------------------------------------------------- run directories

TRAINING_STAGES = ("train", "train_raw")


@dataclass
class Source:
    """Where the generator comes from: its checkpoint, and the run it belongs to (if known)."""

    checkpoint: Path
    run_dir: Path | None


def find_checkpoint(target: str | Path) -> Source:
    """A checkpoint file as given, or the latest training checkpoint of a run directory."""
    target = Path(target)
    if target.is_file():
        run = (
            target.parents[2]
            if len(target.parents) > 2 and (target.parents[2] / "config.yaml").is_file()
            else None
        )
        return Source(target, run)
    if not target.is_dir():
        raise FileNotFoundError(f"{target}: neither a checkpoint file nor a run directory")
    for stage in TRAINING_STAGES:
        done = target / stage / "done.json"
        if done.is_file():
            return Source(target / read_json(done)["outputs"]["checkpoint"], target)
    for stage in TRAINING_STAGES:  # an unfinished run: its last checkpoint so far
        last = target / stage / "checkpoints" / "last.ckpt"
        if last.is_file():
            return Source(last, target)
    raise FileNotFoundError(
        f"{target}: no finished {' or '.join(TRAINING_STAGES)} stage and no checkpoints/last.ckpt "
        f"in it; train first (python train.py ...) or pass a checkpoint file"
    )
