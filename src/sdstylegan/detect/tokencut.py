"""TokenCut's normalized cut on a grid of ViT tokens (Wang et al., CVPR 2022, arXiv 2202.11539).

Semantics (same partitions as the published dense solve `scipy.linalg.eigh(D - A, D)`):
- tokens L2-normalised; A = f·fᵀ thresholded: 1 where > tau, eps elsewhere; D = diag(A·1);
- x = second-smallest generalised eigenvector of (D − A)x = λDx; tokens above mean(x) form one side;
- the side holding argmax|x| (the "seed") is the foreground (x is flipped so that it is positive there);
- the mask is the seed's 4-connected component; its box is (x0, y0, x1, y1) in patch units, ends exclusive.

Solver (the speed-up): with y = D^½x the problem is the symmetric eigenproblem of M = D^-½ A D^-½,
whose top pair is known exactly (μ₁ = 1, u₁ ∝ D^½·1, because M·D^½1 = D^-½A1 = D^½1). The cut is the
eigenvector of the second-largest μ₂ = 1 − λ₂. On the CPU: Lanczos with full reorthogonalisation and
early stopping (`detect.lanczos`, float64) on the complement of u₁; it stops after 10–20 products on
graphs from photos (the gap below μ₂ is wide), 40–80 on smooth synthetic scenes. Products are dense, or
M v = r ⊙ ((1 − ε)·E(r ⊙ v) + ε·Σ(r ⊙ v)) on the sparse binary edge matrix E (r = D^-½) when N >
`SPARSE_MIN_N` and fewer than `SPARSE_DENSITY` of the pairs are edges. On a GPU (or `solver="torch"`):
one batched `torch.linalg.eigh` of M for the whole batch. `solver="dense"` runs the published
generalised solve. Similarities are computed in float32 (float64 tokens stay float64; fp16/bf16 tokens
are promoted). Measured speed-ups: experiments/tokencut_2026-11-21.md (synthetic graphs, the earlier
ARPACK solver) and experiments/tokencut_solver_2026-11-28.md (this solver; graphs from photos too).

Degenerate graphs (all tokens alike, several equally good cuts, one token) have no unique second
eigenvector: when μ₁ − μ₂ or μ₂ − μ₃ is below `gap_tol` (or N < 2) the result is the documented
fallback — mask = every token, box = the whole grid, eigvec = zeros, `degenerate` = the reason.
Such boxes cover the whole frame, which the crop stage rejects. Never NaN.

Cut quality (the published code returns a box with no confidence; TokenCut issue #20): each result
carries `ncut_value`, the normalized cut of its bipartition on the same graph (Shi & Malik 2000:
cut(S, S̄)/assoc(S, V) + cut(S, S̄)/assoc(S̄, V), in [0, 2]; low = the two sides barely connect), and
`eigengap` = μ₂ − μ₃ (how clearly the cut's eigenvector stands apart from the next one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse
import torch
from scipy import ndimage

from sdstylegan.detect.lanczos import LanczosNotConverged, top_eigenpairs
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)

SOLVERS = ("auto", "lanczos", "torch", "dense")
SMALL_N = 64  # below this a full dense eigendecomposition is cheaper than Lanczos


def check_solver(solver: str) -> None:
    """Raise a clear error for a `detector.solver` that is not one of `SOLVERS`."""
    if solver not in SOLVERS:
        raise ValueError(f"detector.solver must be one of {SOLVERS}, got {solver!r}")


@dataclass
class NcutResult:
    """One image's cut: foreground component, its box in patch units, and the oriented eigenvector."""

    mask: np.ndarray  # bool (h, w): the seed's 4-connected foreground component
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in patch units, exclusive ends
    eigvec: np.ndarray  # float64 (h, w): generalised eigenvector, xᵀDx = 1, positive on the seed
    bipartition: np.ndarray  # bool (h, w): every token on the seed's side of the mean (before 4-connectivity)
    seed: tuple[int, int]  # (row, col) of argmax |eigvec|
    degenerate: str | None = None  # why the fallback was used, None for a proper cut
    ncut_value: float | None = None  # normalized cut of `bipartition` in [0, 2] (None for the fallback)
    eigengap: float | None = None  # μ₂ − μ₃ of M = D^-½AD^-½


# ---------------------------------------------------------------------------- graph


