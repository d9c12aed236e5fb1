"""Lanczos with early stopping: the top eigenpairs of a deflated symmetric operator, breakdowns, failures."""

from __future__ import annotations

import numpy as np
import pytest

from sdstylegan.detect.lanczos import LanczosNotConverged, top_eigenpairs


def symmetric_with_spectrum(values: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A symmetric matrix Q diag(values) Qᵀ with a random orthonormal Q; returns (matrix, Q)."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(values), len(values))))
    return (q * values) @ q.T, q


def test_top_pairs_on_the_deflated_complement_equal_a_full_eigendecomposition():
    n = 200
    values = np.concatenate([[1.0, 0.9, 0.7], np.random.default_rng(1).uniform(-0.6, 0.5, n - 3)])
    m, q = symmetric_with_spectrum(values)
    vals, vecs, products = top_eigenpairs(lambda v: m @ v, n, q[:, :1], tols=(1e-10, 1e-8))
    np.testing.assert_allclose(vals, [0.9, 0.7], atol=1e-12)
    for i, col in enumerate((1, 2)):  # eigenvectors up to sign, orthogonal to the deflated one
        assert abs(abs(vecs[:, i] @ q[:, col]) - 1) < 1e-12
        assert abs(vecs[:, i] @ q[:, 0]) < 1e-12
        assert np.linalg.norm(m @ vecs[:, i] - vals[i] * vecs[:, i]) <= 1e-8
    assert products < 60  # a wide gap (0.2 to the rest) stops early, well before n


def test_each_pair_meets_its_own_tolerance_and_a_looser_one_costs_fewer_products():
    n = 300
    values = np.concatenate([[1.0, 0.8], np.linspace(0.6, -0.5, n - 2)])
    m, q = symmetric_with_spectrum(values, seed=2)
    tight = top_eigenpairs(lambda v: m @ v, n, q[:, :1], tols=(1e-10, 1e-10))
    loose = top_eigenpairs(lambda v: m @ v, n, q[:, :1], tols=(1e-10, 1e-4))
    for vals, vecs, _ in (tight, loose):
        assert np.linalg.norm(m @ vecs[:, 0] - vals[0] * vecs[:, 0]) <= 1e-10
    assert np.linalg.norm(m @ loose[1][:, 1] - loose[0][1] * loose[1][:, 1]) <= 1e-4
    assert loose[2] < tight[2]
    assert loose[0][1] == pytest.approx(0.6, abs=1e-6)  # the value converges quadratically


def test_breakdown_restarts_so_a_rank_one_operator_gives_two_zero_eigenvalues():
    n = 50
    u = np.ones(n) / np.sqrt(n)
    m = np.outer(u, u)  # deflating u leaves the zero operator: every Krylov space breaks down at once
    vals, vecs, _ = top_eigenpairs(lambda v: m @ v, n, u[:, None])
    np.testing.assert_allclose(vals, [0.0, 0.0], atol=1e-14)
    assert np.isfinite(vecs).all() and abs(vecs[:, 0] @ vecs[:, 1]) < 1e-12


def test_an_invariant_subspace_smaller_than_the_space_gives_the_exact_values():
    # Two blocks of all-ones plus eps: M has eigenvalues 1, μ₂ and 0 (N − 2 times); the Krylov space
    # is 2-dimensional and breaks down with μ₂ and 0 exactly.
    n, eps = 40, 1e-3
    a = np.full((n, n), eps)
    a[:15, :15] = a[15:, 15:] = 1.0
    d = a.sum(1)
    m = a / np.sqrt(np.outer(d, d))
    u1 = np.sqrt(d) / np.linalg.norm(np.sqrt(d))
    vals, _, _ = top_eigenpairs(lambda v: m @ v, n, u1[:, None])
    ref = np.linalg.eigvalsh(m)[::-1]
    np.testing.assert_allclose(vals, ref[1:3], atol=1e-12)


def test_no_convergence_is_an_error_not_a_wrong_answer():
    n = 400
    values = np.concatenate([[1.0], 0.5 + 1e-7 * np.arange(n - 1)[::-1]])  # a cluster: slow to resolve
    m, q = symmetric_with_spectrum(values, seed=3)
    with pytest.raises(LanczosNotConverged, match="no convergence"):
        top_eigenpairs(lambda v: m @ v, n, q[:, :1], tols=(1e-14, 1e-14), max_iter=5)
    with pytest.raises(LanczosNotConverged, match="dimensions"):
        top_eigenpairs(lambda v: m @ v, 2, np.eye(2)[:, :1])


def test_a_repeated_top_eigenvalue_is_found_twice_after_a_breakdown():
    # Three identical groups: eigenvalues 1, μ, μ, 0, …; a Krylov space holds one copy of μ and breaks
    # down, so only the search on its complement can find the second copy.
    n, eps = 90, 1e-5
    groups = np.repeat(np.arange(3), 30)
    a = np.where(groups[:, None] == groups[None, :], 1.0, eps)
    d = a.sum(1)
    m = a / np.sqrt(np.outer(d, d))
    u1 = np.sqrt(d) / np.linalg.norm(np.sqrt(d))
    vals, vecs, _ = top_eigenpairs(lambda v: m @ v, n, u1[:, None])
    ref = np.linalg.eigvalsh(m)[::-1]
    assert ref[1] - ref[2] < 1e-12 < ref[2] - ref[3]  # the case: μ₂ = μ₃ > μ₄
    np.testing.assert_allclose(vals, ref[1:3], atol=1e-12)
    assert abs(vecs[:, 0] @ vecs[:, 1]) < 1e-10
