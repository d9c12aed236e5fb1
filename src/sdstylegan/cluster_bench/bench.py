"""The benchmark itself: every encoder's features (cached) × every algorithm → scores, tables, pictures.

Fair by construction: every encoder sees the same images (same order, same benchmark resolution), its
features get the same preparation (`algorithms.prepare`), and every algorithm runs with the same k on every
encoder. k = `num_clusters`, else the number of classes, else the median of the encoders' choices on their
k curves (`scores.choose_k`). Encoders that cannot be built (no checkpoint for E/D, weights missing) are
skipped with the reason in the report (`on_unavailable: skip`) or stop the run (`error`).

Writes into `out_dir`: `cluster_bench.md`/`.csv`, `report.json` (`report_standin.json` when any encoder is a
stand-in; its encoder names carry `_standin`), `grids/<encoder>-<algorithm>.png`, `embedding/<encoder>.png`,
`assignments.npz` and, per encoder × algorithm, `assignments/<encoder>__<algorithm>.csv` with their
`index.json` (`cluster_bench.assignments`: what the `train` stage reads for `dataset.cluster_subset`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sdstylegan.cluster_bench.algorithms import cluster, prepare
from sdstylegan.cluster_bench.assignments import write_assignments
from sdstylegan.cluster_bench.cache import FeatureCache
from sdstylegan.cluster_bench.extract import extract
from sdstylegan.cluster_bench.images import ImageSet
from sdstylegan.cluster_bench.pictures import cluster_grid, embedding_plot
from sdstylegan.cluster_bench.scores import choose_k, k_curve, labelled_scores, silhouette
from sdstylegan.cluster_bench.table import write_tables
from sdstylegan.utils.io import write_json
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)


def _root_cause(e: BaseException) -> BaseException:
    while e.__cause__ is not None and type(e).__name__ == "InstantiationException":
        e = e.__cause__
    return e


def build_encoders(bcfg: DictConfig, checkpoint: str | Path | None) -> tuple[dict[str, Any], dict[str, str]]:
    """The encoders of `use_encoders` (name → module) and the skipped ones (name → reason)."""
    built, skipped = {}, {}
    for name in bcfg.use_encoders:
        if name not in bcfg.encoders:
            raise ValueError(
                f"cluster_bench.use_encoders names {name!r}, which cluster_bench.encoders does not define"
            )
        node = bcfg.encoders[name]
        extra = {}
        if str(node.get("_target_", "")).endswith("RunNetworkEncoder") and node.get("checkpoint") is None:
            extra["checkpoint"] = str(checkpoint) if checkpoint is not None else None
        try:
            built[name] = instantiate(node, **extra)
        except Exception as e:  # noqa: BLE001 — reported per encoder, or re-raised with on_unavailable=error
            cause = _root_cause(e)
            if str(bcfg.on_unavailable) == "error":
                raise
            skipped[name] = f"{type(cause).__name__}: {cause}"
            log.warning("cluster_bench: encoder %s skipped (%s)", name, skipped[name])
    return built, skipped


def common_k(bcfg: DictConfig, images: ImageSet, suggestions: dict[str, int | None]) -> tuple[int, str]:
    """The one k every encoder and algorithm uses, and why."""
    if bcfg.get("num_clusters"):
        return int(bcfg.num_clusters), "cluster_bench.num_clusters"
    if images.labelled:
        return images.num_classes, "number of classes"
    ks = [k for k in suggestions.values() if k is not None]
    if not ks:
        raise ValueError(
            "cluster_bench: no labels, no num_clusters and no k curve to choose k from; "
            "set cluster_bench.num_clusters or cluster_bench.k_range"
        )
    return int(np.median(ks)), f"median of the encoders' {bcfg.k_choice} choices"


def run_benchmark(
    bcfg: DictConfig,
    images: ImageSet,
    out_dir: str | Path,
    cache_dir: str | Path | None,
    checkpoint: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the benchmark described by the `cluster_bench` config node; returns the report."""
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    seed = int(bcfg.seed)
    images = images.subset(bcfg.get("max_images"))
    if len(images) < 3:
        raise ValueError(f"cluster_bench: need at least 3 images, got {len(images)}")
    for a in bcfg.use_algorithms:
        if a not in bcfg.algorithms:
            raise ValueError(
                f"cluster_bench.use_algorithms names {a!r}, which cluster_bench.algorithms does not define"
            )
    cache = FeatureCache(cache_dir) if bcfg.cache and cache_dir else None
    encoders, skipped = build_encoders(bcfg, checkpoint)
    if not encoders:
        raise RuntimeError(f"cluster_bench: no encoder could be built: {skipped}")

    prepared, info = {}, {}
    for name, enc in encoders.items():
        ext = extract(
            enc,
            images,
            int(bcfg.resolution),
            cache,
            int(bcfg.batch_size),
            int(bcfg.num_workers),
            device,
            progress,
        )
        x = prepare(ext.features, bool(bcfg.preprocess.l2_normalize), bcfg.preprocess.get("pca"), seed)
        label = enc.label
        prepared[label] = x
        info[label] = {
            "config_name": name,
            "identity": enc.identity,
            "standin": bool(enc.is_standin),
            "features": int(ext.features.shape[1]),
            "prepared_features": int(x.shape[1]),
            "cached": ext.cached,
            "feature_seconds": round(ext.seconds, 3),
            "images_per_second": None if ext.images_per_second is None else round(ext.images_per_second, 2),
        }
        del enc
    suggestions = {}
    if bcfg.k_curve or not (bcfg.get("num_clusters") or images.labelled):
        lo, hi = (int(v) for v in bcfg.k_range)
        for label, x in prepared.items():
            curve = k_curve(x, range(lo, hi + 1), seed, bcfg.silhouette_sample)
            suggestions[label] = choose_k(curve, str(bcfg.k_choice))
            info[label].update({"k_curve": curve, "suggested_k": suggestions[label]})
    k, k_rule = common_k(bcfg, images, suggestions)
    log.info(
        "cluster_bench: %d images, %d encoders × %d algorithms, k = %d (%s)",
        len(images),
        len(prepared),
        len(bcfg.use_algorithms),
        k,
        k_rule,
    )

    rows = []
    for label, x in prepared.items():
        for alg in bcfg.use_algorithms:
            t0 = time.perf_counter()
            pred = cluster(alg, x, k, seed, OmegaConf.to_container(bcfg.algorithms[alg], resolve=True))
            row: dict[str, Any] = {
                "encoder": label,
                "algorithm": alg,
                "k": k,
                "cluster_seconds": round(time.perf_counter() - t0, 3),
            }
            if images.labelled:
                sc = labelled_scores(images.labels, pred)
                row.update(
                    {"images": sc["images"], "accuracy": sc["accuracy"], "nmi": sc["nmi"], "ari": sc["ari"]}
                )
            else:
                row["images"] = len(images)
            row["silhouette"] = silhouette(x, pred, bcfg.silhouette_sample, seed)
            row["clusters_used"] = int(np.unique(pred).size)
            row["_pred"] = pred
            rows.append(row)
            log.info(
                "cluster_bench: %s × %s: %s",
                label,
                alg,
                ", ".join(
                    f"{c} {row[c]:.3f}"
                    for c in ("accuracy", "nmi", "ari", "silhouette")
                    if row.get(c) is not None
                ),
            )
    pictures = _pictures(bcfg, images, prepared, rows, out_dir)
    standin = any(v["standin"] for v in info.values())
    notes = [
        f"Images: {len(images)} from {images.source}; labels: {images.label_source or 'none'}; "
        f"k = {k} ({k_rule}); features: L2 = {bool(bcfg.preprocess.l2_normalize)}, "
        f"PCA {bcfg.preprocess.get('pca')}. Bold: best per column."
    ]
    if standin:
        notes.append(
            "Encoders named `*_standin` have RANDOM weights: their numbers say nothing about those encoders."
        )
    if skipped:
        notes.append("Skipped: " + "; ".join(f"{n} ({r})" for n, r in skipped.items()))
    write_tables([{k_: v for k_, v in r.items() if k_ != "_pred"} for r in rows], out_dir, notes=notes)
    report = {
        "images": len(images),
        "source": images.source,
        "labels": images.label_source,
        "classes": images.class_names,
        "labelled_images": int((images.labels >= 0).sum()),
        "k": k,
        "k_rule": k_rule,
        "seed": seed,
        "device": str(device),
        "encoders": info,
        "skipped": skipped,
        "rows": [{k_: v for k_, v in r.items() if k_ != "_pred"} for r in rows],
        "pictures": pictures,
        "standin": standin,
        "seconds": round(time.perf_counter() - t_start, 3),
        "config": OmegaConf.to_container(bcfg, resolve=True),
    }
    report_path = out_dir / ("report_standin.json" if standin else "report.json")
    write_json(report_path, report)
    report["report_file"] = str(report_path)
    np.savez_compressed(
        out_dir / "assignments.npz",
        keys=np.asarray(images.keys),
        **{f"{r['encoder']}__{r['algorithm']}": r["_pred"] for r in rows},
    )
    report["assignments_index"] = str(
        write_assignments(
            out_dir / "assignments",
            images.keys,
            rows,
            {label: v["config_name"] for label, v in info.items()},
            skipped,
        )
    )
    return report


def _pictures(
    bcfg: DictConfig,
    images: ImageSet,
    prepared: dict[str, np.ndarray],
    rows: list[dict[str, Any]],
    out_dir: Path,
) -> list[str]:
    mode = str(bcfg.pictures)
    if mode == "none":
        return []
    if mode not in ("best", "all"):
        raise ValueError(f"cluster_bench.pictures must be best, all or none, got {mode!r}")
    metric = "accuracy" if images.labelled else "silhouette"
    out = []
    for label, x in prepared.items():
        mine = [r for r in rows if r["encoder"] == label]
        if mode == "best":
            mine = [max(mine, key=lambda r: -np.inf if r.get(metric) is None else r[metric])]
        for r in mine:
            p = cluster_grid(
                images,
                r["_pred"],
                out_dir / "grids" / f"{label}-{r['algorithm']}.png",
                int(bcfg.grid.per_cluster),
                int(bcfg.grid.size),
            )
            out.append(str(p.relative_to(out_dir)))
        best = mine[0]
        p = embedding_plot(x, best["_pred"], images.labels, out_dir / "embedding" / f"{label}.png")
        out.append(str(p.relative_to(out_dir)))
    return out
