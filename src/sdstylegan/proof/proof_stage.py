"""The `proof` stage: SDIP's two claims measured on the demo's planted ground truth, in one report.

Inputs (earlier stages of the same run): the manifest before `self_filter` (every scored image), the
demo's `ground_truth`, `self_filter`'s and `cluster`'s reports, `train_raw`'s G and E, `cluster`'s
centres, and the generators of `train` (kept set), `train_random` and `train_all` (whichever ran).

1. Outlier detection by the self-filter beside its baselines (copied from the self_filter report).
2. Mode recovery of the real images' clusters (copied from the cluster report).
3. A mode classifier trained on the planted inliers (`proof.mode_classifier`, held-out accuracy reported)
   labels `proof.num_samples` samples of the final generator untruncated, truncated toward w_avg and
   multi-modally truncated at each ψ in `proof.psis` (`proof.coverage`), with a FID of each set.
4. FID of each final generator (kept / random subset / all) against all images and against the planted
   inliers (the clean distribution the filter aims for).
5. `claims`: the thresholds of the method proof, each with the figure it was judged on.

Outputs in `<run_dir>/proof/`: `report.json` (`report_standin.json` when LPIPS or the FID extractor is a
stand-in), `method_proof.md` (the tables), `recon_by_kind.png`, `scores_by_kind.png`, `truncation_psi*.png`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from sdstylegan.data.datamodule import ManifestImageDataset, uint8_to_float
from sdstylegan.data.demo import MODES
from sdstylegan.distill.reconstruction import reconstruct
from sdstylegan.distill.records import load_ground_truth
from sdstylegan.distill.truncation import render
from sdstylegan.metrics.features import stats_from_features
from sdstylegan.metrics.frechet import frechet_distance, regularisation_for
from sdstylegan.metrics.images import to_uint8
from sdstylegan.pipeline.context import StageContext
from sdstylegan.proof.claims import judge_claims
from sdstylegan.proof.coverage import coverage_table, mode_shares
from sdstylegan.proof.markdown import proof_markdown
from sdstylegan.proof.mode_classifier import train_mode_classifier
from sdstylegan.proof.pictures import histograms_by_group, labelled_pairs, side_by_side
from sdstylegan.utils.io import atomic_open, write_json
from sdstylegan.utils.logging import get_logger
from sdstylegan.utils.pictures import save_png
from sdstylegan.utils.seeding import derive_seed
from sdstylegan.utils.weights import STANDIN_SUFFIX

log = get_logger(__name__)

GENERATORS = {
    "train": "kept set (self-filtered)",
    "train_random": "random subset, same size",
    "train_all": "all images",
}


def needs(cfg: DictConfig) -> list[str]:
    """Networks `proof` builds (pipeline preflight): LPIPS (multi-modal truncation) and the FID extractor."""
    return ["metrics.lpips", "metrics.inception"]


def _read_report(ctx: StageContext, stage: str) -> dict[str, Any]:
    with open(ctx.path(ctx.latest("report", stage)), encoding="utf-8") as f:
        return json.load(f)


def _pick(report: dict[str, Any], key: str) -> Any:
    """`key` or `key_standin` from a stage report (None when absent)."""
    return report.get(key, report.get(key + STANDIN_SUFFIX))


class FidReference:
    """Features of the real images (all, planted inliers) once; FID of any generated set against both."""

    def __init__(self, extractor: Any, images: torch.Tensor, inlier: torch.Tensor, eps: float, batch: int):
        self.extractor, self.eps, self.batch = extractor, eps, batch
        feats = self.features(images)
        self.stats = {
            "all": stats_from_features(feats.double()),
            "inliers": stats_from_features(feats[inlier].double()),
        }

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.extractor(to_uint8(x)).float().cpu() for x in images.split(self.batch)])

    def __call__(self, images: torch.Tensor) -> dict[str, float]:
        st = stats_from_features(self.features(images).double())
        out = {}
        for name, ref in self.stats.items():
            reg = regularisation_for(st.count, ref.count, ref.dim, self.eps, f"FID(samples, {name})")
            out[name] = frechet_distance(st.mu, st.sigma, ref.mu, ref.sigma, eps=reg)
        return out


def _reconstruction_picture(
    ctx: StageContext,
    ds: ManifestImageDataset,
    scores: dict[str, float],
    truth: dict[str, Any],
    count: int,
    device: torch.device,
) -> Any:
    """Worst then best reconstructions by filter_score, captioned with the planted kind and the score."""
    from sdstylegan.training.checkpoint import load_generator, load_network

    ckpt = ctx.path(ctx.latest("checkpoint", "train_raw"))
    G = load_generator(ckpt, map_location=device).eval()
    E = load_network(ckpt, which="E", map_location=device).eval()
    order = sorted(
        (i for i, r in enumerate(ds.records) if r.id in scores), key=lambda i: -scores[ds.records[i].id]
    )
    picks = order[:count] + order[-count:]
    x = uint8_to_float(torch.stack([ds[i] for i in picks])).to(device)
    with torch.no_grad():
        y = reconstruct(G, E, x).cpu()
    rows = []
    for j, i in enumerate(picks):
        t = truth.get(ds.records[i].id, {})
        kind = t.get("outlier_kind") or f"inlier:{t.get('mode_name')}"
        rows.append(
            (x[j].cpu(), y[j], f"{'worst' if j < count else 'best'} {kind} {scores[ds.records[i].id]:.3f}")
        )
    return labelled_pairs(rows)


def run_proof(ctx: StageContext) -> dict[str, Any]:
    """Stage `proof` (registry `ranks: zero`: rank 0 runs it under DDP): see the module docstring."""
    from sdstylegan.training.checkpoint import load_generator

    t0 = time.time()
    cfg, pcfg = ctx.cfg, ctx.cfg.proof
    truth = load_ground_truth(ctx)
    if truth is None:
        raise ValueError(
            "stage proof needs planted ground truth: run it with dataset=demo (experiment=demo_proof)"
        )
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    seed, res, batch = int(cfg.seed), int(cfg.dataset.resolution), int(pcfg.batch_size)
    scored_manifest = ctx.path(ctx.latest("manifest", "demo_data", "crop"))  # what self_filter scored
    ds = ManifestImageDataset(scored_manifest, res)
    images = torch.stack([ds[i] for i in range(len(ds))])
    rows = [truth.get(r.id, {}) for r in ds.records]
    inlier = torch.tensor([bool(t) and not t.get("outlier") and t.get("mode") is not None for t in rows])
    labels = torch.tensor([int(t["mode"]) if m else -1 for t, m in zip(rows, inlier.tolist())])

    extractor = instantiate(cfg.metrics.inception).to(device)
    lpips = instantiate(cfg.metrics.lpips).to(device)
    standin = bool(getattr(lpips, "is_standin", False) or getattr(extractor, "is_standin", False))
    sfx = STANDIN_SUFFIX if standin else ""
    fid_to = FidReference(
        extractor, images.to(device), inlier.to(device), float(cfg.metrics.frechet_eps), batch
    )

    ccfg = pcfg.classifier
    clf = train_mode_classifier(
        images[inlier],
        labels[inlier],
        list(MODES),
        derive_seed(seed, "proof", "classifier"),
        holdout=float(ccfg.holdout),
        epochs=int(ccfg.epochs),
        batch=int(ccfg.batch),
        lr=float(ccfg.lr),
    )
    clf.net.to(device)
    log.info(
        "proof: mode classifier held-out accuracy %.3f on %d images", clf.holdout_accuracy, clf.holdout_images
    )
    classify = clf.predict
    num, min_share = int(pcfg.num_samples), float(pcfg.min_share)

    generators: dict[str, Any] = {}
    loaded: dict[str, Any] = {}
    sample_seed = derive_seed(seed, "proof", "samples")
    for stage, what in GENERATORS.items():
        key = "checkpoint" if stage == "train" else "subset_checkpoint"
        if stage not in ctx.inputs:
            continue
        G = loaded[stage] = load_generator(ctx.path(ctx.latest(key, stage)), map_location=device).eval()
        z = torch.randn(num, G.z_dim, generator=torch.Generator().manual_seed(sample_seed)).to(device)
        with torch.no_grad():
            x = render(G, torch.cat([G.mapping(zb) for zb in z.split(batch)]), batch)
        generators[stage] = {
            "trained_on": what,
            "images": ctx.inputs[stage].get("images", ctx.inputs.get("self_filter", {}).get("kept")),
            "kimg": ctx.inputs[stage].get("kimg"),
            f"fid{sfx}": fid_to(x),
            "modes": mode_shares(classify(x), len(MODES), min_share),
        }

    G = (
        loaded.get("train")
        or load_generator(ctx.path(ctx.latest("checkpoint", "train")), map_location=device).eval()
    )
    centres = torch.load(ctx.path(ctx.latest("centres", "cluster")), map_location="cpu", weights_only=True)[
        "centres"
    ]
    ccl = cfg.clustering
    coverage, sets = coverage_table(
        G,
        classify,
        fid_to,
        [float(p) for p in pcfg.psis],
        num,
        derive_seed(seed, "proof", "coverage"),
        centres,
        lpips,
        len(MODES),
        str(ccl.distance),
        batch,
        ccl.get("lpips_resolution"),
        min_share,
    )

    filter_report, cluster_report = _read_report(ctx, "self_filter"), _read_report(ctx, "cluster")
    real_shares = mode_shares(labels[inlier], len(MODES), min_share)
    report: dict[str, Any] = {
        "standin": standin,
        "lpips": f"lpips_{lpips.net_name}{STANDIN_SUFFIX if lpips.is_standin else ''}",
        "fid_extractor": extractor.label,
        "modes": list(MODES),
        "real_inlier_modes": real_shares,
        "self_filter": {
            "theta": filter_report.get("theta"),
            "kept": filter_report.get("kept"),
            "total": filter_report.get("total"),
            "detection": _pick(filter_report, "ground_truth_detection"),
        },
        "cluster": {
            "num_clusters": cluster_report.get("num_clusters"),
            "mode_recovery": _pick(cluster_report, "ground_truth_mode_recovery"),
            "agreement": _pick(cluster_report, "ground_truth_modes"),
        },
        "mode_classifier": clf.summary(),
        f"generators{sfx}": generators,
        f"coverage{sfx}": coverage,
        "num_samples": num,
        "min_share": min_share,
    }
    report["claims"] = judge_claims(report, sfx)

    scored_records = _scored_records(ctx)
    scores = {r.id: float(r.filter_score) for r in scored_records}
    report["self_filter"]["removed_share_by_mode"] = _removed_by_mode(scored_records, truth)
    save_png(
        _reconstruction_picture(ctx, ds, scores, truth, int(pcfg.grid_size) // 2, device),
        ctx.stage_dir / "recon_by_kind.png",
    )
    groups: dict[str, list[float]] = {}
    for r, t in zip(ds.records, rows):
        if r.id in scores:
            groups.setdefault(t.get("outlier_kind") or "inlier", []).append(scores[r.id])
    groups = {k: groups[k] for k in sorted(groups, key=lambda k: (k != "inlier", k))}
    save_png(histograms_by_group(groups, filter_report.get("theta")), ctx.stage_dir / "scores_by_kind.png")
    for psi, s in sets.items():
        panels = {
            "untruncated": s["untruncated"][:16],
            f"global psi={psi:g}": s["global"][:16],
            f"multi-modal psi={psi:g}": s["multimodal"][:16],
        }
        save_png(side_by_side(panels), ctx.stage_dir / f"truncation_psi{psi:g}.png")
    report["seconds"] = round(time.time() - t0, 3)
    report_path = ctx.stage_dir / ("report_standin.json" if standin else "report.json")
    write_json(report_path, report)
    with atomic_open(ctx.stage_dir / "method_proof.md", "w", encoding="utf-8") as f:
        f.write(proof_markdown(report, sfx))
    for name, c in report["claims"].items():
        log.info("proof: %s: %s (%s)", name, "holds" if c["holds"] else "DOES NOT HOLD", c["figure"])
    return {
        "report": ctx.relative(report_path),
        "markdown": ctx.relative(ctx.stage_dir / "method_proof.md"),
        "standin": standin,
    }


def _scored_records(ctx: StageContext) -> list[Any]:
    from sdstylegan.data.manifest import read_manifest

    return [
        r
        for r in read_manifest(ctx.path(ctx.latest("manifest", "self_filter")))
        if r.filter_score is not None
    ]


def _removed_by_mode(records: list[Any], truth: dict[str, Any]) -> dict[str, float]:
    """Share of each planted mode's inliers that the self-filter removed (a filter may thin out a whole mode)."""
    total: dict[str, int] = {}
    removed: dict[str, int] = {}
    for r in records:
        t = truth.get(r.id)
        if t and not t.get("outlier") and t.get("mode_name"):
            total[t["mode_name"]] = total.get(t["mode_name"], 0) + 1
            removed[t["mode_name"]] = removed.get(t["mode_name"], 0) + (r.kept is False)
    return {m: removed[m] / total[m] for m in MODES if total.get(m)}
