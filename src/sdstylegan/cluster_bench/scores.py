"""Scores of a clustering: against labels (ACC/NMI/ARI), or without them (silhouette, choice of k).

With labels: `distill.ground_truth.clustering_scores` (Hungarian one-to-one accuracy — with more clusters
than classes the unmatched clusters' images count as wrong —, NMI and ARI from scikit-learn) over the images
that have a label. Without: the silhouette (Euclidean, on the prepared features; a seeded sample of at most
`sample_size` images), and the k curve — KMeans inertia and silhouette for each k of a range — from which k
is chosen by the largest silhouette or by the elbow (the point of the normalised inertia curve farthest
below the chord from its first to its last point, as SDIP chose its 64 centres).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from sdstylegan.distill.ground_truth import clustering_scores


def labelled_scores(labels: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """ACC/NMI/ARI over the images with a label (label ≥ 0)."""
    labels, pred = np.asarray(labels).ravel(), np.asarray(pred).ravel()
    if labels.shape != pred.shape:
        raise ValueError(f"{labels.size} labels but {pred.size} cluster assignments")
    have = labels >= 0
    return clustering_scores(labels[have], pred[have])


def silhouette(
    x: np.ndarray, pred: np.ndarray, sample_size: int | None = 2000, seed: int = 0
) -> float | None:
    """Mean silhouette (−1…1); None when there are fewer than 2 clusters or as many clusters as images."""
    from sklearn.metrics import silhouette_score

    pred = np.asarray(pred).ravel()
    k = np.unique(pred).size
    if k < 2 or k >= pred.size:
        return None
    n = pred.size if not sample_size or sample_size >= pred.size else int(sample_size)
    return float(silhouette_score(x, pred, sample_size=n if n < pred.size else None, random_state=seed))


def k_curve(
    x: np.ndarray, ks: Iterable[int], seed: int = 0, sample_size: int | None = 2000, n_init: int = 3
) -> list[dict[str, Any]]:
    """KMeans inertia and silhouette for each k (k ≥ 2, k < N)."""
    from sklearn.cluster import KMeans

    out = []
    for k in sorted({int(k) for k in ks}):
        if not 2 <= k < x.shape[0]:
            continue
        km = KMeans(n_clusters=k, n_init=int(n_init), random_state=seed).fit(x)
        out.append(
            {
                "k": k,
                "inertia": float(km.inertia_),
                "silhouette": silhouette(x, km.labels_, sample_size, seed),
            }
        )
    return out


def elbow(curve: list[dict[str, Any]]) -> int | None:
    """k at the elbow of the inertia curve (farthest below the chord of the normalised curve)."""
    if len(curve) < 3:
        return curve[0]["k"] if curve else None
    k = np.asarray([c["k"] for c in curve], dtype=np.float64)
    y = np.asarray([c["inertia"] for c in curve], dtype=np.float64)
    kn = (k - k[0]) / (k[-1] - k[0])
    span = y[0] - y[-1]
    yn = (y - y[-1]) / span if span > 0 else np.zeros_like(y)
    chord = 1.0 - kn  # from (0, 1) to (1, 0)
    return int(k[int(np.argmax(chord - yn))])


def choose_k(curve: list[dict[str, Any]], rule: str = "silhouette") -> int | None:
    """k chosen on the curve: `silhouette` (largest) or `elbow`."""
    if rule == "elbow":
        return elbow(curve)
    if rule != "silhouette":
        raise ValueError(f"cluster_bench.k_choice must be silhouette or elbow, got {rule!r}")
    scored = [c for c in curve if c["silhouette"] is not None]
    return max(scored, key=lambda c: c["silhouette"])["k"] if scored else None
