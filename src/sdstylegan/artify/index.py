"""The art index: VGG conv5_1 maps and a global descriptor of every image of a folder, sharded on disk.

    INDEX/meta.json            what the features are (VGG identity, layer, resolution) and the collection root
    INDEX/shards/shard_00000.npz  keys (paths relative to the root), maps (n, C, h, w) float16, descriptors
                               (n, d) float16, and the files skipped in this shard with their reasons
    INDEX/ann.faiss, ann.json  the ANN index over the descriptors (`search.build_ann`), rebuilt at the end
    INDEX/index.json           counts: images indexed, skipped by reason, shards

Every image (any size) is validated (`data.images.load_image_file`), centre-cropped square and resized to
`resolution`. Each shard is written atomically once complete, so a killed run loses at most the shard in
progress: a re-run reads the keys of the shards present and indexes only the rest (also files added to
the folder since). Settings that change the features (network, layer, resolution) refuse to extend an
index built otherwise.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from sdstylegan.artify.patches import global_descriptor
from sdstylegan.artify.vgg import VGGFeatures
from sdstylegan.data.images import ImageProblem, load_image_file, square_resize
from sdstylegan.utils.io import atomic_open, read_json, write_json
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)

FORMAT = 1
SHARDS = "shards"


class IndexMismatchError(ValueError):
    """An existing index was built with other features than the ones asked for."""


def collection_files(folder: str | Path) -> list[Path]:
    """Every non-hidden file under `folder`, sorted (non-images are skipped later, with a reason)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"--collection {folder}: no such folder")
    files = [
        p
        for p in folder.rglob("*")
        if not any(part.startswith(".") for part in p.relative_to(folder).parts) and not p.is_dir()
    ]
    return sorted(files)


def image_tensor(
    path: str | Path, resolution: int, max_bytes: int | None = None
) -> torch.Tensor | ImageProblem:
    """A validated image file as (3, R, R) float in [-1, 1] (centre crop, Lanczos), or why it is unusable."""
    loaded = load_image_file(path, max_bytes=max_bytes)
    if isinstance(loaded, ImageProblem):
        return loaded
    a = np.asarray(square_resize(loaded.image, int(resolution)), dtype=np.float32)
    return torch.from_numpy(a).permute(2, 0, 1) / 127.5 - 1


def _meta(vgg: VGGFeatures, layer: str, resolution: int, root: Path) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "vgg": vgg.identity,
        "arch": vgg.arch,
        "width": vgg.width,
        "standin": vgg.is_standin,
        "layer": layer,
        "resolution": int(resolution),
        "patch_size": 3,
        "root": str(root.resolve()),
    }


def check_meta(out: Path, meta: dict[str, Any]) -> None:
    """Write `meta.json`, or refuse when the index there was built with other features."""
    path = out / "meta.json"
    if path.is_file():
        old = read_json(path)
        diff = [k for k in ("format", "vgg", "layer", "resolution", "patch_size") if old.get(k) != meta[k]]
        if diff:
            what = ", ".join(f"{k}: {old.get(k)} ≠ {meta[k]}" for k in diff)
            raise IndexMismatchError(
                f"{out}: the index there was built with other features ({what}); "
                f"use another --out, or delete it to rebuild"
            )
        if old.get("root") != meta["root"]:
            log.warning("artify: index %s: collection root %s → %s", out, old.get("root"), meta["root"])
    write_json(path, meta)


def shard_paths(out: str | Path) -> list[Path]:
    return sorted((Path(out) / SHARDS).glob("shard_*.npz"))


