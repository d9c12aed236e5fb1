"""Training callbacks, all scheduled in kimg: checkpoints (last + best), sample grids, generator metrics.

Each writes under `trainer.default_root_dir` (the stage folder): `checkpoints/`, `samples/`,
`metrics.jsonl`. The metrics callback runs on every rank (each generates its share; the metrics
code combines the statistics), so the best checkpoint is chosen identically on every rank.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf
from pytorch_lightning.callbacks import Checkpoint
from torch.utils.data import DataLoader, Subset

from sdstylegan.training.checkpoint import BEST, CHECKPOINT_DIR, LAST
from sdstylegan.utils.io import atomic_open
from sdstylegan.utils.logging import get_logger
from sdstylegan.utils.pictures import image_grid, save_png

log = get_logger(__name__)


def crossed(every_kimg: float | None, module: pl.LightningModule) -> bool:
    """True when the step just taken crossed a multiple of `every_kimg` (None/0 = never)."""
    if not every_kimg:
        return False
    step = float(every_kimg) * 1000
    cur = int(module.cur_nimg)
    return math.floor(cur / step) != math.floor((cur - module.batch_size) / step)


@torch.no_grad()
def fixed_samples(G: torch.nn.Module, z: torch.Tensor, psi: float, batch: int = 16) -> torch.Tensor:
    """G(z) with truncation `psi` and constant noise, in batches (deterministic for fixed z)."""
    out = [G(zb, truncation_psi=psi, noise_mode="const").float().cpu() for zb in z.split(batch)]
    return torch.cat(out)


class KimgCheckpoint(Checkpoint):
    """`checkpoints/last.ckpt` every `every_kimg` and at the end; `best.ckpt` when `monitor` improves (lower)."""

    def __init__(self, every_kimg: float = 50, monitor: str | None = "val/fid"):
        self.every_kimg, self.monitor = every_kimg, monitor
        self.best: float | None = None
        self._saved_nimg = -1

    def dirpath(self, trainer: pl.Trainer) -> Path:
        return Path(trainer.default_root_dir) / CHECKPOINT_DIR

    def save_last(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if int(module.cur_nimg) == self._saved_nimg:
            return
        trainer.save_checkpoint(self.dirpath(trainer) / LAST, weights_only=False)  # full training state
        self._saved_nimg = int(module.cur_nimg)

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, *args: Any) -> None:
        metrics = getattr(module, "last_metrics", None)
        if self.monitor and metrics and metrics.get("nimg") == int(module.cur_nimg):
            keys = [k for k in metrics if k.startswith(self.monitor)]
            if keys:
                value = float(metrics[keys[0]])
                if math.isfinite(value) and (self.best is None or value < self.best):
                    self.best = value
                    trainer.save_checkpoint(self.dirpath(trainer) / BEST, weights_only=False)
                    log.info("best checkpoint: %s = %.4f at kimg %.3f", keys[0], value, module.kimg)
        if crossed(self.every_kimg, module) or trainer.should_stop:
            self.save_last(trainer, module)

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.save_last(trainer, module)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = state_dict.get("best")


class SampleGrid(pl.Callback):
    """G_ema samples from fixed seeds, untruncated and truncated, at start and every `every_kimg`."""

    def __init__(
        self, every_kimg: float = 50, num: int = 32, psis: tuple[float, ...] = (1.0, 0.7), seed: int = 0
    ):
        self.every_kimg, self.num, self.psis, self.seed = every_kimg, int(num), tuple(psis), int(seed)
        self.written: list[str] = []

    def dirpath(self, trainer: pl.Trainer) -> Path:
        return Path(trainer.default_root_dir) / "samples"

    def write(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.global_rank != 0:
            return
        G = module.G_ema
        gen = torch.Generator().manual_seed(self.seed)
        z = torch.randn(self.num, G.z_dim, generator=gen).to(module.device)
        for psi in self.psis:
            grid = image_grid(fixed_samples(G, z, psi))
            path = self.dirpath(trainer) / f"kimg{module.kimg:09.3f}_psi{psi:g}.png"
            save_png(grid, path)
            self.written.append(str(path))
            for logger in trainer.loggers:
                if hasattr(logger, "log_image"):
                    logger.log_image(key=f"samples/psi{psi:g}", images=[grid], step=module.log_step)

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if int(module.cur_nimg) == 0:
            self.write(trainer, module)

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, *args: Any) -> None:
        if crossed(self.every_kimg, module) or trainer.should_stop:
            self.write(trainer, module)


class GeneratorMetrics(pl.Callback):
    """FID/KID/PR of G_ema every `every_kimg` through one `sdstylegan.metrics.evaluate.MetricSuite`.

    Names carry the sample count and `_standin` when a stand-in feature extractor is configured
    (that is the metrics module's job). `every_kimg: null` switches it off.
    """

    def __init__(
        self,
        every_kimg: float | None = 50,
        num_samples: int | None = None,
        metrics: dict[str, Any] | None = None,
        batch: int = 32,
        seed: int = 123,
    ):
        self.every_kimg, self.num_samples = every_kimg, num_samples
        self.cfg = metrics if OmegaConf.is_config(metrics) else OmegaConf.create(metrics or {})
        self.batch, self.seed = int(batch), int(seed)
        self._suite: Any = None  # MetricSuite, built on first use for the module's device
        self._suite_device: torch.device | None = None

    def setup(self, trainer: pl.Trainer, module: pl.LightningModule, stage: str) -> None:
        """Fail at start, not hours in: the metrics code must import and its feature extractors must build."""
        if not self.every_kimg:
            return
        off = "set training.callbacks.metrics.every_kimg=null to train without FID"
        try:
            from sdstylegan.metrics.evaluate import MetricSuite
        except ImportError as e:
            raise RuntimeError(
                f"training.callbacks.metrics.every_kimg={self.every_kimg} needs "
                f"sdstylegan.metrics.evaluate ({e}); {off}"
            ) from e
        try:  # built where the module is now (the CPU before Lightning moves it) and kept for the evaluations
            self.suite(module.device, MetricSuite)
        except Exception as e:
            raise RuntimeError(
                f"FID during training (every {self.every_kimg} kimg) cannot build its feature extractors: {e}\n"
                f"Configure the weights (metrics.inception.weights=/path/to/file), use metrics=standin for "
                f"labelled stand-in numbers, or {off}"
            ) from e

    def real_loader(self, trainer: pl.Trainer) -> DataLoader:
        """This rank's share of the real images (every usable image once over all ranks)."""
        full = trainer.datamodule.predict_dataloader()
        rank, world = trainer.global_rank, trainer.world_size
        share = Subset(full.dataset, range(rank, len(full.dataset), world))
        return DataLoader(share, batch_size=full.batch_size, shuffle=False, num_workers=full.num_workers)

    def compute(self, trainer: pl.Trainer, module: pl.LightningModule) -> dict[str, float]:
        """Every rank generates its share (seed offset by rank); the metrics code combines the statistics."""
        G = module.G_ema
        gen = torch.Generator().manual_seed(self.seed + 1000003 * trainer.global_rank)

        def sample_fn(n: int) -> torch.Tensor:
            z = torch.randn(n, G.z_dim, generator=gen).to(module.device)
            with torch.no_grad():
                return G(z, noise_mode="const").float().clamp(-1, 1)  # as when saved as images

        data = trainer.datamodule
        manifest = str(getattr(getattr(data, "inner", data), "manifest_path", ""))
        key = hashlib.sha256(f"{manifest}|{module.resolution}".encode()).hexdigest()[:16]
        return (
            self.suite(module.device)
            .evaluate(
                sample_fn, self.real_loader(trainer), num_samples=self.num_samples, cache_key=f"train-{key}"
            )
            .values
        )

    def suite(self, device: torch.device, suite_class: Any = None) -> Any:
        """The metric networks, built once per device and kept between evaluations (not rebuilt each time)."""
        if suite_class is None:
            from sdstylegan.metrics.evaluate import MetricSuite as suite_class

        if self._suite is None or self._suite_device != device:
            self._suite, self._suite_device = suite_class(self.cfg, device=device), device
        return self._suite

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, *args: Any) -> None:
        if not (crossed(self.every_kimg, module) or (self.every_kimg and trainer.should_stop)):
            return
        was_training = module.G_ema.training
        result = {k: float(v) for k, v in self.compute(trainer, module).items()}
        module.G_ema.train(was_training)
        module.last_metrics = {**result, "nimg": int(module.cur_nimg)}
        if trainer.global_rank == 0:
            for logger in trainer.loggers:
                logger.log_metrics({**result, "train/kimg": module.kimg}, step=module.log_step)
            append_line(
                Path(trainer.default_root_dir) / "metrics.jsonl", json.dumps({"kimg": module.kimg, **result})
            )
            log.info("kimg %.3f: %s", module.kimg, ", ".join(f"{k}={v:.4f}" for k, v in result.items()))


def append_line(path: Path, line: str) -> None:
    """Append `line` to a small log file by rewriting it atomically (a kill never truncates it)."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(old + line.rstrip("\n") + "\n")
