"""TokenCut's normalized cut: planted objects, agreement with the dense generalised solve, degenerate graphs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy import ndimage

from sdstylegan.detect.tokencut import (
    SPARSE_DENSITY,
    SPARSE_MIN_N,
    affinity,
    binary_graph,
    ncut,
    ncut_binary,
    ncut_graph,
    ncut_value,
    partition,
)


def reference_tokencut(feats: np.ndarray, grid_hw: tuple[int, int], tau: float = 0.2, eps: float = 1e-5):
    """The published recipe written out plainly: dense generalised eigh, mean split, argmax seed, 4-conn box."""
    h, w = grid_hw
    f = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    a = f @ f.T
    a = np.where(a > tau, 1.0, eps)
    d = np.diag(a.sum(axis=1))
    _, vecs = scipy.linalg.eigh(d - a, d, subset_by_index=[1, 2])
    v = vecs[:, 0]
    side = v > v.mean()
    seed = np.argmax(np.abs(v))
    if not side[seed]:
        side = ~side
    labels, _ = ndimage.label(side.reshape(h, w))
    mask = labels == labels[np.unravel_index(seed, (h, w))]
    ys, xs = np.nonzero(mask)
    return side.reshape(h, w), mask, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def planted(
    h: int, w: int, box: tuple[int, int, int, int], c: int = 64, seed: int = 0, background: str = "coherent"
) -> np.ndarray:
    """Tokens: a block of mutually similar tokens at `box` among background tokens dissimilar to it."""
    rng = np.random.default_rng(seed)
    noise = 0.35 * np.sqrt(64 / c)  # noise norm ≈ 2.8 against a signal of 3: within-group cosines ≈ 0.5
    fg_dir, bg_dir = rng.standard_normal(c), rng.standard_normal(c)
    bg_dir -= fg_dir * (fg_dir @ bg_dir) / (fg_dir @ fg_dir)  # orthogonal to the object
    if background == "coherent":
        f = bg_dir / np.linalg.norm(bg_dir) * 3 + rng.standard_normal((h * w, c)) * noise
    else:  # every background token points its own way
        f = rng.standard_normal((h * w, c))
    grid = np.zeros((h, w), bool)
    x0, y0, x1, y1 = box
    grid[y0:y1, x0:x1] = True
    f[grid.ravel()] = fg_dir / np.linalg.norm(fg_dir) * 3 + rng.standard_normal((grid.sum(), c)) * noise
    return f.astype(np.float32)


def random_tokens(n: int, c: int, seed: int) -> np.ndarray:
    """Low-dimensional random tokens: a graph with no structure planted but with a well-defined cut."""
    return np.random.default_rng(seed).standard_normal((n, c)).astype(np.float32)


# ---------------------------------------------------------------------------- planted objects


@pytest.mark.parametrize(
    "box,background",
    [
        ((5, 3, 11, 8), "coherent"),
        ((0, 0, 4, 3), "coherent"),
        ((9, 7, 16, 12), "coherent"),
        ((6, 4, 9, 7), "random"),
    ],
)
@pytest.mark.parametrize("solver", ["auto", "torch", "dense"])
def test_planted_block_gives_exactly_its_box(box, background, solver):
    h, w = 12, 16
    c = 64 if background == "coherent" else 384  # random 384-d tokens: pairwise cosines ~ N(0, 0.05²) < tau
    res = ncut(torch.from_numpy(planted(h, w, box, c=c, background=background)), (h, w), solver=solver)
    assert res.degenerate is None
    assert res.box == box
    expected = np.zeros((h, w), bool)
    expected[box[1] : box[3], box[0] : box[2]] = True
    np.testing.assert_array_equal(res.mask, expected)
    assert res.eigvec[res.seed] > 0 and res.mask[res.seed]


def test_mask_is_the_seed_component_only():
    """Two planted blocks on the same side of the cut: only the seed's 4-connected block is kept."""
    h, w = 10, 10
    x = np.full((h, w), -1.0)
    x[1:4, 1:4] = 2.0  # seed block (largest |x|)
    x[6:9, 5:9] = 1.5  # same side, separate component
    x[4, 4] = 1.5  # touches the seed block only diagonally: not 4-connected
    res = partition(x.ravel(), (h, w))
    assert res.box == (1, 1, 4, 4)
    assert res.mask.sum() == 9 and res.bipartition.sum() == 9 + 12 + 1


