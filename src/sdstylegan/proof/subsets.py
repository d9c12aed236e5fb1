"""Stages `train_random` and `train_all`: the final generator's training on the sets SDIP compares against.

SDIP Table 1 / Table 3 in miniature: the `train` stage trains on the self-filter's kept set; these stages
train with the same config on (a) a uniformly random subset of the same size (seeded) and (b) every image
the self-filter scored. Input: `self_filter`'s manifest (its `kept` flags give the size). Output in the
stage folder: `manifest.jsonl` (the subset as `kept`), the usual training outputs. The stage returns the
checkpoint under `subset_checkpoint` (not `checkpoint`), so later stages (`cluster`, `evaluate`) keep
reading the `train` stage's generator, and the subset under `subset_manifest` (not `manifest`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sdstylegan.data.manifest import OK, ManifestRecord, read_manifest
from sdstylegan.distill.records import write_rebased
from sdstylegan.pipeline.context import StageContext
from sdstylegan.utils.logging import get_logger
from sdstylegan.utils.seeding import derive_seed

log = get_logger(__name__)

SUBSETS = ("random", "all")


def subset_records(records: list[ManifestRecord], subset: str, seed: int) -> tuple[list[ManifestRecord], int]:
    """Records with `kept` set for `subset`: `random` keeps as many scored images as the filter kept, drawn
    uniformly (seeded); `all` keeps every scored image. Returns the records and the kept count."""
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {list(SUBSETS)}, got {subset!r}")
    scored = [i for i, r in enumerate(records) if r.status == OK and r.kept is not None]
    if not scored:
        raise ValueError("no record carries a self-filter decision (`kept`); run self_filter first")
    target = sum(1 for i in scored if records[i].kept) if subset == "random" else len(scored)
    chosen = set(np.random.default_rng(seed).choice(scored, size=target, replace=False).tolist())
    out = []
    for i, r in enumerate(records):
        if i in scored:
            r = ManifestRecord.from_dict({**r.to_dict(), "kept": i in chosen})
        out.append(r)
    return out, target


def train_subset(ctx: StageContext, subset: str) -> dict[str, Any]:
    """Write the subset manifest next to this stage's training outputs, then train on it like `train`."""
    from sdstylegan.training.stage import train_generator

    source = ctx.path(ctx.latest("manifest", "self_filter"))
    records, kept = subset_records(
        read_manifest(source), subset, derive_seed(int(ctx.cfg.seed), ctx.name, "subset")
    )
    manifest = ctx.stage_dir / "manifest.jsonl"
    write_rebased(records, source.parent, manifest)
    log.info("%s: training on %d images (%s subset of %s)", ctx.name, kept, subset, ctx.relative(source))
    out = train_generator(ctx, encoder=False, manifest=manifest)
    out["subset_checkpoint"] = out.pop("checkpoint")
    out.pop("best_checkpoint", None)
    return {**out, "subset": subset, "images": kept, "subset_manifest": ctx.relative(manifest)}


def run_train_random(ctx: StageContext) -> dict[str, Any]:
    """Stage `train_random`: the final training on a random subset the size of the kept set."""
    return train_subset(ctx, "random")


def run_train_all(ctx: StageContext) -> dict[str, Any]:
    """Stage `train_all`: the final training on every image the self-filter scored."""
    return train_subset(ctx, "all")