def binary_graph(feats: torch.Tensor | np.ndarray, tau: float = 0.2) -> np.ndarray:
    """Edges of TokenCut's graph for (N, C) tokens: cos(f_i, f_j) > tau, as a bool (N, N) matrix.

    Similarities are computed in the tokens' own precision (float32 from a ViT), as the published code does.
    """
    f = torch.as_tensor(feats)
    if f.ndim != 2:
        raise ValueError(f"expected (N, C) tokens, got shape {tuple(f.shape)}")
    if not torch.isfinite(f).all():
        raise ValueError("token features contain NaN or inf")
    f = torch.nn.functional.normalize(f if f.dtype == torch.float64 else f.float(), dim=-1)
    return (f @ f.T > tau).cpu().numpy()


def affinity(feats: torch.Tensor | np.ndarray, tau: float = 0.2, eps: float = 1e-5) -> np.ndarray:
    """TokenCut's affinity A for (N, C) tokens: 1 on the edges of `binary_graph`, eps elsewhere; float64."""
    return np.where(binary_graph(feats, tau), 1.0, float(eps))


# ---------------------------------------------------------------------------- solvers

# A CSR product beats the dense one below this edge density, on graphs large enough to repay building the
# CSR matrix (measured on one thread: at N = 768 dense wins at every density, at N = 1600 and 3600 CSR wins
# 1.1–7× below 0.25; experiments/tokencut_solver_2026-11-28.md).
SPARSE_DENSITY = 0.25
SPARSE_MIN_N = 1000
LANCZOS_TOLS = (1e-10, 1e-6)  # residuals of (μ₂, x) and μ₃: x error ≲ 1e-10/gap, μ₃ error ≲ 1e-12/gap


class _Graph:
    """Degrees and products A v of one graph: a dense float `a`, or TokenCut's binary graph as bool
    `edges` with `eps` (A = (1 − eps)·E + eps·11ᵀ, applied as (1 − eps)·E v + eps·Σv through a CSR
    matrix when E is sparse, never formed densely)."""

    def __init__(self, a: np.ndarray | None, edges: np.ndarray | None, eps: float, solver: str):
        self.a, self.csr, self.eps = a, None, eps
        if a is not None:
            self.d = a.sum(axis=1)
            return
        n = edges.shape[0]
        count = np.count_nonzero(edges, axis=1)
        self.d = (1.0 - eps) * count + eps * n
        if solver in ("auto", "lanczos") and n > SPARSE_MIN_N and count.sum() < SPARSE_DENSITY * n * n:
            self.csr = scipy.sparse.csr_matrix(edges, dtype=np.float64)
        else:
            self.a = np.where(edges, 1.0, float(eps))

    def dense(self) -> np.ndarray:
        return self.a if self.a is not None else np.where(self.csr.toarray() > 0, 1.0, self.eps)

    def matvec(self, v: np.ndarray) -> np.ndarray:
        if self.a is not None:
            return self.a @ v
        return (1.0 - self.eps) * (self.csr @ v) + self.eps * v.sum()

    def ncut_value(self, side: np.ndarray) -> float:
        """cut(S, S̄)/assoc(S, V) + cut(S, S̄)/assoc(S̄, V) with cut = 1_Sᵀ A 1_S̄ (one product)."""
        s = side.ravel().astype(np.float64)
        if s.sum() in (0, s.size):
            return 0.0
        cut = float(s @ self.matvec(1.0 - s))
        return cut / float(s @ self.d) + cut / float((1.0 - s) @ self.d)


def _solve_numpy(graph: _Graph, solver: str) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Cut eigenvector x (xᵀDx = 1) and (μ₁, μ₂, μ₃) of M = D^-½AD^-½ for one graph."""
    d = graph.d
    n = d.shape[0]
    if solver == "dense":  # the published solve: generalised problem, dense, float64
        a = graph.dense()
        lam, x = scipy.linalg.eigh(np.diag(d) - a, np.diag(d), subset_by_index=[0, min(2, n - 1)])
        mus = tuple(1.0 - v for v in lam) + (float("-inf"),) * (3 - len(lam))
        return x[:, 1], mus
    r = 1.0 / np.sqrt(np.maximum(d, np.finfo(np.float64).tiny))
    u1 = np.sqrt(d) / np.linalg.norm(np.sqrt(d))  # top eigenvector of M, eigenvalue 1, known exactly
    if n > SMALL_N:
        try:
            vals, vecs, _ = top_eigenpairs(lambda v: r * graph.matvec(r * v), n, u1[:, None], LANCZOS_TOLS)
            return vecs[:, 0] * r, (1.0, vals[0], vals[1])
        except LanczosNotConverged as e:
            log.debug("ncut: %s (N=%d); using a dense solve", e, n)
    vals, vecs = np.linalg.eigh(graph.dense() * r[:, None] * r[None, :])  # ascending; vals[-1] = 1
    return vecs[:, -2] * r, (vals[-1], vals[-2], vals[-3] if n >= 3 else float("-inf"))


def _solve_torch(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched: eigenvectors x (B, N) and top-3 μ (B, 3) of M for float graphs (B, N, N) on any device."""
    d = a.sum(dim=-1)
    r = d.clamp_min(torch.finfo(a.dtype).tiny).rsqrt()
    vals, vecs = torch.linalg.eigh(a * r[..., :, None] * r[..., None, :])  # ascending
    n = a.shape[-1]
    top = (
        vals[..., -3:].flip(-1)
        if n >= 3
        else torch.cat([vals.flip(-1), vals.new_full(vals.shape[:-1] + (3 - n,), -1e30)], -1)
    )
    return vecs[..., :, -2] * r, top


