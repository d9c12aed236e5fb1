"""The `cluster` pipeline stage: KMeans in W of the final G_ema, multi-modal truncation, real-image clusters.

Inputs: the latest `checkpoint` (the `train` stage's, else `train_raw`'s; G_ema) and the current `manifest`.
`clustering.num_samples` w = mapping(z) (z from `seed`) are clustered into `clustering.num_clusters` groups
(`distill.kmeans`, init='random', Lloyd); each usable real image gets `cluster` = the centre whose image is
nearest by LPIPS (`metrics.lpips`; stand-in labelled `_standin`).

Outputs in `<run_dir>/cluster/`: `centres.pt` ({centres [K, w_dim], counts, inertia, iterations}); grids on
the same z: `untruncated.png`, `truncated_mean.png` (ψ towards w_avg), `truncated_multimodal.png` (ψ towards
the chosen centre), `centres.png` (G(c) per centre); `manifest.jsonl` with `cluster`; `report.json`
(`report_standin.json` with stand-in LPIPS) holding the cluster sizes and — with demo ground truth — purity
and NMI against the planted modes over inliers (`ground_truth_modes`), and `ground_truth_mode_recovery`:
Hungarian accuracy, NMI and ARI over every image with a planted mode (`distill.ground_truth.mode_recovery`). Returns {"manifest", "centres", "num_clusters", "report"} (no
`checkpoint` key: the evaluate stage keeps using the training checkpoint).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from sdstylegan.data.manifest import read_manifest
from sdstylegan.distill.ground_truth import mode_recovery
from sdstylegan.distill.kmeans import KMeansResult, kmeans
from sdstylegan.distill.pictures import grid
from sdstylegan.distill.reconstruction import unit_images
from sdstylegan.distill.records import cluster_agreement, load_ground_truth, write_rebased
from sdstylegan.distill.truncation import multimodal_truncate, nearest_image, render
from sdstylegan.metrics.evaluate_stage import real_loader
from sdstylegan.pipeline.context import StageContext
from sdstylegan.utils.io import atomic_open, write_json
from sdstylegan.utils.logging import get_logger
from sdstylegan.utils.pictures import save_png
from sdstylegan.utils.seeding import derive_seed
from sdstylegan.utils.weights import STANDIN_SUFFIX

log = get_logger(__name__)


@torch.no_grad()
def sample_w(G: torch.nn.Module, num: int, seed: int, batch: int = 1024) -> torch.Tensor:
    """`num` w = mapping(z) ([num, w_dim], no truncation); z from a seeded CPU generator (same on any device)."""
    gen = torch.Generator().manual_seed(int(seed))
    device = G.mapping.w_avg.device
    out = []
    for start in range(0, num, batch):
        z = torch.randn(min(batch, num - start), G.z_dim, generator=gen).to(device)
        out.append(G.mapping(z)[:, 0].float())
    return torch.cat(out)


@torch.no_grad()
def assign_images(
    lpips: torch.nn.Module, loader: Any, centre_images: torch.Tensor, resolution: int | None = None
) -> torch.Tensor:
    """Index of the centre image nearest (LPIPS at ≤ `resolution`²) each image the loader yields, in order."""
    out = []
    for batch in loader:
        x = unit_images(batch.to(centre_images.device))
        out.append(nearest_image(lpips, x, centre_images, resolution).cpu())
    return torch.cat(out)


@torch.no_grad()
def comparison_grids(
    G: torch.nn.Module,
    centres: torch.Tensor,
    lpips: torch.nn.Module,
    centre_images: torch.Tensor,
    ccfg: Any,
    seed: int,
) -> dict[str, torch.Tensor]:
    """Same z rendered untruncated, truncated towards w_avg, and multi-modally truncated (ψ = clustering.psi)."""
    n, psi, batch = int(ccfg.grid_samples), float(ccfg.psi), int(ccfg.batch_size)
    device = centres.device
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    ws = G.mapping(z)
    ws_mean = G.mapping(z, truncation_psi=psi)
    ws_multi = multimodal_truncate(
        G,
        ws,
        centres,
        psi,
        str(ccfg.distance),
        lpips,
        centre_images,
        batch,
        lpips_resolution=ccfg.get("lpips_resolution"),
    )
    return {
        "untruncated": render(G, ws, batch),
        "truncated_mean": render(G, ws_mean, batch),
        "truncated_multimodal": render(G, ws_multi, batch),
        "centres": centre_images,
    }


def uses_lpips(ccfg: Any) -> bool:
    """LPIPS picks centres for the grids (distance=lpips) and assigns real images (assign_real)."""
    distance = str(ccfg.distance)
    if distance not in ("lpips", "w"):
        raise ValueError(f"clustering.distance={distance!r}: lpips or w")
    return distance == "lpips" or bool(ccfg.assign_real)


def needs(cfg: Any) -> list[str]:
    """Networks `cluster` builds (pipeline preflight): LPIPS when `uses_lpips`."""
    return ["metrics.lpips"] if uses_lpips(cfg.clustering) else []


def run_cluster(ctx: StageContext) -> dict[str, Any]:
    """Stage `cluster` (registry `ranks: zero`: rank 0 runs it under DDP): see the module docstring."""
    from sdstylegan.training.checkpoint import load_generator

    t0 = time.time()
    cfg, ccfg = ctx.cfg, ctx.cfg.clustering
    k, num = int(ccfg.num_clusters), int(ccfg.num_samples)
    if not 1 <= k <= num:
        raise ValueError(f"clustering.num_clusters={k} must lie in [1, clustering.num_samples={num}]")
    # clustering.generator: an imported generator (e.g. an NVlabs/SDIP .pkl) instead of this run's training
    ckpt = (
        Path(str(ccfg.generator)).expanduser()
        if ccfg.get("generator")
        else ctx.path(ctx.latest("checkpoint"))
    )
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    G = load_generator(ckpt, which="G_ema", map_location=device)
    seed = int(cfg.seed)
    log.info("cluster: KMeans of %d w of %s into %d clusters on %s", num, ckpt, k, device)
    w = sample_w(G, num, derive_seed(seed, "cluster", "w"), int(ccfg.batch_size) * 16)
    km: KMeansResult = kmeans(
        w,
        k,
        max_iter=int(ccfg.max_iter),
        seed=derive_seed(seed, "cluster", "kmeans"),
        init=str(ccfg.init),
        n_init=int(ccfg.n_init),
    )
    counts = torch.bincount(km.labels, minlength=k).tolist()
    with atomic_open(ctx.stage_dir / "centres.pt", "wb") as f:
        torch.save(
            {
                "centres": km.centres.cpu(),
                "counts": counts,
                "inertia": km.inertia,
                "iterations": km.iterations,
                "converged": km.converged,
                "checkpoint": ctx.relative(ckpt),
            },
            f,
        )
    lpips = instantiate(cfg.metrics.lpips).to(device) if uses_lpips(ccfg) else None
    centre_images = render(G, km.centres, int(ccfg.batch_size))
    grids = comparison_grids(G, km.centres, lpips, centre_images, ccfg, derive_seed(seed, "cluster", "grid"))
    for name, images in grids.items():
        save_png(grid(images), ctx.stage_dir / f"{name}.png")

    standin = lpips is not None and bool(lpips.is_standin)
    sfx = STANDIN_SUFFIX if standin else ""
    report: dict[str, Any] = {
        "num_samples": num,
        "num_clusters": k,
        "cluster_sizes": counts,
        "inertia": km.inertia,
        "iterations": km.iterations,
        "converged": km.converged,
        "psi": float(ccfg.psi),
        "distance": str(ccfg.distance),
        "lpips": f"lpips_{lpips.net_name}{sfx}" if lpips else None,
        "standin": standin,
        "checkpoint": ctx.relative(ckpt),
        "clustering_config": OmegaConf.to_container(ccfg, resolve=True),
    }
    out: dict[str, Any] = {"centres": ctx.relative(ctx.stage_dir / "centres.pt"), "num_clusters": k}
    if bool(ccfg.assign_real):
        manifest_path = ctx.path(ctx.latest("manifest"))
        records = read_manifest(manifest_path)
        usable = [r for r in records if r.usable]
        loader = real_loader(manifest_path, int(cfg.dataset.resolution), int(ccfg.batch_size))
        labels = assign_images(lpips, loader, centre_images, ccfg.get("lpips_resolution")).tolist()
        if len(labels) != len(usable):
            raise RuntimeError(
                f"cluster: assigned {len(labels)} images but the manifest has {len(usable)} usable"
            )
        for r, c in zip(usable, labels):
            r.cluster = int(c)
        out_manifest = ctx.stage_dir / "manifest.jsonl"
        write_rebased(records, manifest_path.parent, out_manifest)
        out["manifest"] = ctx.relative(out_manifest)
        report["real_cluster_sizes"] = torch.bincount(torch.tensor(labels), minlength=k).tolist()
        truth = load_ground_truth(ctx)
        if truth is not None:
            report[f"ground_truth_modes{sfx}"] = agreement = cluster_agreement(
                {r.id: int(r.cluster) for r in usable}, truth
            )
            log.info(
                "cluster: agreement with the planted modes: purity %s, NMI %s%s",
                agreement["purity"],
                agreement["nmi"],
                "  (STAND-IN LPIPS: not a real result)" if standin else "",
            )
            report[f"ground_truth_mode_recovery{sfx}"] = rec = mode_recovery(
                {r.id: int(r.cluster) for r in usable}, truth
            )
            log.info(
                "cluster: planted modes recovered over %d images: accuracy %s, NMI %s, ARI %s",
                rec["images"],
                rec["accuracy"],
                rec["nmi"],
                rec["ari"],
            )
    report["seconds"] = round(time.time() - t0, 3)
    report_path = ctx.stage_dir / ("report_standin.json" if standin else "report.json")
    write_json(report_path, report)
    out["report"] = ctx.relative(report_path)
    log.info(
        "cluster: %d centres (%d Lloyd iterations, converged=%s) in %.1f s",
        k,
        km.iterations,
        km.converged,
        report["seconds"],
    )
    return out
