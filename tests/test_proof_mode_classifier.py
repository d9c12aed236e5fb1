"""The mode classifier learns separable classes, reports held-out accuracy honestly, and is seeded."""

from __future__ import annotations

import torch

from sdstylegan.proof.mode_classifier import ModeNet, colour_blind, train_mode_classifier


def _planted(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images whose class is the colour channel that is bright (plus noise)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=g)
    x = torch.randint(0, 60, (n, 3, 16, 16), generator=g)
    x[torch.arange(n), labels] += 150
    return x.to(torch.uint8), labels


def test_learns_separable_modes_and_holds_out_the_right_share():
    x, y = _planted(300, 0)
    clf = train_mode_classifier(x, y, ["r", "g", "b"], seed=1, holdout=0.2, epochs=4)
    assert clf.holdout_images == 60 and clf.train_images == 240
    assert clf.holdout_accuracy >= 0.95
    assert (clf.predict(x.float() / 127.5 - 1) == y).float().mean() >= 0.95


def test_random_labels_give_chance_level_holdout_accuracy():
    x, _ = _planted(300, 0)
    y = torch.randint(0, 3, (300,), generator=torch.Generator().manual_seed(5))  # unrelated to the pixels
    clf = train_mode_classifier(x, y, ["a", "b", "c"], seed=1, holdout=0.3, epochs=4)
    assert clf.holdout_accuracy < 0.55


def test_same_seed_same_classifier():
    x, y = _planted(120, 2)
    a = train_mode_classifier(x, y, ["r", "g", "b"], seed=3, epochs=2)
    b = train_mode_classifier(x, y, ["r", "g", "b"], seed=3, epochs=2)
    for p, q in zip(a.net.parameters(), b.net.parameters()):
        assert torch.equal(p, q)
    assert a.summary() == b.summary()


def test_net_accepts_any_size_from_16():
    net = ModeNet(4).eval()
    assert net(torch.zeros(2, 3, 16, 16)).shape == net(torch.zeros(2, 3, 64, 64)).shape == (2, 4)


def test_colour_blind_classifier_sees_luminance_only():
    x, y = _planted(300, 0)
    grey = train_mode_classifier(x, y, ["r", "g", "b"], seed=1, holdout=0.2, epochs=4, grey=True)
    colour = train_mode_classifier(x, y, ["r", "g", "b"], seed=1, holdout=0.2, epochs=4)
    assert grey.summary()["grey"] is True and colour.summary()["grey"] is False
    f = x.float() / 127.5 - 1
    g = colour_blind(f)
    assert g.shape == f.shape and torch.equal(g[:, 0], g[:, 2])
    # An image and its grey version have the same luminance: the colour-blind labels cannot differ ...
    assert torch.equal(grey.predict(f), grey.predict(g))
    # ... while the colour classifier, whose classes are colours, loses them on the grey version.
    assert (colour.predict(f) == y).float().mean() >= 0.95
    assert (colour.predict(g) == y).float().mean() < 0.8