def test_orientation_flips_so_the_seed_side_is_foreground():
    x = np.zeros(12)
    x[:3] = -5.0  # the largest |x| lies below the mean
    x[3:] = 0.4
    res = partition(x, (3, 4))
    assert res.seed == (0, 0) and res.box == (0, 0, 3, 1)
    assert res.eigvec[0, 0] == 5.0  # flipped: positive on the foreground


# ---------------------------------------------------------------------------- agreement with the dense solve


CASES = [
    ("random", 8, 8, 8, 0),
    ("random", 20, 24, 16, 1),
    ("random", 32, 34, 16, 2),
    ("planted", 20, 24, 64, 3),
    ("planted", 30, 33, 64, 4),
]


@pytest.mark.parametrize("kind,h,w,c,seed", CASES)
def test_same_partitions_as_dense_generalised_eigh(kind, h, w, c, seed):
    f = random_tokens(h * w, c, seed) if kind == "random" else planted(h, w, (7, 5, 19, 16), c, seed)
    side, mask, box = reference_tokencut(f.astype(np.float64), (h, w))
    # The reference thresholds a float64 similarity; ours uses float32 like the published code. Compare
    # on the exact same graph (affinity from float64 tokens) so borderline pairs cannot differ.
    f64 = torch.from_numpy(f.astype(np.float64))
    edges = binary_graph(f64)
    # dense matrix input, and the binary form (sparse products when the graph is sparse)
    for res in (ncut_graph(affinity(f64), (h, w)), ncut_binary(edges, (h, w))):
        assert res.degenerate is None
        np.testing.assert_array_equal(res.bipartition, side)
        np.testing.assert_array_equal(res.mask, mask)
        assert res.box == tuple(int(v) for v in box)
    if kind == "random":
        assert 0 < side.sum() < h * w  # a real cut, not a trivial side
        # the largest case exercises the sparse (CSR) products
        assert h * w <= SPARSE_MIN_N or edges.mean() < SPARSE_DENSITY


def test_torch_batched_solver_agrees_with_lanczos():
    h, w = 9, 10  # torch's CPU eigh is slow; the batched path is the same at any size
    feats = torch.from_numpy(np.stack([random_tokens(h * w, 6, s) for s in range(3)]).astype(np.float64))
    batched = ncut(feats, (h, w), solver="torch")
    single = [ncut(f, (h, w), solver="lanczos") for f in feats]
    assert len(batched) == 3
    for b, s in zip(batched, single):
        assert b.degenerate is None
        np.testing.assert_array_equal(b.mask, s.mask)
        np.testing.assert_allclose(b.eigvec, s.eigvec, atol=1e-8)


def test_eigvec_is_d_normalised():
    f = random_tokens(20 * 24, 12, 5)
    a = affinity(torch.from_numpy(f))
    res = ncut_graph(a, (20, 24))
    x = res.eigvec.ravel()
    assert x @ (a.sum(1) * x) == pytest.approx(1.0, rel=1e-8)


def test_affinity_is_binary_with_eps():
    f = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    a = affinity(f, tau=0.2, eps=1e-3)
    np.testing.assert_array_equal(a, [[1, 1, 1e-3], [1, 1, 1e-3], [1e-3, 1e-3, 1]])


# ---------------------------------------------------------------------------- cut quality


def test_ncut_value_by_hand():
    # 4 nodes, dense affinity; S = {0, 1}. cut = a02 + a03 + a12 + a13 = 0.1 + 0 + 0 + 0.2 = 0.3
    a = np.array([[0, 1, 0.1, 0], [1, 0, 0, 0.2], [0.1, 0, 0, 1], [0, 0.2, 1, 0]])
    # degrees 1.1, 1.2, 1.1, 1.2 → assoc(S) = assoc(S̄) = 2.3 → ncut = 0.3/2.3 · 2
    assert ncut_value(np.array([1, 1, 0, 0], bool), a=a) == pytest.approx(0.6 / 2.3)
    edges = a > 0.5  # binary graph with eps: A = (1 − eps)·edges + eps
    ref = ncut_value(np.array([1, 1, 0, 0], bool), a=np.where(edges, 1.0, 0.01))
    assert ncut_value(np.array([1, 1, 0, 0], bool), edges=edges, eps=0.01) == pytest.approx(ref)
    assert ncut_value(np.ones(4, bool), a=a) == 0.0