# ---------------------------------------------------------------------------- cut quality


def ncut_value(
    side: np.ndarray, a: np.ndarray | None = None, edges: np.ndarray | None = None, eps: float = 0.0
) -> float:
    """Normalized cut of bipartition `side` (bool, N) on a dense affinity `a`, or TokenCut's graph given as
    bool `edges` and `eps` (A = (1 − eps)·edges + eps·11ᵀ): cut/assoc(S) + cut/assoc(S̄), in [0, 2]."""
    if a is None and edges is None:
        raise ValueError("ncut_value needs a dense affinity `a` or a binary graph `edges`")
    graph = _Graph(None if a is None else np.asarray(a, dtype=np.float64), edges, eps, "auto")
    return graph.ncut_value(np.asarray(side, dtype=bool))


# ---------------------------------------------------------------------------- partition


def _fallback(grid_hw: tuple[int, int], reason: str) -> NcutResult:
    h, w = grid_hw
    return NcutResult(
        mask=np.ones((h, w), dtype=bool),
        box=(0, 0, w, h),
        eigvec=np.zeros((h, w)),
        bipartition=np.ones((h, w), dtype=bool),
        seed=(0, 0),
        degenerate=reason,
    )


def partition(x: np.ndarray, grid_hw: tuple[int, int]) -> NcutResult:
    """TokenCut's post-processing of eigenvector `x` (N,): mean split, seed orientation, 4-connected box."""
    h, w = grid_hw
    x = np.asarray(x, dtype=np.float64).ravel()
    if not np.isfinite(x).all():
        return _fallback(grid_hw, "non-finite eigenvector")
    side = x > x.mean()
    # The published code takes np.argmax(|x|): the first maximum. Tokens with identical graph rows have
    # equal |x| in exact arithmetic but differ in the last bits between solvers, so ties (relative 1e-9)
    # go to the lowest index, which makes the seed independent of rounding.
    ax = np.abs(x)
    seed = int(np.flatnonzero(ax >= ax.max() * (1 - 1e-9))[0])
    if not side[seed]:
        x, side = -x, ~side
    side = side.reshape(h, w)
    labels, _ = ndimage.label(side)  # default structure: 4-connectivity
    sr, sc = divmod(seed, w)
    mask = labels == labels[sr, sc]
    rows, cols = np.nonzero(mask)
    box = (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)
    return NcutResult(mask=mask, box=box, eigvec=x.reshape(h, w), bipartition=side, seed=(sr, sc))


def _check_gap(mus: tuple[float, float, float], gap_tol: float) -> str | None:
    mu1, mu2, mu3 = (float(v) for v in mus)
    if mu1 - mu2 < gap_tol:
        return f"disconnected graph: second eigenvalue equals the first (gap {mu1 - mu2:.2e})"
    if mu2 - mu3 < gap_tol:
        return f"no unique cut: second and third eigenvalues coincide (gap {mu2 - mu3:.2e}), e.g. all tokens alike"
    return None


def ncut_graph(
    a: np.ndarray,
    grid_hw: tuple[int, int],
    solver: str = "auto",
    gap_tol: float = 1e-9,
) -> NcutResult:
    """Normalized cut of one affinity matrix `a` (N, N), symmetric with positive degrees, on an (h, w) grid."""
    h, w = (int(v) for v in grid_hw)
    a = np.asarray(a, dtype=np.float64)
    if a.shape != (h * w, h * w):
        raise ValueError(f"affinity of shape {a.shape} does not match a {h}x{w} grid")
    check_solver(solver)
    return _cut(a, None, 0.0, (h, w), solver, gap_tol)