def read_shard_keys(path: Path) -> tuple[list[str], list[str], list[str]] | None:
    """(indexed keys, skipped keys, skip reasons) of a shard, or None when it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return [str(k) for k in z["keys"]], [str(k) for k in z["skipped"]], [str(r) for r in z["reasons"]]
    except Exception as e:  # only disk damage can tear an atomically written shard
        log.warning(
            "artify: shard %s is unreadable (%s: %s); its images are indexed again", path, type(e).__name__, e
        )
        path.rename(path.with_suffix(".npz.damaged"))
        return None


def done_keys(out: str | Path) -> set[str]:
    """Keys already indexed or skipped by the shards present."""
    done: set[str] = set()
    for path in shard_paths(out):
        keys = read_shard_keys(path)
        if keys is not None:
            done.update(keys[0])
            done.update(keys[1])
    return done


def write_shard(
    path: Path,
    keys: list[str],
    maps: list[np.ndarray],
    desc: list[np.ndarray],
    skipped: list[tuple[str, str]],
) -> None:
    with atomic_open(path, "wb") as f:
        np.savez(
            f,
            keys=np.asarray(keys, dtype=str),
            maps=np.concatenate(maps) if maps else np.zeros((0, 0, 0, 0), np.float16),
            descriptors=np.concatenate(desc) if desc else np.zeros((0, 0), np.float16),
            skipped=np.asarray([k for k, _ in skipped], dtype=str),
            reasons=np.asarray([r for _, r in skipped], dtype=str),
        )


@torch.no_grad()
def _features(
    vgg: VGGFeatures, layer: str, batch: list[torch.Tensor], device: str
) -> tuple[np.ndarray, np.ndarray]:
    fmap = vgg(torch.stack(batch).to(device), (layer,))[layer].float()
    return fmap.half().cpu().numpy(), global_descriptor(fmap).half().cpu().numpy()


def build_index(
    collection: str | Path,  # folder of art images (searched recursively)
    out: str | Path,  # index folder; an existing one is extended
    vgg: VGGFeatures,
    layer: str = "conv5_1",
    resolution: int = 128,  # images are centre-cropped square and resized to this
    shard_size: int = 512,  # images per shard (what a kill can lose)
    batch_size: int = 16,
    max_images: int | None = None,  # stop after this many new files (the rest on the next run)
    max_bytes: int | None = 50_000_000,  # larger files are skipped unread
    device: str = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Index the files of `collection` not yet in `out`; returns this run's counts (see `index_summary`)."""
    root, out = Path(collection), Path(out)
    files = collection_files(root)
    out.mkdir(parents=True, exist_ok=True)
    check_meta(out, _meta(vgg, layer, resolution, root))

    def key_of(p: Path) -> str:
        return p.relative_to(root).as_posix()

    done = done_keys(out)
    todo = [p for p in files if key_of(p) not in done]
    if max_images is not None:
        todo = todo[: int(max_images)]
    existing = shard_paths(out)
    next_id = int(existing[-1].stem.split("_")[1]) + 1 if existing else 0
    vgg = vgg.to(device)
    counts: Counter[str] = Counter()
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo), unit="img", desc="artify index", disable=not progress, dynamic_ncols=True)
    for start in range(0, len(todo), int(shard_size)):
        keys, maps, desc, skipped, batch = [], [], [], [], []
        for path in todo[start : start + int(shard_size)]:
            x = image_tensor(path, resolution, max_bytes)
            if isinstance(x, ImageProblem):
                skipped.append((key_of(path), f"{x.reason}: {x.detail}"))
                counts[x.reason] += 1
                log.info("artify: skipped %s (%s: %s)", path, x.reason, x.detail)
            else:
                keys.append(key_of(path))
                batch.append(x)
            if len(batch) == batch_size:
                m, d = _features(vgg, layer, batch, device)
                maps.append(m), desc.append(d)
                batch = []
            bar.update(1)
        if batch:
            m, d = _features(vgg, layer, batch, device)
            maps.append(m), desc.append(d)
        write_shard(out / SHARDS / f"shard_{next_id:05d}.npz", keys, maps, desc, skipped)
        counts["indexed"] += len(keys)
        next_id += 1
    bar.close()
    seconds = time.perf_counter() - t0
    rate = len(todo) / seconds if todo and seconds > 0 else None
    log.info(
        "artify: %d new files (%s) in %.1f s (%s images/s)",
        len(todo),
        dict(counts),
        seconds,
        f"{rate:.1f}" if rate else "-",
    )
    return {"new_files": len(todo), "counts": dict(counts), "seconds": seconds, "images_per_second": rate}


def index_summary(out: str | Path) -> dict[str, Any]:
    """Totals over all shards: images indexed, files skipped by reason (with examples), shards."""
    indexed, reasons, examples = 0, Counter(), {}
    shards = shard_paths(out)
    for path in shards:
        keys = read_shard_keys(path)
        if keys is None:
            continue
        indexed += len(keys[0])
        for k, r in zip(keys[1], keys[2]):
            reason = r.split(":")[0]
            reasons[reason] += 1
            examples.setdefault(reason, f"{k} ({r})")
    return {"indexed": indexed, "skipped": dict(reasons), "skipped_examples": examples, "shards": len(shards)}