@pytest.mark.parametrize("solver", ["auto", "torch", "dense"])
def test_cut_quality_is_recorded_and_ranks_a_clean_object_above_noise(solver):
    h, w = 12, 16
    clean = ncut(torch.from_numpy(planted(h, w, (5, 3, 11, 8))), (h, w), solver=solver)
    noise = ncut(torch.from_numpy(random_tokens(h * w, 6, 0)), (h, w), solver=solver)
    assert clean.ncut_value is not None and noise.ncut_value is not None
    edges = binary_graph(torch.from_numpy(planted(h, w, (5, 3, 11, 8))))
    assert clean.ncut_value == pytest.approx(ncut_value(clean.bipartition, edges=edges, eps=1e-5), rel=1e-6)
    assert (
        clean.ncut_value < 0.2 < 0.5 < noise.ncut_value <= 2.0
    )  # a separate object barely connects (0.07 vs 0.6)
    assert clean.eigengap > noise.eigengap > 0


def test_fallback_has_no_ncut_value_but_a_gap():
    res = ncut(torch.ones(9 * 11, 5), (9, 11))
    assert res.ncut_value is None and res.eigengap is not None and abs(res.eigengap) < 1e-6


# ---------------------------------------------------------------------------- degenerate graphs


@pytest.mark.parametrize("solver", ["auto", "torch", "dense"])
def test_all_tokens_alike_fall_back_to_whole_grid(solver):
    f = torch.ones(9 * 11, 5)
    res = ncut(f, (9, 11), solver=solver)
    assert res.degenerate is not None and "no unique cut" in res.degenerate
    assert res.box == (0, 0, 11, 9) and res.mask.all()
    assert np.isfinite(res.eigvec).all()


def test_identical_token_groups_have_no_unique_cut():
    # Three equal groups of identical tokens: any two-vs-one split is equally good (μ₂ = μ₃). N > 64 so
    # the Lanczos path runs; its Krylov space holds one copy of μ₂ and must still see the second.
    f = np.zeros((90, 3), np.float32)
    f[:30, 0], f[30:60, 1], f[60:, 2] = 1, 1, 1
    for solver in ("auto", "dense"):
        res = ncut(torch.from_numpy(f), (9, 10), solver=solver)
        assert res.degenerate is not None and "no unique cut" in res.degenerate


def test_disconnected_graph_without_eps_falls_back():
    f = np.zeros((80, 2), np.float32)
    f[:40, 0] = 1
    f[40:, 1] = 1
    res = ncut(torch.from_numpy(f), (8, 10), eps=0.0)
    assert res.degenerate is not None and "disconnected" in res.degenerate
    assert res.box == (0, 0, 10, 8)


def test_single_token_and_zero_tokens_do_not_crash():
    assert ncut(torch.ones(1, 4), (1, 1)).degenerate
    assert ncut(torch.ones(1, 1, 4), (1, 1), solver="torch")[0].degenerate
    zero = ncut(torch.zeros(70, 4), (7, 10))  # zero vectors: no edges but the eps ones
    assert np.isfinite(zero.eigvec).all()


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="NaN"):
        ncut(torch.full((4, 3), float("nan")), (2, 2))
    with pytest.raises(ValueError, match="grid"):
        ncut(torch.ones(5, 3), (2, 2))
    with pytest.raises(ValueError, match="solver"):
        ncut(torch.ones(4, 3), (2, 2), solver="magic")


@pytest.mark.gpu
def test_cuda_batch_matches_cpu():
    h, w = 20, 24
    feats = torch.from_numpy(np.stack([planted(h, w, (3, 4, 9 + s, 12), seed=s) for s in range(4)]))
    on_gpu = ncut(feats.cuda(), (h, w))  # auto: one batched float64 eigh on the GPU
    on_cpu = ncut(feats, (h, w))
    for g, c in zip(on_gpu, on_cpu):
        assert g.box == c.box
        np.testing.assert_array_equal(g.mask, c.mask)
