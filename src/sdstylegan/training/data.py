"""Training data stream that resumes exactly: an endless, seeded, rank-strided sequence of images.

StyleGAN2 training counts images (kimg), not epochs, so the loader is infinite (like StyleGAN2-ADA's
InfiniteSampler): pass e of the stream is a permutation seeded by (seed, e); rank r of W takes stream
positions r, r+W, r+2W, … . After `k` minibatches every rank knows exactly where it stands, so a
resumed run sees the same images in the same order as an uninterrupted one. Wraps the manifest
datamodule (its dataset, worker settings and uint8 → [-1, 1] transfer hook are reused).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Sampler

from sdstylegan.data.datamodule import ManifestDataModule
from sdstylegan.utils.seeding import derive_seed


class InfiniteSampler(Sampler[int]):
    """Endless indices into a dataset of `size` items for one rank, starting at its `start`-th item."""

    def __init__(self, size: int, seed: int, rank: int = 0, world_size: int = 1, start: int = 0):
        if size < 1:
            raise ValueError("InfiniteSampler needs a non-empty dataset")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.size, self.seed, self.rank, self.world_size, self.start = (
            size,
            int(seed),
            rank,
            world_size,
            int(start),
        )

    def permutation(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(derive_seed(self.seed, "train-data", str(epoch)))
        return torch.randperm(self.size, generator=g)

    def __iter__(self) -> Iterator[int]:
        i = self.start
        epoch, perm = -1, None
        while True:
            e, j = divmod(i * self.world_size + self.rank, self.size)
            if e != epoch:
                epoch, perm = e, self.permutation(e)
            yield int(perm[j])
            i += 1


class TrainingDataModule(pl.LightningDataModule):
    """Infinite, exactly resumable training loader over a `ManifestDataModule`'s images.

    `batch_size` of the inner datamodule is the per-rank batch. Call `start_at(k)` before the loader
    is built to continue after `k` minibatches (the training module does this when it is resumed).
    """

    def __init__(self, inner: ManifestDataModule, seed: int, min_images: int | None = None):
        super().__init__()
        self.inner = inner
        self.seed = int(seed)
        self.min_images = min_images  # refuse datasets smaller than this (the total batch)
        self.start_minibatch = 0

    def start_at(self, minibatches: int) -> None:
        self.start_minibatch = int(minibatches)

    def setup(self, stage: str | None = None) -> None:
        self.inner.setup(stage)
        n = len(self.inner.dataset)
        need = max(self.min_images or 0, self.inner.batch_size)
        if n < need:
            raise ValueError(
                f"dataset {self.inner.manifest_path} has {n} images (xflip={self.inner.xflip}); "
                f"training needs at least one batch of {need}"
            )

    def _rank_world(self) -> tuple[int, int]:
        t = self.trainer
        return (t.global_rank, t.world_size) if t is not None else (0, 1)

    def train_dataloader(self) -> DataLoader:
        self.setup()
        rank, world = self._rank_world()
        inner = self.inner
        sampler = InfiniteSampler(
            len(inner.dataset), self.seed, rank, world, start=self.start_minibatch * inner.batch_size
        )
        # Own generator: creating the iterator must not draw from the global RNG (resume would diverge).
        generator = torch.Generator().manual_seed(
            derive_seed(self.seed, "loader", str(self.start_minibatch), str(rank))
        )
        return DataLoader(
            inner.dataset,
            batch_size=inner.batch_size,
            sampler=sampler,
            drop_last=True,
            generator=generator,
            num_workers=inner.num_workers,
            pin_memory=inner.pin_memory and torch.cuda.is_available(),
            persistent_workers=inner.persistent_workers and inner.num_workers > 0,
        )

    def predict_dataloader(self) -> DataLoader:
        """Every usable real image once (for FID's real statistics)."""
        return self.inner.predict_dataloader()

    def on_after_batch_transfer(self, batch: torch.Tensor, dataloader_idx: int) -> torch.Tensor:
        return self.inner.on_after_batch_transfer(batch, dataloader_idx)
