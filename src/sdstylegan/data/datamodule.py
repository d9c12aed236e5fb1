"""A LightningDataModule over a manifest: square RGB at the configured resolution.

Items are uint8 CHW tensors (4× less to pin and copy than float); `on_after_batch_transfer` turns
them into float in [-1, 1] on the device. `xflip` doubles the dataset with mirrored copies, as in
StyleGAN2-ADA (deterministic, so DDP ranks see consistent data). Lightning inserts the
DistributedSampler under DDP.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image, ImageOps
from torch.utils.data import DataLoader, Dataset

from sdstylegan.data.images import square_resize, to_rgb
from sdstylegan.data.manifest import ManifestRecord, read_manifest


def uint8_to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] → float32 [-1, 1]."""
    return x.to(torch.float32) / 127.5 - 1.0


class ManifestImageDataset(Dataset):
    """The usable images of a manifest (status ok, not dropped by the filter), as uint8 CHW tensors."""

    def __init__(self, manifest_path: str | Path, resolution: int, xflip: bool = False):
        self.manifest_path = Path(manifest_path)
        if not self.manifest_path.exists():
            raise FileNotFoundError(f"manifest {self.manifest_path} does not exist")
        self.root = self.manifest_path.parent
        self.records: list[ManifestRecord] = [r for r in read_manifest(self.manifest_path) if r.usable]
        if not self.records:
            raise ValueError(f"manifest {self.manifest_path} has no usable image (status ok and kept)")
        self.resolution = int(resolution)
        self.xflip = bool(xflip)

    def __len__(self) -> int:
        return len(self.records) * (2 if self.xflip else 1)

    def load(self, i: int) -> Image.Image:
        """The square RGB image of record `i` at the dataset resolution."""
        r = self.records[i]
        with Image.open(r.image_path(self.root)) as img:
            img = to_rgb(ImageOps.exif_transpose(img))
        return square_resize(img, self.resolution)

    def __getitem__(self, idx: int) -> torch.Tensor:
        n = len(self.records)
        a = np.asarray(self.load(idx % n), dtype=np.uint8)
        if idx >= n:
            a = a[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


class ManifestDataModule(pl.LightningDataModule):
    """Training images from a manifest; `manifest_path` is filled in by the stage that trains."""

    def __init__(
        self,
        manifest_path: str | None = None,
        resolution: int = 128,
        batch_size: int = 32,  # per-process batch
        num_workers: int = 2,
        xflip: bool = True,
        pin_memory: bool = True,
        shuffle: bool = True,
        drop_last: bool = True,
        persistent_workers: bool = True,
    ):
        super().__init__()
        if resolution < 4 or resolution & (resolution - 1):
            raise ValueError(f"dataset.resolution must be a power of two ≥ 4, got {resolution}")
        if batch_size < 1:
            raise ValueError(f"batch size must be ≥ 1, got {batch_size}")
        self.manifest_path = manifest_path
        self.resolution = resolution
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.xflip = xflip
        self.pin_memory = pin_memory
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.persistent_workers = persistent_workers
        self.dataset: ManifestImageDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.dataset is not None:
            return
        if self.manifest_path is None:
            raise ValueError("ManifestDataModule needs manifest_path (the stage that trains passes it)")
        self.dataset = ManifestImageDataset(self.manifest_path, self.resolution, self.xflip)
        if self.drop_last and len(self.dataset) < self.batch_size:
            raise ValueError(
                f"dataset {self.manifest_path} has {len(self.dataset)} images (xflip={self.xflip}), "
                f"fewer than one batch of {self.batch_size}"
            )

    def train_dataloader(self) -> DataLoader:
        self.setup()
        return DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            drop_last=self.drop_last,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.persistent_workers and self.num_workers > 0,
        )

    def predict_dataloader(self) -> DataLoader:
        """Every usable image once, in manifest order (no flip, no shuffle) — for scoring stages."""
        self.setup()
        plain = copy.copy(self.dataset)  # same records, without reading the manifest again
        plain.xflip = False
        return DataLoader(
            plain,
            batch_size=self.batch_size,
            shuffle=False,
            drop_last=False,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
        )

    def on_after_batch_transfer(self, batch: torch.Tensor, dataloader_idx: int) -> torch.Tensor:
        return uint8_to_float(batch)
