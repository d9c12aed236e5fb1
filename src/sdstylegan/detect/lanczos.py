"""The top eigenpairs of a symmetric operator by Lanczos with full reorthogonalisation and early stopping.

TokenCut needs only the second and third eigenvalues of M = D^-½AD^-½ (its top pair is known and deflated),
and on token graphs the gap below μ₂ is wide (0.4–0.9 on graphs from photos), so a Krylov space of 10–20
vectors already holds them. ARPACK's `eigsh` cannot stop that early: with the wide space it needs on hard
graphs (ncv = 48) it performs at least ncv + 1 products on every graph. Here each step checks the Ritz
residuals ‖M y − θ y‖ = |β_k s_k| (Paige) and stops as soon as each wanted pair meets its own tolerance.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg

FIRST_TEST = 8  # the first step whose Ritz pairs are tested for convergence


class LanczosNotConverged(RuntimeError):
    """The wanted Ritz pairs did not meet their tolerances within `max_iter` products."""


def top_eigenpairs(
    matvec: Callable[[np.ndarray], np.ndarray],
    n: int,
    deflate: np.ndarray,
    tols: tuple[float, ...] = (1e-10, 1e-6),
    max_iter: int = 300,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The len(`tols`) largest eigenpairs of a symmetric operator with ‖M‖ ≤ 1, on the complement of `deflate`.

    matvec:  v ↦ M v for float64 vectors of length `n`.
    deflate: (n, m) orthonormal columns spanning an invariant subspace of M to leave out (e.g. its known
             top eigenvector); the Krylov space is kept orthogonal to it.
    tols:    residual bound ‖M y_i − θ_i y_i‖ ≤ tols[i] for the i-th pair (absolute, since ‖M‖ ≤ 1). The
             eigenvector error is ≲ tol/gap and the eigenvalue error ≲ tol²/gap, so a pair whose value is
             all that is needed can have a much looser bound than one whose vector is used.
    Returns (values (k,) descending, vectors (n, k), number of products).

    A breakdown (β ≈ 0: the Krylov space is invariant, e.g. M = u₁u₁ᵀ, or a graph of identical token
    groups) yields exact eigenpairs of that space only; a repeated eigenvalue has just one copy in it. The
    search then goes on, recursively, on the complement of everything found, and the best k of both
    are returned — so repeated top eigenvalues (degenerate cuts) are seen as such.
    """
    k_want, m = len(tols), deflate.shape[1]
    max_iter = min(max_iter, n - m)
    if max_iter < k_want:
        raise LanczosNotConverged(f"{n - m} dimensions left for {k_want} eigenpairs")
    rng = np.random.default_rng(seed)  # fixed start: deterministic results
    q = np.empty((max_iter + 1, n))  # Lanczos vectors as rows (contiguous products with the basis)
    alpha, beta = np.empty(max_iter), np.empty(max_iter)
    q[0] = _orthonormal_start(rng, n, deflate)
    for k in range(max_iter):
        w = matvec(q[k])
        alpha[k] = q[k] @ w
        for _ in range(2):  # full reorthogonalisation, twice ("twice is enough", Parlett)
            w -= deflate @ (deflate.T @ w)
            w -= q[: k + 1].T @ (q[: k + 1] @ w)
        beta[k] = np.linalg.norm(w)
        if beta[k] <= 1e-12:
            return _after_breakdown(matvec, n, deflate, tols, max_iter, seed, q[: k + 1], alpha, beta)
        # Test from step FIRST_TEST on, every 4th step past 12: a test costs about as much as a product at
        # N ≈ 800, and token graphs need 10–20 steps (a graph that needs fewer costs a few extra products).
        first = min(max(k_want, FIRST_TEST), max_iter)
        if k + 1 < first or (k + 1 >= 12 and (k + 1) % 4 and k + 1 < max_iter):
            q[k + 1] = w / beta[k]
            continue
        theta, s = _ritz(alpha[: k + 1], beta[:k])
        theta, s = theta[:k_want], s[:, :k_want]
        if (np.abs(beta[k] * s[-1]) <= np.asarray(tols)).all():  # residuals ‖My − θy‖ = |β_k s_k|
            return theta, q[: k + 1].T @ s, k + 1
        q[k + 1] = w / beta[k]
    raise LanczosNotConverged(f"no convergence of {k_want} eigenpairs in {max_iter} products")


def _after_breakdown(
    matvec: Callable[[np.ndarray], np.ndarray],
    n: int,
    deflate: np.ndarray,
    tols: tuple[float, ...],
    max_iter: int,
    seed: int,
    q: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Exact pairs of the invariant Krylov space `q`, merged with the best pairs of its complement."""
    j = q.shape[0]
    theta, s = _ritz(alpha[:j], beta[: j - 1])
    vals, vecs = theta, q.T @ s
    rest = n - deflate.shape[1] - j
    products = j
    if rest > 0 and j < max_iter:
        more = tols[: min(len(tols), rest, max_iter - j)]
        v2, y2, p2 = top_eigenpairs(matvec, n, np.hstack([deflate, vecs]), more, max_iter - j, seed + 1)
        vals, vecs, products = np.concatenate([vals, v2]), np.hstack([vecs, y2]), products + p2
    if len(vals) < len(tols):
        raise LanczosNotConverged(f"{len(vals)} eigenpairs exist for {len(tols)} wanted")
    order = np.argsort(-vals, kind="stable")[: len(tols)]
    return vals[order], vecs[:, order], products


def _ritz(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of the tridiagonal T (diagonal `alpha`, off-diagonal `beta`), largest first."""
    if len(alpha) <= 48:  # LAPACK on the small dense T has less call overhead than the tridiagonal driver
        t = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
        theta, s = np.linalg.eigh(t)
    else:
        theta, s = scipy.linalg.eigh_tridiagonal(alpha, beta)
    return theta[::-1], s[:, ::-1]


def _orthonormal_start(rng: np.random.Generator, n: int, deflate: np.ndarray) -> np.ndarray:
    """A random unit vector orthogonal to `deflate`'s columns."""
    v = rng.standard_normal(n)
    for _ in range(2):
        v -= deflate @ (deflate.T @ v)
    return v / np.linalg.norm(v)
