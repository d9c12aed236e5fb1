"""The images a benchmark clusters: a run's manifest (its crops when cropped) or a folder, with labels.

`ImageSet` holds, in a fixed order, each image's key (manifest id, or path relative to the folder), file,
and integer class (-1 = unlabelled), plus the class names. `fingerprint` identifies the set for the feature
cache: the keys and each file's size and modification time, so replacing, adding or removing an image
(or reordering the set) gives another fingerprint. `ImageDataset` yields uint8 CHW squares (centre crop,
Lanczos) at the benchmark resolution — every encoder sees the same pixels and resizes them its own way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from sdstylegan.cluster_bench.labels import (
    LabelFileError,
    folder_classes,
    read_ground_truth,
    read_label_csv,
)
from sdstylegan.data.images import square_resize, to_rgb
from sdstylegan.data.ingest import IMAGE_SUFFIXES
from sdstylegan.data.manifest import read_manifest


@dataclass
class ImageSet:
    keys: list[str]
    paths: list[Path]
    labels: np.ndarray  # (N,) int64 class index, -1 where unlabelled
    class_names: list[str] = field(default_factory=list)
    source: str = ""
    label_source: str | None = None

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def labelled(self) -> bool:
        return bool(self.class_names) and bool((self.labels >= 0).any())

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def fingerprint(self) -> str:
        """sha256 over (key, size, mtime) of every image, in order."""
        h = hashlib.sha256()
        for key, path in zip(self.keys, self.paths):
            st = path.stat()
            h.update(f"{key}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()

    def subset(self, n: int | None) -> ImageSet:
        """The first `n` images (all when None)."""
        if n is None or n >= len(self):
            return self
        return ImageSet(
            self.keys[:n], self.paths[:n], self.labels[:n], self.class_names, self.source, self.label_source
        )


def _attach(
    keys: list[str],
    paths: list[Path],
    names: dict[str, str | None] | None,
    source: str,
    label_source: str | None,
    require_match: bool = True,
) -> ImageSet:
    if names is None:
        return ImageSet(keys, paths, np.full(len(keys), -1, dtype=np.int64), [], source, None)
    found = [names.get(k) for k in keys]
    classes = sorted({c for c in found if c is not None})
    if require_match and not any(k in names for k in keys):
        raise LabelFileError(
            f"labels {label_source}: none of its {len(names)} keys matches an image of {source} "
            f"(e.g. image {keys[0]!r} vs label key {next(iter(names))!r})"
        )
    index = {c: i for i, c in enumerate(classes)}
    labels = np.asarray([index[c] if c is not None else -1 for c in found], dtype=np.int64)
    return ImageSet(keys, paths, labels, classes, source, label_source)


def _csv_labels(path: Path, keys: list[str], paths: list[Path], root: Path) -> dict[str, str]:
    """CSV labels re-keyed by image key: a row may name an id, a path relative to `root`, or a file name."""
    rows = read_label_csv(path)
    out: dict[str, str] = {}
    for key, p in zip(keys, paths):
        try:
            rel = p.relative_to(root).as_posix()
        except ValueError:
            rel = p.as_posix()
        for cand in (key, rel, p.name):
            if cand in rows:
                out[key] = rows[cand]
                break
    if not out:
        raise LabelFileError(
            f"labels {path}: none of its {len(rows)} keys matches an image under {root} "
            f"(keys are ids, paths relative to that folder, or file names)"
        )
    return out


def from_manifest(manifest: str | Path, labels: str | Path | None = None) -> ImageSet:
    """Usable images of a manifest (crops when present); labels from a ground_truth.jsonl or a CSV."""
    manifest = Path(manifest)
    root = manifest.parent
    records = [r for r in read_manifest(manifest) if r.usable]
    if not records:
        raise ValueError(f"manifest {manifest} has no usable image")
    keys = [r.id for r in records]
    paths = [r.image_path(root) for r in records]
    if labels is None:
        return _attach(keys, paths, None, str(manifest), None)
    labels = Path(labels)
    names = read_ground_truth(labels) if labels.suffix == ".jsonl" else _csv_labels(labels, keys, paths, root)
    return _attach(keys, paths, names, str(manifest), str(labels))


def from_folder(folder: str | Path, labels: str | Path | None = "auto") -> ImageSet:
    """Every image file under `folder` (sorted); labels: 'auto' (class subfolders), a CSV, or None."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"images {folder}: no such folder")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise ValueError(f"images {folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    keys = [p.relative_to(folder).as_posix() for p in paths]
    if labels == "auto":
        names = folder_classes(folder, paths)
        return _attach(keys, paths, names, str(folder), f"{folder} (subfolders)" if names else None)
    if labels is None:
        return _attach(keys, paths, None, str(folder), None)
    return _attach(keys, paths, _csv_labels(Path(labels), keys, paths, folder), str(folder), str(labels))


class ImageDataset(Dataset):
    """uint8 CHW RGB squares at `resolution` (EXIF-oriented, centre crop, Lanczos)."""

    def __init__(self, paths: list[Path], resolution: int):
        self.paths, self.resolution = list(paths), int(resolution)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        with Image.open(self.paths[i]) as img:
            img = to_rgb(ImageOps.exif_transpose(img))
        a = np.asarray(square_resize(img, self.resolution), dtype=np.uint8)
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))
