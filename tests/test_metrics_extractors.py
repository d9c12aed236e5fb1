"""The stand-in extractor: seeded, labelled, identity follows the weights."""

import torch

from sdstylegan.metrics.extractors import StandinExtractor, state_fingerprint


def test_standin_is_deterministic_labelled_and_frozen():
    a, b, c = StandinExtractor(16, seed=0), StandinExtractor(16, seed=0), StandinExtractor(16, seed=1)
    x = torch.randint(0, 256, (3, 3, 24, 40), dtype=torch.uint8)
    fa = a(x)
    assert fa.shape == (3, 16) and fa.dtype == torch.float32
    assert torch.equal(fa, b(x)) and not torch.equal(fa, c(x))
    assert a.identity == b.identity != c.identity
    assert a.is_standin and a.label == "standin_cnn_standin"
    a.train()
    assert not a.training and not any(p.requires_grad for p in a.parameters())


def test_standin_does_not_consume_the_global_random_stream():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    StandinExtractor(8, seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_state_fingerprint_changes_with_any_weight():
    m = torch.nn.Linear(3, 2)
    before = state_fingerprint(m)
    assert state_fingerprint(m) == before
    with torch.no_grad():
        m.bias[0] += 1e-3
    assert state_fingerprint(m) != before
