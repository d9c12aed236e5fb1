"""Clustering algorithms with one signature, and the feature preparation every encoder gets alike.

`prepare(features, l2_normalize, pca, seed)`: optional L2 normalisation of each row, then centring and PCA to
at most `pca` dimensions (scikit-learn, randomised solver seeded). Every encoder's features go through the
same steps before every algorithm, so the comparison is between encoders, not between their scales or sizes.

Algorithms (`ALGORITHMS[name](x, k, seed, **params) -> labels (N,)`):
- `kmeans`: scikit-learn KMeans (k-means++, `n_init` restarts).
- `agglomerative`: AgglomerativeClustering (`linkage`, default ward).
- `birch`: Birch with a final global clustering into k (`threshold` as a fraction of the features' RMS radius,
  `branching_factor`).
- `spectral`: SpectralClustering (`affinity` nearest_neighbors with `n_neighbors`, or rbf), k-means labels.
- `gmm`: GaussianMixture (`covariance_type`, default diag), labels = most likely component.
- `sdstylegan_kmeans`: this project's torch KMeans (`distill.kmeans`: random-observation init, Lloyd), the
  one the `cluster` stage runs in W.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def prepare(
    features: np.ndarray, l2_normalize: bool = True, pca: int | None = 64, seed: int = 0
) -> np.ndarray:
    """Rows L2-normalised (optional), centred, projected on the first `pca` principal axes (float64)."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need (N ≥ 2, D) features, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("features contain NaN or inf")
    if l2_normalize:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    x = x - x.mean(axis=0, keepdims=True)
    if pca and min(x.shape) > int(pca):
        from sklearn.decomposition import PCA

        x = PCA(n_components=int(pca), svd_solver="randomized", random_state=int(seed)).fit_transform(x)
    return x


def _kmeans(x: np.ndarray, k: int, seed: int, n_init: int = 10, max_iter: int = 300) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=int(n_init), max_iter=int(max_iter), random_state=seed).fit_predict(x)


def _agglomerative(x: np.ndarray, k: int, seed: int, linkage: str = "ward") -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    return AgglomerativeClustering(n_clusters=k, linkage=str(linkage)).fit_predict(x)


def _birch(
    x: np.ndarray, k: int, seed: int, threshold: float = 0.1, branching_factor: int = 50
) -> np.ndarray:
    from sklearn.cluster import Birch

    # threshold relative to the features' RMS distance from their mean (features differ in scale)
    rms = float(np.sqrt(np.mean(np.sum((x - x.mean(axis=0)) ** 2, axis=1)))) or 1.0
    return Birch(
        n_clusters=k, threshold=float(threshold) * rms, branching_factor=int(branching_factor)
    ).fit_predict(x)


def _spectral(
    x: np.ndarray,
    k: int,
    seed: int,
    affinity: str = "nearest_neighbors",
    n_neighbors: int = 10,
    assign_labels: str = "kmeans",
) -> np.ndarray:
    from sklearn.cluster import SpectralClustering

    n_neighbors = min(int(n_neighbors), x.shape[0] - 1)
    return SpectralClustering(
        n_clusters=k,
        affinity=str(affinity),
        n_neighbors=n_neighbors,
        assign_labels=str(assign_labels),
        random_state=seed,
    ).fit_predict(x)


def _gmm(
    x: np.ndarray, k: int, seed: int, covariance_type: str = "diag", n_init: int = 1, max_iter: int = 100
) -> np.ndarray:
    from sklearn.mixture import GaussianMixture

    return (
        GaussianMixture(
            n_components=k,
            covariance_type=str(covariance_type),
            n_init=int(n_init),
            max_iter=int(max_iter),
            random_state=seed,
        )
        .fit(x)
        .predict(x)
    )


def _sdstylegan_kmeans(x: np.ndarray, k: int, seed: int, n_init: int = 10, max_iter: int = 300) -> np.ndarray:
    import torch
    from threadpoolctl import threadpool_limits

    from sdstylegan.distill.kmeans import kmeans

    # scikit-learn and torch ship separate OpenMP runtimes: right after a scikit-learn call, the former's
    # spinning threads slow torch's small CPU ops ~40× (4 s instead of 0.1 s for 2,000 × 64); one thread avoids it.
    with threadpool_limits(limits=1, user_api="openmp"):
        res = kmeans(
            torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
            k,
            max_iter=int(max_iter),
            seed=seed,
            init="random",
            n_init=int(n_init),
        )
    return res.labels.cpu().numpy()


ALGORITHMS: dict[str, Callable[..., np.ndarray]] = {
    "kmeans": _kmeans,
    "agglomerative": _agglomerative,
    "birch": _birch,
    "spectral": _spectral,
    "gmm": _gmm,
    "sdstylegan_kmeans": _sdstylegan_kmeans,
}


def cluster(
    name: str, x: np.ndarray, k: int, seed: int = 0, params: dict[str, Any] | None = None
) -> np.ndarray:
    """Labels (N,) int64 from algorithm `name` with k clusters."""
    if name not in ALGORITHMS:
        raise ValueError(f"cluster_bench: unknown algorithm {name!r}; known: {', '.join(ALGORITHMS)}")
    if not 1 <= int(k) <= x.shape[0]:
        raise ValueError(f"cluster_bench: need 1 ≤ k ≤ N, got k={k} for N={x.shape[0]} images")
    labels = ALGORITHMS[name](x, int(k), int(seed), **dict(params or {}))
    return np.asarray(labels, dtype=np.int64).ravel()
