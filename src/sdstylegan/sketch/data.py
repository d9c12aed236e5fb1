"""User sketches from a folder, checked at the start, and the paired (real image, sketch) training stream.

A sketch folder holds image files of any size and format; each is converted to one channel, centre-cropped
to a square and resized to the generator's resolution (thin lines are thickened before a large reduction so
they do not fade). An empty folder, files that are not images, or fewer than `min_sketches` sketches stop
the stage before anything is trained, with the folder and the offending files named.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter, UnidentifiedImageError
from torch.utils.data import Dataset

from sdstylegan.data.datamodule import ManifestDataModule, uint8_to_float


class SketchFolderError(ValueError):
    """A sketch folder cannot be used (missing, empty, unreadable files, too few sketches)."""


def sketch_files(folder: str | Path, min_sketches: int = 2) -> list[Path]:
    """Sorted image files of `folder`, all readable, at least `min_sketches`; else a `SketchFolderError`."""
    folder = Path(folder).expanduser()
    key = "sketch.path"
    if not folder.is_dir():
        raise SketchFolderError(f"{key}={folder}: no such folder (it should hold the user's sketches)")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise SketchFolderError(f"{key}={folder}: the folder is empty; put the sketches (PNG/JPEG/…) in it")
    bad = []
    for p in files:
        try:
            with Image.open(p) as im:
                im.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            bad.append(f"{p.name} ({type(e).__name__})")
    if bad:
        raise SketchFolderError(
            f"{key}={folder}: {len(bad)} of {len(files)} files are not readable images: {', '.join(bad[:10])}"
            + (" …" if len(bad) > 10 else "")
            + "; remove them or keep only sketches in the folder"
        )
    if len(files) < min_sketches:
        raise SketchFolderError(
            f"{key}={folder}: {len(files)} sketch{'es' if len(files) != 1 else ''}, at least "
            f"sketch.min_sketches={min_sketches} are needed (D_sketch memorises a single sketch; the paper "
            f"used about 30)"
        )
    return files


def load_sketch(path: str | Path, resolution: int) -> torch.Tensor:
    """One sketch as uint8 [1, r, r]: greyscale, centre square, dark lines thickened before reduction."""
    with Image.open(path) as im:
        if im.mode in ("RGBA", "LA", "P"):  # transparent paper is white paper
            im = im.convert("RGBA")
            paper = Image.new("RGBA", im.size, "white")
            im = Image.alpha_composite(paper, im)
        g = im.convert("L")
    side = min(g.size)
    left, top = (g.width - side) // 2, (g.height - side) // 2
    g = g.crop((left, top, left + side, top + side))
    factor = side / resolution
    if factor >= 2:  # a 1-pixel line would fade to grey: widen dark lines to ~one output pixel first
        g = g.filter(ImageFilter.MinFilter(2 * int(factor // 2) + 1))
    g = g.resize((resolution, resolution), Image.Resampling.BOX if factor >= 1 else Image.Resampling.BICUBIC)
    return torch.from_numpy(np.array(g, dtype=np.uint8))[None]


def load_sketch_folder(folder: str | Path, resolution: int, min_sketches: int = 2) -> torch.Tensor:
    """Every sketch of a checked folder as uint8 [S, 1, r, r]."""
    return torch.stack([load_sketch(p, resolution) for p in sketch_files(folder, min_sketches)])


class PairedDataset(Dataset):
    """Item i: (real image i, sketch i mod S). The training stream's seeded permutations shuffle both."""

    def __init__(self, images: Dataset, sketches: torch.Tensor):
        self.images, self.sketches = images, sketches

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i], self.sketches[i % len(self.sketches)]


class SketchDataModule(ManifestDataModule):
    """The run's real images (for D_image) paired with the user's sketches (for D_sketch), both uint8 → [-1, 1]."""

    def __init__(self, sketches: torch.Tensor, **kwargs):
        super().__init__(**kwargs)
        self.sketches = sketches

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        super().setup(stage)
        self.dataset = PairedDataset(self.dataset, self.sketches)

    def on_after_batch_transfer(
        self, batch: tuple[torch.Tensor, torch.Tensor], dataloader_idx: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        images, sketches = batch
        return uint8_to_float(images), uint8_to_float(sketches)
