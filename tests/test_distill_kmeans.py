"""KMeans in torch: planted clusters recovered exactly, seeded determinism, empty-cluster repair, bad input."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.distill.kmeans import assign, kmeans, lloyd


def planted(
    k: int = 5, per: int = 40, dim: int = 8, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """k tight blobs (σ = 0.05) around centres 10 apart: any sane KMeans must find them exactly."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, dim, generator=g) * 10
    truth = torch.arange(k).repeat_interleave(per)
    x = centres[truth] + 0.05 * torch.randn(k * per, dim, generator=g)
    perm = torch.randperm(k * per, generator=g)
    return x[perm], truth[perm], centres


def same_partition(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Labels equal up to renaming the clusters."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_lloyd_from_one_observation_per_blob_recovers_the_blobs_exactly():
    x, truth, centres = planted()
    g = torch.Generator().manual_seed(5)
    for _ in range(5):  # any observation of each blob as its initial centre
        init = torch.stack(
            [x[truth == b][torch.randint(int((truth == b).sum()), (1,), generator=g)][0] for b in range(5)]
        )
        res = lloyd(x, init)
        assert torch.equal(res.labels, truth) and res.converged


@pytest.mark.parametrize("seed", [0, 1])
def test_random_restarts_recover_planted_clusters_exactly(seed):
    # One random init covers all 4 equal blobs with probability 4!/4^4 ≈ 9 %; 60 restarts miss with ≈ 0.3 %.
    x, truth, centres = planted(k=4, seed=seed)
    best = kmeans(x, 4, seed=seed, n_init=60)
    assert same_partition(best.labels, truth)
    assert best.converged
    # each found centre is the mean of its blob (≈ the planted centre within the noise)
    d = torch.cdist(best.centres, centres).min(dim=1).values
    assert (d < 0.1).all()
    assert best.inertia == pytest.approx(((x - best.centres[best.labels]) ** 2).sum().item(), rel=1e-4)


def test_seeded_runs_are_identical_and_seeds_differ_in_init():
    x, _, _ = planted(k=6, per=20, dim=4)
    a, b = kmeans(x, 6, seed=7), kmeans(x, 6, seed=7)
    assert torch.equal(a.centres, b.centres) and torch.equal(a.labels, b.labels)
    one_iter = [kmeans(x, 6, seed=s, max_iter=1).centres for s in (7, 8)]
    assert not torch.equal(one_iter[0], one_iter[1])


def test_init_is_random_observations():
    x, _, _ = planted(k=3, per=10, dim=2)
    res = kmeans(x, 3, seed=0, max_iter=0)  # no Lloyd step: the centres are the initial ones
    for c in res.centres:
        assert (x == c).all(dim=1).any()


def test_empty_cluster_is_reseeded_so_k_clusters_come_back():
    # 3 distinct points duplicated: with k = 3 and an init that picks two copies of one point, a cluster
    # would be empty; the repair must still yield 3 non-empty clusters.
    x = torch.tensor([[0.0, 0.0]] * 5 + [[10.0, 0.0]] * 5 + [[0.0, 10.0]] * 5)
    for seed in range(10):
        res = kmeans(x, 3, seed=seed)
        assert torch.bincount(res.labels, minlength=3).min() > 0
        assert res.inertia == pytest.approx(0.0, abs=1e-6)


def test_chunked_assignment_matches_cdist():
    g = torch.Generator().manual_seed(0)
    x, c = torch.randn(1000, 16, generator=g), torch.randn(7, 16, generator=g)
    labels, dists = assign(x, c, chunk=64)
    full = torch.cdist(x, c)
    assert torch.equal(labels, full.argmin(dim=1))
    assert torch.allclose(dists, full.min(dim=1).values ** 2, atol=1e-4)


def test_bad_arguments_are_refused():
    x = torch.randn(10, 3)
    with pytest.raises(ValueError, match="1 ≤ k ≤ N"):
        kmeans(x, 11)
    with pytest.raises(ValueError, match="init must be 'random'"):
        kmeans(x, 2, init="k-means++")
    with pytest.raises(ValueError, match="observations"):
        kmeans(torch.randn(10), 2)
    with pytest.raises(ValueError, match="n_init"):
        kmeans(x, 2, n_init=0)


def test_more_restarts_never_raise_the_inertia():
    x, _, _ = planted(k=6, per=15, dim=3, seed=4)
    assert kmeans(x, 6, seed=0, n_init=8).inertia <= kmeans(x, 6, seed=0, n_init=1).inertia


@pytest.mark.gpu
def test_cuda_gives_the_cpu_partition():
    x, truth, _ = planted(seed=1)
    cpu = kmeans(x, 5, seed=3)
    gpu = kmeans(x.cuda(), 5, seed=3)
    assert gpu.centres.is_cuda
    assert torch.equal(cpu.labels, gpu.labels.cpu())
