"""The `cluster_bench` pipeline stage: the clustering benchmark over a run's images (see `cluster_bench.bench`).

Inputs: the manifest of `cluster_bench.manifest_stage` (default `crop`: every cropped image, before the
self-filter) or else the latest manifest, or `cluster_bench.images` (a folder); labels from the demo's
`ground_truth` (`labels: auto`) or a CSV/JSONL path; E and D from `cluster_bench.checkpoint`, else the run's
`train_raw` checkpoint (the one trained with E), else `train`'s. Needs the config group:
`+cluster_bench=default` (or `standin`) on the command line, or `cluster_bench: default` in the defaults.
Outputs in `<run_dir>/cluster_bench/`, returned as {"table", "csv", "report", "assignments", "k"};
`assignments` (the index of the per-image cluster files) is what `train` reads for `dataset.cluster_subset`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from sdstylegan.cluster_bench.images import ImageSet, from_folder, from_manifest
from sdstylegan.pipeline.context import MissingInputError, StageContext
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)

PRETRAINED = ("DinoViTEncoder", "TimmEncoder", "InceptionEncoder")


def group(cfg: DictConfig) -> DictConfig:
    bcfg = cfg.get("cluster_bench")
    if bcfg is None:
        raise ValueError(
            "stage cluster_bench needs its config group: add +cluster_bench=default "
            "(or +cluster_bench=standin) to the command line"
        )
    return bcfg


def needs(cfg: DictConfig) -> list[str]:
    """Config keys of the pretrained encoders the stage builds (pipeline preflight); E/D come from the run."""
    bcfg = group(cfg)
    return [
        f"cluster_bench.encoders.{n}"
        for n in bcfg.use_encoders
        if n in bcfg.encoders and str(bcfg.encoders[n].get("_target_", "")).endswith(PRETRAINED)
    ]


def _optional(ctx: StageContext, key: str, *stages: str) -> Any:
    try:
        return ctx.latest(key, *stages)
    except MissingInputError:
        return None


def stage_images(ctx: StageContext, bcfg: DictConfig) -> ImageSet:
    """The image set of the run (or of `cluster_bench.images`) with its labels."""
    labels = bcfg.labels
    if labels in (None, "none"):
        labels = None
    if bcfg.get("images"):
        return from_folder(Path(str(bcfg.images)).expanduser(), labels)
    manifest = _optional(ctx, "manifest", str(bcfg.manifest_stage)) if bcfg.get("manifest_stage") else None
    manifest = manifest or ctx.latest("manifest")
    if labels == "auto":
        gt = _optional(ctx, "ground_truth")
        labels = ctx.path(gt) if gt else None
    elif labels is not None:
        labels = Path(str(labels)).expanduser()
    return from_manifest(ctx.path(manifest), labels)


def stage_checkpoint(ctx: StageContext, bcfg: DictConfig) -> Path | None:
    if bcfg.get("checkpoint"):
        return Path(str(bcfg.checkpoint)).expanduser()
    for stage in ("train_raw", "train"):
        ckpt = _optional(ctx, "checkpoint", stage)
        if ckpt:
            return ctx.path(ckpt)
    return None


def run_cluster_bench(ctx: StageContext) -> dict[str, Any]:
    """Stage `cluster_bench`: see the module docstring."""
    from sdstylegan.cluster_bench.bench import run_benchmark

    bcfg = group(ctx.cfg)
    images = stage_images(ctx, bcfg)
    cache_dir = (
        Path(str(bcfg.cache_dir)).expanduser()
        if bcfg.get("cache_dir")
        else Path(str(ctx.cfg.paths.cache_dir)) / "cluster_bench"
    )
    report = run_benchmark(bcfg, images, ctx.stage_dir, cache_dir, stage_checkpoint(ctx, bcfg))
    return {
        "table": ctx.relative(ctx.stage_dir / "cluster_bench.md"),
        "csv": ctx.relative(ctx.stage_dir / "cluster_bench.csv"),
        "report": ctx.relative(report["report_file"]),
        "assignments": ctx.relative(report["assignments_index"]),
        "k": report["k"],
    }
