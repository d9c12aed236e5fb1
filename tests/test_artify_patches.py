"""artify.patches: 3×3 neighbourhood patches and the patch-match score, against a plain-loop brute force."""

from __future__ import annotations

import numpy as np
import torch

from sdstylegan.artify.patches import (
    extract_patches,
    global_descriptor,
    nearest_patches,
    normalized_patches,
    patch_match_scores,
)


def loop_patches(fmap: np.ndarray) -> np.ndarray:
    """(C, h, w) → (h·w, C·9): the zero-padded 3×3 neighbourhood of every position, channel-major."""
    c, h, w = fmap.shape
    padded = np.zeros((c, h + 2, w + 2), fmap.dtype)
    padded[:, 1:-1, 1:-1] = fmap
    return np.stack([padded[:, y : y + 3, x : x + 3].reshape(-1) for y in range(h) for x in range(w)])


def loop_score(content: np.ndarray, style: np.ndarray) -> float:
    """Σ over content patches of the best cosine similarity to any style patch, one pair at a time."""
    cp, sp = loop_patches(content), loop_patches(style)
    total = 0.0
    for a in cp:
        best = -np.inf
        for b in sp:
            best = max(best, float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
        total += best
    return total


def test_patches_are_the_zero_padded_neighbourhoods():
    fmap = torch.randn(2, 4, 5, 6)
    p = extract_patches(fmap)
    assert p.shape == (2, 30, 36)
    for i in range(2):
        np.testing.assert_allclose(p[i].numpy(), loop_patches(fmap[i].numpy()), rtol=0, atol=0)
    corner = extract_patches(torch.ones(1, 1, 3, 3))[0, 0].view(3, 3)  # top-left: padded row and column
    assert corner.tolist() == [[0, 0, 0], [0, 1, 1], [0, 1, 1]]
    assert torch.allclose(normalized_patches(fmap).norm(dim=-1), torch.ones(2, 30))


def test_patch_match_score_equals_brute_force():
    g = torch.Generator().manual_seed(0)
    content = torch.randn(8, 4, 4, generator=g)
    styles = torch.randn(7, 8, 3, 5, generator=g)
    cp = normalized_patches(content)[0]
    got = patch_match_scores(cp, styles.half(), chunk=3)  # float16 maps as stored, across chunks
    want = [loop_score(content.numpy(), s.half().float().numpy()) for s in styles]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-4)
    # a style that contains the content exactly scores the maximum, one per content patch
    assert abs(patch_match_scores(cp, content[None]).item() - 16.0) < 1e-4


def test_nearest_patches_finds_shifted_copies():
    g = torch.Generator().manual_seed(1)
    style = torch.randn(1, 6, 6, 6, generator=g)
    content = style[:, :, 1:5, 2:6]  # a crop: interior patches have an exact twin in the style
    idx, sim = nearest_patches(normalized_patches(content)[0], normalized_patches(style)[0])
    inner = [(y, x) for y in range(1, 3) for x in range(1, 3)]
    for y, x in inner:
        assert idx[y * 4 + x].item() == (y + 1) * 6 + (x + 2)
        assert sim[y * 4 + x].item() > 0.9999


def test_global_descriptor_is_channel_mean_and_max():
    fmap = torch.randn(3, 5, 2, 4)
    d = global_descriptor(fmap)
    assert d.shape == (3, 10)
    for n in range(3):
        for c in range(5):
            values = fmap[n, c].flatten().tolist()
            assert abs(d[n, c].item() - sum(values) / 8) < 1e-6 and d[n, 5 + c].item() == max(values)
