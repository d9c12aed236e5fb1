"""Manifest and demo ground truth for the distill stages: rewritten manifests and agreement scores.

A stage writes its manifest into its own folder; manifest paths are relative to the manifest's folder,
so `write_rebased` re-expresses `orig_path`/`crop_path` relative to the new folder (absolute stay as they
are). With the demo's `ground_truth.jsonl` (planted outliers and modes, matched by image `id`):
`outlier_removal` scores the self-filter as a detector of outliers, `cluster_agreement` scores clusters
against the modes (purity and normalised mutual information).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sdstylegan.data.manifest import ManifestRecord, rebase_path, write_manifest
from sdstylegan.pipeline.context import MissingInputError, StageContext
from sdstylegan.utils.io import read_jsonl


def write_rebased(records: Iterable[ManifestRecord], old_root: Path, new_manifest: Path) -> None:
    """Write `records` (read from a manifest in `old_root`) to `new_manifest`, paths made relative to it."""
    new_root = new_manifest.parent
    out = []
    for r in records:
        d = r.to_dict()
        d["orig_path"] = rebase_path(d.get("orig_path"), old_root, new_root)
        d["crop_path"] = rebase_path(d.get("crop_path"), old_root, new_root)
        out.append(ManifestRecord.from_dict(d))
    write_manifest(new_manifest, out)


def load_ground_truth(ctx: StageContext) -> dict[str, dict[str, Any]] | None:
    """Demo ground truth by image id, or None when the run has none (real data)."""
    try:
        rel = ctx.latest("ground_truth")
    except MissingInputError:
        return None
    return {row["id"]: row for _, row in read_jsonl(ctx.path(rel), what="ground truth")}


def outlier_removal(kept: dict[str, bool], truth: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Removal as outlier detection: precision = removed that are outliers, recall = outliers removed."""
    ids = [i for i in kept if i in truth]
    removed = {i for i in ids if not kept[i]}
    outliers = {i for i in ids if truth[i].get("outlier")}
    hit = len(removed & outliers)
    kinds = Counter(truth[i].get("outlier_kind") for i in outliers)
    kinds_removed = Counter(truth[i].get("outlier_kind") for i in outliers & removed)
    return {
        "matched": len(ids),
        "removed": len(removed),
        "outliers": len(outliers),
        "outliers_removed": hit,
        "precision": hit / len(removed) if removed else None,
        "recall": hit / len(outliers) if outliers else None,
        "outlier_share_before": len(outliers) / len(ids) if ids else None,
        "outlier_share_after": (len(outliers) - hit) / (len(ids) - len(removed))
        if len(ids) > len(removed)
        else None,
        "recall_by_kind": {str(k): kinds_removed[k] / v for k, v in sorted(kinds.items(), key=str)},
    }


def cluster_agreement(labels: dict[str, int], truth: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Purity (share of inliers in their cluster's majority mode) and NMI between clusters and planted modes."""
    pairs = [
        (labels[i], truth[i]["mode"])
        for i in labels
        if i in truth and not truth[i].get("outlier") and truth[i].get("mode") is not None
    ]
    n = len(pairs)
    if n == 0:
        return {"matched_inliers": 0, "purity": None, "nmi": None}
    joint = Counter(pairs)
    by_cluster = Counter(c for c, _ in pairs)
    by_mode = Counter(m for _, m in pairs)
    majority: dict[int, Counter] = {}
    for (c, m), v in joint.items():
        majority.setdefault(c, Counter())[m] = v
    purity = sum(cnt.most_common(1)[0][1] for cnt in majority.values()) / n

    def entropy(counts: Counter) -> float:
        return -sum(v / n * math.log(v / n) for v in counts.values())

    mi = sum(v / n * math.log(v * n / (by_cluster[c] * by_mode[m])) for (c, m), v in joint.items())
    h = (entropy(by_cluster) + entropy(by_mode)) / 2  # arithmetic-mean normalisation (sklearn's default)
    return {
        "matched_inliers": n,
        "purity": purity,
        "nmi": mi / h if h > 0 else 1.0,
        "clusters_used": len(by_cluster),
        "cluster_modes": {
            str(c): dict(sorted((str(m), v) for m, v in cnt.items())) for c, cnt in sorted(majority.items())
        },
    }
