"""The `self_filter` pipeline stage (SDIP self-filtering, Mokady et al. 2022, Sec. 3).

Inputs: `checkpoint` of `train_raw` (G_ema and the encoder E, rebuilt by `training.checkpoint.load_network`
without pickled classes) and the current `manifest`. Every usable image x is scored d(x) = LPIPS(x, G(E(x)))
(`metrics.lpips`; `pretrained=false` = random stand-in, labelled `_standin`), θ is searched
(`distill.threshold.search_threshold`, config `filtering`), and a new manifest keeps every field and adds
`filter_score` and `kept` (records that were not usable pass through unchanged).

Outputs in `<run_dir>/self_filter/`: `manifest.jsonl`; `report.json` (`report_standin.json` when LPIPS or
the FID extractor is a stand-in) with θ, the search path and its FIDs, counts and — with demo ground truth —
precision/recall of outlier removal and `ground_truth_detection`: AUROC/AP (overall and per outlier kind) and
removed-set precision/recall of `filter_score` beside random removal of the same size, distance to the mean
FID feature and the train_raw discriminator's realness (`distill.ground_truth`, `distill.baselines`);
`scores.png` (histogram, θ marked); `recon_worst.png` and `recon_best.png` (x | G(E(x)) pairs). Everything is rewritten atomically, so a killed attempt is redone.
Returns {"manifest", "theta", "kept", "total", "report"}.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sdstylegan.data.manifest import read_manifest
from sdstylegan.distill.baselines import discriminator_outlier_scores, feature_mean_distance
from sdstylegan.distill.ground_truth import outlier_detection_report
from sdstylegan.distill.pictures import pair_grid, score_histogram
from sdstylegan.distill.reconstruction import ScoredSet, score_images
from sdstylegan.distill.records import load_ground_truth, outlier_removal, write_rebased
from sdstylegan.distill.threshold import ThresholdResult, kept_floor, search_threshold
from sdstylegan.metrics.evaluate_stage import real_loader
from sdstylegan.metrics.features import stats_from_features
from sdstylegan.metrics.frechet import frechet_distance, regularisation_for
from sdstylegan.pipeline.context import StageContext
from sdstylegan.utils.io import write_json
from sdstylegan.utils.logging import get_logger
from sdstylegan.utils.pictures import save_png
from sdstylegan.utils.seeding import derive_seed
from sdstylegan.utils.weights import STANDIN_SUFFIX

log = get_logger(__name__)


def fid_functions(real: torch.Tensor, recon: torch.Tensor, eps: float = 1e-6) -> tuple[float, Any]:
    """FID(G(E(all)), all) and a function mask → FID(all[mask], all), from per-image feature rows."""
    all_stats = stats_from_features(real.double())

    def fid(features: torch.Tensor, what: str) -> float:
        st = stats_from_features(features.double())
        reg = regularisation_for(st.count, all_stats.count, all_stats.dim, eps, what)
        return frechet_distance(st.mu, st.sigma, all_stats.mu, all_stats.sigma, eps=reg)

    return fid(recon, "FID(G(E(all)), all)"), lambda mask: fid(real[mask], "FID(kept, all)")


def choose_threshold(scored: ScoredSet, fcfg: Any, eps: float = 1e-6) -> ThresholdResult:
    """θ for the scored set under the `filtering` config (floor, steps, FID condition)."""
    n = scored.scores.numel()
    floor = kept_floor(n, fcfg.get("min_kept"), fcfg.get("min_kept_fraction"))
    fid_recon, fid_of_kept = fid_functions(scored.real_features, scored.recon_features, eps)
    return search_threshold(
        scored.scores,
        fid_of_kept,
        fid_recon,
        theta=fcfg.get("theta"),
        theta_step=fcfg.get("theta_step"),
        step_fraction=float(fcfg.get("step_fraction", 0.02)),
        floor=floor,
        max_steps=int(fcfg.get("max_steps", 1000)),
    )


def detection_with_baselines(
    ctx: StageContext,
    ckpt: Any,
    manifest_path: Any,
    ids: list[str],
    scored: ScoredSet,
    removed: torch.Tensor,
    truth: dict[str, dict[str, Any]],
    lpips: Any,
    extractor: Any,
    device: torch.device,
) -> dict[str, Any]:
    """Ground-truth outlier detection of `filter_score` and the baselines on the same images (same order)."""
    from sdstylegan.training.checkpoint import load_network

    D = load_network(ckpt, which="D", map_location=device)
    loader = real_loader(manifest_path, int(D.img_resolution), int(ctx.cfg.filtering.batch_size))
    d_scores = discriminator_outlier_scores(D, loader, device)
    if d_scores.numel() != len(ids):
        raise RuntimeError(f"self_filter: D scored {d_scores.numel()} images but {len(ids)} were scored")
    methods = {
        f"filter_score{STANDIN_SUFFIX if lpips.is_standin else ''}": scored.scores.numpy(),
        f"feature_mean_distance{STANDIN_SUFFIX if getattr(extractor, 'is_standin', False) else ''}": feature_mean_distance(
            scored.real_features
        ).numpy(),
        "discriminator_realness": d_scores.numpy(),
    }
    seed = derive_seed(int(ctx.cfg.seed), "self_filter", "random_baseline")
    report = outlier_detection_report(ids, truth, methods, removed.numpy(), seed)
    report["feature_space"] = extractor.label
    report["discriminator_resolution"] = int(D.img_resolution)
    return report


def needs(cfg: DictConfig) -> list[str]:
    """Networks `self_filter` builds (pipeline preflight): LPIPS and the FID feature extractor."""
    return ["metrics.lpips", f"metrics.{cfg.filtering.get('fid_space', 'inception')}"]


def run_self_filter(ctx: StageContext) -> dict[str, Any]:
    """Stage `self_filter` (registry `ranks: zero`: rank 0 runs it under DDP): see the module docstring."""
    from sdstylegan.training.checkpoint import load_generator, load_network

    t0 = time.time()
    cfg, fcfg = ctx.cfg, ctx.cfg.filtering
    ckpt = ctx.path(ctx.latest("checkpoint", "train_raw"))
    manifest_path = ctx.path(ctx.latest("manifest"))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    G = load_generator(ckpt, which="G_ema", map_location=device)
    E = load_network(ckpt, which="E", map_location=device)
    lpips = instantiate(cfg.metrics.lpips)
    space = str(fcfg.get("fid_space", "inception"))
    extractor = instantiate(cfg.metrics[space])
    records = read_manifest(manifest_path)
    usable = [r for r in records if r.usable]
    log.info("self_filter: scoring %d images with G_ema/E of %s on %s", len(usable), ckpt, device)
    loader = real_loader(manifest_path, int(cfg.dataset.resolution), int(fcfg.batch_size))
    scored = score_images(G, E, lpips, extractor, loader, device, keep_extremes=int(fcfg.grid_size))
    if scored.scores.numel() != len(usable):
        raise RuntimeError(
            f"self_filter: scored {scored.scores.numel()} images but the manifest has {len(usable)} usable"
        )
    t_scored = time.time()
    result = choose_threshold(scored, fcfg, float(cfg.metrics.frechet_eps))

    # New manifest: every field kept, filter_score and kept added to the scored records.
    for r, s, k in zip(usable, scored.scores.tolist(), result.kept_mask.tolist()):
        r.filter_score, r.kept = float(s), bool(k)
    out_manifest = ctx.stage_dir / "manifest.jsonl"
    write_rebased(records, manifest_path.parent, out_manifest)

    standin = bool(getattr(lpips, "is_standin", False) or getattr(extractor, "is_standin", False))
    sfx = STANDIN_SUFFIX if standin else ""
    kept = int(result.kept_mask.sum())
    report: dict[str, Any] = {
        **result.report(),
        "score": f"lpips_{lpips.net_name}{STANDIN_SUFFIX if lpips.is_standin else ''}",
        "fid_extractor": extractor.label,
        "standin": standin,
        "scores": {
            "min": float(scored.scores.min()),
            "median": float(scored.scores.median()),
            "max": float(scored.scores.max()),
        },
        "checkpoint": ctx.relative(ckpt),
        "manifest_in": ctx.relative(manifest_path),
        "filtering_config": OmegaConf.to_container(fcfg, resolve=True),
    }
    report[f"fid_recon_all{sfx}"] = report.pop("fid_recon_all")
    truth = load_ground_truth(ctx)
    if truth is not None:
        report[f"ground_truth_outliers{sfx}"] = outlier_removal({r.id: bool(r.kept) for r in usable}, truth)
        gt = report[f"ground_truth_outliers{sfx}"]
        log.info(
            "self_filter: planted outliers removed: precision %s, recall %s%s",
            gt["precision"],
            gt["recall"],
            "  (STAND-IN LPIPS/FID: not a real result)" if standin else "",
        )
        report[f"ground_truth_detection{sfx}"] = det = detection_with_baselines(
            ctx,
            ckpt,
            manifest_path,
            [r.id for r in usable],
            scored,
            ~result.kept_mask.cpu(),
            truth,
            lpips,
            extractor,
            device,
        )
        log.info(
            "self_filter: outlier AUROC %s (random removal: 0.5 expected)",
            ", ".join(f"{k} {v['auroc']}" for k, v in det["methods"].items() if k != "random"),
        )
    report["seconds"] = round(time.time() - t0, 3)
    report["seconds_scoring"] = round(
        t_scored - t0, 3
    )  # load + G(E(x)) + LPIPS + features; the rest is the search
    report_path = ctx.stage_dir / ("report_standin.json" if standin else "report.json")
    write_json(report_path, report)
    save_png(
        score_histogram(scored.scores, result.theta, bins=int(fcfg.histogram_bins)),
        ctx.stage_dir / "scores.png",
    )
    for name, items in (("recon_worst", scored.worst), ("recon_best", scored.best)):
        if items:
            save_png(pair_grid([(x, y) for _, _, x, y in items]), ctx.stage_dir / f"{name}.png")
    log.info(
        "self_filter: θ = %.4g keeps %d of %d images (floor %d, %d search steps)%s",
        result.theta,
        kept,
        len(usable),
        result.floor,
        len(result.path),
        " — STAND-IN scores" if standin else "",
    )
    return {
        "manifest": ctx.relative(out_manifest),
        "theta": result.theta,
        "kept": kept,
        "total": len(usable),
        "report": ctx.relative(report_path),
        "standin": standin,
    }
