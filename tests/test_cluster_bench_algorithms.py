"""cluster_bench.algorithms: every algorithm recovers separated blobs; the shared feature preparation."""

from __future__ import annotations

import numpy as np
import pytest

from sdstylegan.cluster_bench.algorithms import ALGORITHMS, cluster, prepare
from sdstylegan.distill.ground_truth import cluster_accuracy


def blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 8, (3, 10))
    x = np.concatenate([c + rng.normal(0, 0.5, (30, 10)) for c in centres])
    return x, np.repeat(np.arange(3), 30)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_each_algorithm_recovers_three_blobs(name):
    x, y = blobs()
    pred = cluster(name, prepare(x, pca=5), 3, seed=0)
    assert pred.shape == (90,) and pred.dtype == np.int64
    assert cluster_accuracy(y, pred) == 1.0


def test_algorithms_are_deterministic_and_take_params():
    x, _ = blobs(1)
    a = cluster("kmeans", x, 3, seed=3, params={"n_init": 2})
    assert np.array_equal(a, cluster("kmeans", x, 3, seed=3, params={"n_init": 2}))
    assert np.array_equal(cluster("sdstylegan_kmeans", x, 3, 5), cluster("sdstylegan_kmeans", x, 3, 5))
    with pytest.raises(ValueError, match="unknown algorithm 'dbscan'"):
        cluster("dbscan", x, 3)
    with pytest.raises(ValueError, match="need 1 ≤ k ≤ N"):
        cluster("kmeans", x, 0)


def test_prepare_l2_centres_and_reduces():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (50, 20)) * rng.uniform(1, 100, (50, 1))  # rows of very different norms
    p = prepare(x, l2_normalize=True, pca=4)
    assert p.shape == (50, 4) and np.allclose(p.mean(axis=0), 0, atol=1e-9)
    full = prepare(x, l2_normalize=True, pca=None)
    assert full.shape == (50, 20)
    assert np.allclose(
        np.linalg.norm(full + (x / np.linalg.norm(x, axis=1, keepdims=True)).mean(0), axis=1), 1
    )
    assert prepare(x, l2_normalize=False, pca=100).shape == (50, 20)  # PCA only when it reduces
    with pytest.raises(ValueError, match="NaN"):
        prepare(np.full((3, 2), np.nan))
