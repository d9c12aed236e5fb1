"""The `evaluate` pipeline stage: FID/KID/precision-recall (+ FD-DINO) of the latest checkpoint.

Inputs: `checkpoint` from the latest training stage (`train`, else `train_raw`; G_ema is loaded
with `sdstylegan.training.checkpoint.load_generator`, no pickled classes) and the current
`manifest` (its usable images are the real set — after `self_filter`, the kept ones).
Outputs in `<run_dir>/evaluate/`: `report.json` (`report_standin.json` when a stand-in extractor is
configured) with the values, the sample count, the extractors' identities, ψ and the checkpoint;
`samples.png`, a grid of the first 64 evaluated samples. Latents derive from `seed`, so a rerun
gives the same numbers; real statistics are cached per manifest content (`metrics.cache_dir`).

    python train.py experiment=demo pipeline.stages=[demo_data,train,evaluate] metrics=standin
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from sdstylegan.data.manifest import read_manifest
from sdstylegan.metrics.evaluate import MetricSuite, extractor_keys
from sdstylegan.pipeline.context import StageContext
from sdstylegan.utils.io import write_json
from sdstylegan.utils.logging import get_logger
from sdstylegan.utils.pictures import image_grid, save_png
from sdstylegan.utils.seeding import derive_seed

log = get_logger(__name__)

GRID_SAMPLES = 64


def needs(cfg: DictConfig) -> list[str]:
    """Networks `evaluate` builds (pipeline preflight): the extractors of `metrics.compute`."""
    return extractor_keys(cfg.metrics)


def manifest_cache_key(manifest: str | Path) -> str:
    """Names the real set for the statistics cache: the manifest's name and a hash of its usable records."""
    manifest = Path(manifest)
    h = hashlib.sha256()
    for r in read_manifest(manifest):
        if r.usable:
            h.update(f"{r.id}|{r.image_path(manifest.parent)}\n".encode())
    return f"{manifest.parent.name}-{manifest.stem}-{h.hexdigest()[:16]}"


def real_loader(manifest: str | Path, resolution: int, batch_size: int, num_workers: int = 0) -> DataLoader:
    """Every usable image of the manifest once (uint8 NCHW, no flip)."""
    from sdstylegan.data.datamodule import ManifestImageDataset

    dataset = ManifestImageDataset(manifest, resolution, xflip=False)
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)


def evaluate_generator(
    G: torch.nn.Module,
    manifest: str | Path,
    cfg: DictConfig,
    out_dir: str | Path,
    device: torch.device | str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Metrics of generator `G` against the manifest's images; writes the report and a sample grid."""
    m = cfg.metrics
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    resolution = int(cfg.dataset.resolution)
    if int(G.img_resolution) != resolution:
        raise ValueError(
            f"the generator makes {G.img_resolution}² images but dataset.resolution={resolution}"
        )
    G = G.to(device).eval()
    psi = float(m.truncation_psi)
    gen = torch.Generator().manual_seed(derive_seed(int(cfg.seed), "evaluate"))
    grid: list[torch.Tensor] = []

    @torch.no_grad()
    def sample_fn(n: int) -> torch.Tensor:
        z = torch.randn(n, G.z_dim, generator=gen).to(device)
        img = G(z, truncation_psi=psi, noise_mode="const").float().clamp(-1, 1)  # as when saved as images
        have = sum(g.shape[0] for g in grid)
        if have < GRID_SAMPLES:
            grid.append(img[: GRID_SAMPLES - have].cpu())
        return img

    loader = real_loader(manifest, resolution, int(m.batch_size))
    suite = MetricSuite(m, device=device)
    report = suite.evaluate(sample_fn, loader, cache_key=manifest_cache_key(manifest))
    standin = any(e.is_standin for e in suite.extractors.values())
    out_dir = Path(out_dir)
    report_path = out_dir / ("report_standin.json" if standin else "report.json")
    write_json(
        report_path,
        {
            "metrics": report.values,
            "num_samples": report.num_samples,
            "num_real": report.num_real,
            "extractors": report.extractors,
            "standin": standin,
            "truncation_psi": psi,
            "seconds": report.seconds,
            "metrics_config": OmegaConf.to_container(m, resolve=True),
            **(extra or {}),
        },
    )
    samples = torch.cat(grid)[:GRID_SAMPLES]
    save_png(image_grid(samples), out_dir / "samples.png")
    return {"report": str(report_path), "metrics": report.values, "standin": standin}


def run_evaluate(ctx: StageContext) -> dict[str, Any]:
    """Stage `evaluate`: load G_ema of the latest checkpoint and evaluate it against the current manifest."""
    from sdstylegan.training.checkpoint import load_generator

    ckpt = ctx.path(ctx.latest("checkpoint"))
    manifest = ctx.path(ctx.latest("manifest"))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    G = load_generator(ckpt, which="G_ema", map_location=device)
    log.info("evaluate: %s against %s (%d samples)", ckpt, manifest, int(ctx.cfg.metrics.num_samples))
    out = evaluate_generator(
        G,
        manifest,
        ctx.cfg,
        ctx.stage_dir,
        device=device,
        extra={"checkpoint": ctx.relative(ckpt), "manifest": ctx.relative(manifest)},
    )
    out["report"] = ctx.relative(out["report"])
    out["samples"] = ctx.relative(ctx.stage_dir / "samples.png")
    return out
