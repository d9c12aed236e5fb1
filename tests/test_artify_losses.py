"""artify.losses: the match field, its propagation to finer layers, Gram of matched features, histograms, TV."""

from __future__ import annotations

import numpy as np
import torch

from sdstylegan.artify.losses import (
    gram,
    histogram_remap,
    match_field,
    propagate,
    rearrange,
    sorted_channels,
    total_variation,
)


def test_match_field_of_a_shuffled_style_recovers_the_shuffle():
    g = torch.Generator().manual_seed(0)
    style = torch.randn(1, 16, 4, 4, generator=g)
    perm = torch.tensor([5, 6, 9, 10])  # a 2×2 interior block moved to the content's top-left ...
    content = style.clone()
    content[0, :, 0:2, 0:2] = style.flatten(2)[0][:, perm].view(16, 2, 2)
    field, sim = match_field(content, style)
    # ... positions far from the pasted block keep their own style position
    for pos in (11, 14, 15):
        assert field[pos].item() == pos and sim[pos].item() > 0.999


def test_propagation_expands_each_match_to_its_block():
    field = torch.tensor([3, 0, 1, 2])  # 2×2 content map, 2×2 style map: (0,0)→(1,1), (0,1)→(0,0), ...
    pos = propagate(field, (2, 2), 2, (4, 4), (4, 4)).view(4, 4)
    # content (Y, X) at 2× takes style (ys·2 + Y%2, xs·2 + X%2) of its parent's match
    want = torch.empty(4, 4, dtype=torch.long)
    for Y in range(4):
        for X in range(4):
            ys, xs = divmod(int(field[(Y // 2) * 2 + X // 2]), 2)
            want[Y, X] = (ys * 2 + Y % 2) * 4 + xs * 2 + X % 2
    assert torch.equal(pos, want)
    style = torch.arange(16.0).view(1, 1, 4, 4)
    moved = rearrange(style, pos.view(-1), (4, 4))
    assert torch.equal(moved[0, 0, 0:2, 0:2], style[0, 0, 2:4, 2:4])  # the block of match (1, 1)


def test_gram_of_matched_features_against_numpy():
    g = torch.Generator().manual_seed(2)
    style = torch.randn(1, 5, 4, 4, generator=g)
    field = torch.randint(0, 16, (16,), generator=g)
    matched = rearrange(style, propagate(field, (4, 4), 4, (4, 4), (4, 4)), (4, 4))
    s = style[0].reshape(5, 16).numpy()
    m = s[:, field.numpy()]  # same layer: the matched features are the style columns in field order
    np.testing.assert_allclose(gram(matched)[0].numpy(), m @ m.T / 16, rtol=1e-5, atol=1e-5)
    # Gram ignores the arrangement but not the choice: a field using one position only differs
    one = rearrange(style, torch.zeros(16, dtype=torch.long), (4, 4))
    assert not torch.allclose(gram(one), gram(matched))


def test_histogram_remap_gives_the_target_distribution_in_the_source_order():
    g = torch.Generator().manual_seed(3)
    f = torch.randn(1, 3, 64, 64, generator=g)
    target = torch.rand(1, 3, 32, 48, generator=g) ** 2 * 10 + 5  # skewed, another size
    out = histogram_remap(f, sorted_channels(target))
    for c in range(3):
        x, y = f[0, c].flatten(), out[0, c].flatten()
        assert (y[x.argsort()].diff() >= -1e-6).all()  # monotone: the order of the source is kept
        assert abs(y.min().item() - target[0, c].min().item()) < 1e-5
        assert abs(y.max().item() - target[0, c].max().item()) < 1e-5
        # the values now follow the target's quantiles (to within the histogram's resolution)
        want = torch.quantile(target[0, c].flatten(), torch.linspace(0, 1, 101))
        got = torch.quantile(y, torch.linspace(0, 1, 101))
        assert (got - want).abs().max() < 0.15 and (f[0, c].flatten().quantile(0.5) - want[50]).abs() > 4
    same = histogram_remap(f, sorted_channels(f))
    assert (same - f).abs().mean() < 0.01 and (same - f).abs().max() < 0.3  # matched to itself: barely moves


def test_total_variation():
    flat = torch.zeros(1, 3, 8, 8)
    assert total_variation(flat).item() == 0
    stripes = flat.clone()
    stripes[..., ::2] = 1
    assert (
        abs(total_variation(stripes).item() - 1.0) < 1e-6
    )  # every horizontal step changes by 1, none vertical
