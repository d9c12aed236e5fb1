"""Ground-truth scores of the distill stages on the demo data (planted outliers and modes).

Self-filter as an outlier detector: AUROC and average precision (AP) of a per-image outlier score (higher =
more outlier-like) against the planted flag, overall and per outlier kind (that kind against the inliers,
other kinds left out), plus precision/recall of a removed set. `outlier_detection_report` puts the SDIP
score beside baselines on the same images: random removal of the same size (expected value and one seeded
draw) and any other scores given (e.g. `distill.baselines`), each removing its top |removed| images.

Clusters as mode recovery: accuracy under the best one-to-one cluster↔mode matching (Hungarian; clusters
left unmatched count as wrong), NMI and ARI, over the images that have a planted mode. scikit-learn supplies
AUROC/AP/NMI/ARI (imported on first use, so importing a stage stays cheap).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _arrays(
    scores: Sequence[float] | np.ndarray, positive: Sequence[bool] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    s, p = np.asarray(scores, dtype=np.float64).ravel(), np.asarray(positive, dtype=bool).ravel()
    if s.shape != p.shape:
        raise ValueError(f"{s.size} scores but {p.size} labels")
    return s, p


def auroc(scores: Sequence[float] | np.ndarray, positive: Sequence[bool] | np.ndarray) -> float | None:
    """Area under the ROC curve of `scores` (higher = positive); None without both classes. Ties count ½."""
    from sklearn.metrics import roc_auc_score

    s, p = _arrays(scores, positive)
    if p.all() or not p.any():
        return None
    return float(roc_auc_score(p, s))


def average_precision(
    scores: Sequence[float] | np.ndarray, positive: Sequence[bool] | np.ndarray
) -> float | None:
    """Average precision (mean precision at each positive's rank, no interpolation); None without positives."""
    from sklearn.metrics import average_precision_score

    s, p = _arrays(scores, positive)
    if not p.any():
        return None
    return float(average_precision_score(p, s))


def expected_random_ap(positives: int, total: int) -> float | None:
    """E[AP] of a uniformly random ranking: (H_n + (P − 1)/(n − 1)·(n − H_n)) / n, H_n the n-th harmonic number."""
    if positives <= 0 or total <= 0:
        return None
    if total == 1:
        return 1.0
    h = float(np.sum(1.0 / np.arange(1, total + 1)))
    return (h + (positives - 1) / (total - 1) * (total - h)) / total


def top_k_mask(scores: Sequence[float] | np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the `k` highest scores (ties broken by position, earlier first)."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    mask = np.zeros(s.size, dtype=bool)
    mask[np.argsort(-s, kind="stable")[: max(int(k), 0)]] = True
    return mask


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def detection_figures(
    scores: Sequence[float] | np.ndarray,
    outlier: Sequence[bool] | np.ndarray,
    kinds: Sequence[str | None],
    removed: Sequence[bool] | np.ndarray,
) -> dict[str, Any]:
    """AUROC, AP, removed-set precision/recall overall, and AUROC/AP/recall per outlier kind vs the inliers."""
    s, o = _arrays(scores, outlier)
    r = np.asarray(removed, dtype=bool).ravel()
    k = np.asarray([str(x) if x is not None else "" for x in kinds])
    if r.shape != o.shape or k.shape != o.shape:
        raise ValueError(f"{o.size} labels but {r.size} removal flags and {k.size} kinds")
    by_kind = {}
    for kind in sorted(set(k[o].tolist())):
        of_kind = o & (k == kind)
        pool = of_kind | ~o  # this kind against the inliers
        by_kind[kind] = {
            "n": int(of_kind.sum()),
            "auroc": auroc(s[pool], of_kind[pool]),
            "average_precision": average_precision(s[pool], of_kind[pool]),
            "removed_recall": _ratio(int((of_kind & r).sum()), int(of_kind.sum())),
        }
    return {
        "auroc": auroc(s, o),
        "average_precision": average_precision(s, o),
        "removed_precision": _ratio(int((o & r).sum()), int(r.sum())),
        "removed_recall": _ratio(int((o & r).sum()), int(o.sum())),
        "by_kind": by_kind,
    }


def random_baseline(
    outlier: Sequence[bool] | np.ndarray, kinds: Sequence[str | None], removed_count: int, seed: int
) -> dict[str, Any]:
    """Random removal of `removed_count` images (SDIP Table 3): expected figures and one seeded draw."""
    o = np.asarray(outlier, dtype=bool).ravel()
    n, k = o.size, int(removed_count)
    draw = np.random.default_rng(int(seed)).random(n)
    kind_arr = np.asarray([str(x) if x is not None else "" for x in kinds])
    inliers = int((~o).sum())
    expected_kinds = {}
    for kind in sorted(set(kind_arr[o].tolist())):
        m = int((o & (kind_arr == kind)).sum())
        expected_kinds[kind] = {
            "n": m,
            "auroc": 0.5 if inliers else None,
            "average_precision": expected_random_ap(m, m + inliers),
            "removed_recall": _ratio(k, n),
        }
    expected = {
        "auroc": 0.5 if 0 < o.sum() < n else None,
        "average_precision": expected_random_ap(int(o.sum()), n),
        "removed_precision": float(o.mean()) if k and n else None,
        "removed_recall": _ratio(k, n) if o.any() else None,
        "by_kind": expected_kinds,
    }
    return {
        "seed": int(seed),
        "expected": expected,
        "draw": detection_figures(draw, o, kinds, top_k_mask(draw, k)),
    }


def outlier_detection_report(
    ids: Sequence[str],
    truth: Mapping[str, Mapping[str, Any]],
    method_scores: Mapping[str, Sequence[float] | np.ndarray],
    removed: Sequence[bool] | np.ndarray,
    seed: int,
    method_removed: str | None = None,
) -> dict[str, Any]:
    """Detection figures of every method on the images of `ids` that have ground truth (same order as scores).

    `removed` is the self-filter's removed mask (used for `method_removed`, default the first method); every
    other method removes its top |removed| scores; `random` is the same-size random removal.
    """
    idx = [i for i, x in enumerate(ids) if x in truth]
    rows = [truth[ids[i]] for i in idx]
    outlier = np.asarray([bool(r.get("outlier")) for r in rows], dtype=bool)
    kinds = [r.get("outlier_kind") if r.get("outlier") else None for r in rows]
    rem = np.asarray(removed, dtype=bool).ravel()
    if rem.size != len(ids):
        raise ValueError(f"{rem.size} removal flags for {len(ids)} images")
    rem = rem[idx]
    first = method_removed if method_removed is not None else next(iter(method_scores), None)
    methods: dict[str, Any] = {}
    for name, scores in method_scores.items():
        s = np.asarray(scores, dtype=np.float64).ravel()
        if s.size != len(ids):
            raise ValueError(f"{name}: {s.size} scores for {len(ids)} images")
        s = s[idx]
        methods[name] = detection_figures(
            s, outlier, kinds, rem if name == first else top_k_mask(s, int(rem.sum()))
        )
    methods["random"] = random_baseline(outlier, kinds, int(rem.sum()), seed)
    kind_counts = {str(k): kinds.count(k) for k in sorted({k for k in kinds if k is not None})}
    return {
        "matched": len(idx),
        "outliers": int(outlier.sum()),
        "removed": int(rem.sum()),
        "outlier_base_rate": float(outlier.mean()) if idx else None,
        "outliers_by_kind": kind_counts,
        "removed_by": first,
        "methods": methods,
    }


def cluster_accuracy(true: Sequence[int] | np.ndarray, pred: Sequence[int] | np.ndarray) -> float:
    """Share of images whose cluster is matched to their class under the best one-to-one matching.

    Hungarian assignment on the contingency table; with more clusters than classes the unmatched clusters'
    images count as wrong (and with fewer, the unmatched classes' images).
    """
    from scipy.optimize import linear_sum_assignment

    t, p = np.asarray(true).ravel(), np.asarray(pred).ravel()
    if t.shape != p.shape:
        raise ValueError(f"{t.size} classes but {p.size} clusters")
    if t.size == 0:
        raise ValueError("cluster_accuracy of no images")
    classes, ti = np.unique(t, return_inverse=True)
    clusters, pi = np.unique(p, return_inverse=True)
    table = np.zeros((clusters.size, classes.size), dtype=np.int64)
    np.add.at(table, (pi, ti), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / t.size)


def clustering_scores(true: Sequence[int] | np.ndarray, pred: Sequence[int] | np.ndarray) -> dict[str, Any]:
    """ACC (Hungarian), NMI (arithmetic normalisation) and ARI of clusters `pred` against classes `true`."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    t, p = np.asarray(true).ravel(), np.asarray(pred).ravel()
    if t.size == 0:
        return {"images": 0, "accuracy": None, "nmi": None, "ari": None}
    return {
        "images": int(t.size),
        "accuracy": cluster_accuracy(t, p),
        "nmi": float(normalized_mutual_info_score(t, p)),
        "ari": float(adjusted_rand_score(t, p)),
    }


def mode_recovery(labels: Mapping[str, int], truth: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Clusters (by image id) against the planted modes, over the images that have a mode.

    Degraded outliers keep their gourd's mode and count here; `inliers` repeats the figures without them.
    """
    have = [(i, truth[i]) for i in labels if i in truth and truth[i].get("mode") is not None]
    pred = [int(labels[i]) for i, _ in have]
    modes = [int(t["mode"]) for _, t in have]
    inl = [j for j, (_, t) in enumerate(have) if not t.get("outlier")]
    out = clustering_scores(modes, pred)
    out.update(
        {
            "modes": len(set(modes)),
            "clusters_used": len(set(pred)),
            "inliers": clustering_scores([modes[j] for j in inl], [pred[j] for j in inl]),
        }
    )
    return out