def ncut_binary(
    edges: np.ndarray,
    grid_hw: tuple[int, int],
    eps: float = 1e-5,
    solver: str = "auto",
    gap_tol: float = 1e-9,
) -> NcutResult:
    """Normalized cut of TokenCut's graph given as bool `edges` (N, N) (see `binary_graph`) and `eps`.

    Same result as `ncut_graph(np.where(edges, 1, eps))`, but a sparse graph is never formed densely.
    """
    h, w = (int(v) for v in grid_hw)
    edges = np.asarray(edges, dtype=bool)
    if edges.shape != (h * w, h * w):
        raise ValueError(f"graph of shape {edges.shape} does not match a {h}x{w} grid")
    check_solver(solver)
    return _cut(None, edges, float(eps), (h, w), solver, gap_tol)


def _cut(
    a: np.ndarray | None,
    edges: np.ndarray | None,
    eps: float,
    grid_hw: tuple[int, int],
    solver: str,
    gap_tol: float,
) -> NcutResult:
    if grid_hw[0] * grid_hw[1] < 2:
        return _fallback(grid_hw, "a single token cannot be cut")
    graph = _Graph(a, edges, eps, solver)
    if solver == "torch":
        x, mus = _solve_torch(torch.from_numpy(graph.dense())[None])
        x, mus = x[0].numpy(), tuple(mus[0].tolist())
    else:
        x, mus = _solve_numpy(graph, solver)
    reason = _check_gap(mus, gap_tol)
    res = _fallback(grid_hw, reason) if reason else partition(x, grid_hw)
    res.eigengap = float(mus[1] - mus[2])
    if not reason:
        res.ncut_value = graph.ncut_value(res.bipartition)
    return res


def ncut(
    feats: torch.Tensor | np.ndarray,
    grid_hw: tuple[int, int],
    tau: float = 0.2,
    eps: float = 1e-5,
    solver: str = "auto",
    gap_tol: float = 1e-9,
) -> NcutResult | list[NcutResult]:
    """TokenCut on tokens (N, C) → NcutResult, or batched (B, N, C) sharing one grid → list of results.

    `solver`: "auto" (batched torch eigh for CUDA tensors, Lanczos on the CPU), "lanczos", "torch" or
    "dense" (the published generalised solve). All give the same partitions on non-degenerate graphs.
    """
    check_solver(solver)
    f = torch.as_tensor(feats)
    single = f.ndim == 2
    if single:
        f = f[None]
    if f.ndim != 3:
        raise ValueError(f"ncut expects tokens (N, C) or (B, N, C), got shape {tuple(f.shape)}")
    h, w = (int(v) for v in grid_hw)
    if f.shape[1] != h * w:
        raise ValueError(f"{f.shape[1]} tokens do not fill a {h}x{w} grid")
    if solver == "torch" or (solver == "auto" and f.is_cuda):
        results = _ncut_torch_batch(f, (h, w), tau, eps, gap_tol)
    else:
        results = [_cut(None, binary_graph(fi, tau), float(eps), (h, w), solver, gap_tol) for fi in f]
    return results[0] if single else results


def _ncut_torch_batch(
    f: torch.Tensor, grid_hw: tuple[int, int], tau: float, eps: float, gap_tol: float
) -> list[NcutResult]:
    """The whole batch in one eigendecomposition on f's device (float64: eigenvalue gaps can be ~eps)."""
    if not torch.isfinite(f).all():
        raise ValueError("token features contain NaN or inf")
    if f.shape[1] < 2:
        return [_fallback(grid_hw, "a single token cannot be cut") for _ in range(f.shape[0])]
    fn = torch.nn.functional.normalize(f if f.dtype == torch.float64 else f.float(), dim=-1)
    sim = fn @ fn.transpose(1, 2)
    a = torch.where(sim > tau, 1.0, float(eps)).to(torch.float64)
    x, mus = _solve_torch(a)
    x, mus = x.cpu().numpy(), mus.cpu().numpy()
    out = []
    for ai, xi, mi in zip(a, x, mus):
        reason = _check_gap(tuple(mi), gap_tol)
        res = _fallback(grid_hw, reason) if reason else partition(xi, grid_hw)
        res.eigengap = float(mi[1] - mi[2])
        if not reason:  # the cut and degrees on the graph's device; two scalars come back
            side = torch.from_numpy(res.bipartition.ravel()).to(ai.device)
            deg = ai.sum(dim=1)
            cut = ai[side][:, ~side].sum()
            res.ncut_value = float(cut / deg[side].sum() + cut / deg[~side].sum())
        out.append(res)
    return out
