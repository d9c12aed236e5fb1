"""KMeans in torch (runs wherever the tensors are, GPU included): random-observation init, Lloyd iterations.

`init='random'` as in scikit-learn / SDIP: k distinct observations drawn with a seeded generator are the
initial centres; `n_init` such draws are run and the lowest inertia wins (scikit-learn's n_init: a random
init misses a mode with probability 1 − k!/k^k for k equal well-separated modes, a restart fixes that). Lloyd: assign each point to its nearest centre (squared Euclidean, chunked so 60k × 64
distances never need more than `chunk` rows at once), move each centre to its points' mean, stop when no
assignment changes or after `max_iter`. An empty cluster is re-seeded with the point farthest from its
current centre (the same repair scikit-learn applies), so k centres always come back.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class KMeansResult:
    centres: torch.Tensor  # (k, D)
    labels: torch.Tensor  # (N,) int64
    inertia: float  # Σ squared distance to the assigned centre
    iterations: int
    converged: bool


def assign(x: torch.Tensor, centres: torch.Tensor, chunk: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centre and squared distance for each row of x (chunked over x)."""
    labels, dists = [], []
    c2 = centres.square().sum(dim=1)
    for xb in x.split(chunk):
        # ‖x − c‖² = ‖x‖² + ‖c‖² − 2 x·c: one matmul per chunk.
        d = xb.square().sum(dim=1, keepdim=True) + c2[None] - 2 * xb @ centres.T
        m = d.min(dim=1)
        labels.append(m.indices)
        dists.append(m.values.clamp(min=0))
    return torch.cat(labels), torch.cat(dists)


def kmeans(
    x: torch.Tensor,  # (N, D) observations
    k: int,  # number of clusters
    max_iter: int = 300,  # Lloyd iterations at most
    seed: int = 0,  # initial centres
    init: str = "random",  # random observations as centres (the only method)
    n_init: int = 1,  # random inits tried; the lowest inertia is returned
    chunk: int = 8192,
) -> KMeansResult:
    """Cluster the rows of `x` into k groups; deterministic for a given seed and device."""
    if init != "random":
        raise ValueError(
            f"clustering.init must be 'random' (random observations as initial centres), got {init!r}"
        )
    if x.ndim != 2:
        raise ValueError(f"kmeans expects (N, D) observations, got shape {tuple(x.shape)}")
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"kmeans: need 1 ≤ k ≤ N, got k={k} for N={n} observations")
    if int(n_init) < 1:
        raise ValueError(f"clustering.n_init must be ≥ 1, got {n_init}")
    x = x.float()
    gen = torch.Generator().manual_seed(int(seed))
    runs = [
        lloyd(x, x[torch.randperm(n, generator=gen)[:k].to(x.device)].clone(), max_iter, chunk)
        for _ in range(int(n_init))
    ]
    return min(runs, key=lambda r: r.inertia)


def lloyd(x: torch.Tensor, centres: torch.Tensor, max_iter: int = 300, chunk: int = 8192) -> KMeansResult:
    """Lloyd iterations from the given initial centres (k, D)."""
    n, k = x.shape[0], centres.shape[0]
    labels = torch.full((n,), -1, dtype=torch.long, device=x.device)
    converged, iterations = False, 0
    for _ in range(int(max_iter)):
        iterations += 1
        new_labels, dists = assign(x, centres, chunk)
        counts = torch.bincount(new_labels, minlength=k)
        for empty in (counts == 0).nonzero().flatten().tolist():
            far = int(dists.argmax())
            new_labels[far], dists[far] = empty, 0.0
            counts = torch.bincount(new_labels, minlength=k)
        changed = bool((new_labels != labels).any())
        labels = new_labels
        sums = torch.zeros_like(centres).index_add_(0, labels, x)
        centres = sums / counts.clamp(min=1).unsqueeze(1).to(x.dtype)
        if not changed:
            converged = True
            break
    labels, _ = assign(x, centres, chunk)
    # Inertia from the differences, not the expanded form: ‖x‖² + ‖c‖² − 2x·c cancels badly in float32.
    inertia = sum(
        float((xb - centres[lb]).square().sum()) for xb, lb in zip(x.split(chunk), labels.split(chunk))
    )
    return KMeansResult(centres, labels, inertia, iterations, converged)
