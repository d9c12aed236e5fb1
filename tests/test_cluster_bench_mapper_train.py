"""Mapper training: every loss term's gradient reaches the MLP, G and the encoders stay as they were, it learns."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from sdstylegan.cluster_bench.encoders import PixelEncoder
from sdstylegan.cluster_bench.mapper_net import FeatureMapper
from sdstylegan.cluster_bench.mapper_train import (
    MapperTrainConfig,
    NoGradientError,
    check_gradients,
    loss_terms,
    train_mapper,
)
from sdstylegan.invert.projector import w_statistics
from sdstylegan.metrics.extractors import StandinExtractor
from sdstylegan.metrics.lpips import LPIPS

sys.path.insert(0, str(Path(__file__).parent))
from cluster_bench_fixtures import tiny_checkpoint  # noqa: E402
from test_invert_projector import tiny_g  # noqa: E402

ALL_TERMS = MapperTrainConfig(steps=1, batch_size=4, generated_per_batch=2)


@pytest.fixture(scope="module")
def setup():
    G = tiny_g()
    with torch.no_grad():
        x = G(torch.randn(8, 8, generator=torch.Generator().manual_seed(3)), noise_mode="const").clamp(-1, 1)
    enc = PixelEncoder(size=4)
    m = FeatureMapper(enc, enc.num_features, G.w_dim, G.num_ws, w_statistics(G, 1000)[0], hidden=16)
    return G, x, m, LPIPS("vgg", pretrained=False).eval().requires_grad_(False)


def state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def test_every_term_reaches_the_mapper(setup):
    G, x, m, lpips = setup
    feats = m.features(x[:4])
    m.set_statistics(feats)
    f_enc = StandinExtractor(num_features=8, input_size=8)  # a separate feature-loss encoder
    target = f_enc((x[:4] * 127.5 + 127.5).round().to(torch.uint8))
    terms = loss_terms(m, G, lpips, x[:4], feats, ALL_TERMS, f_enc, target)
    assert set(terms) == {"l1", "lpips", "feature", "w"}
    params = list(m.mlp.parameters())
    for name, term in terms.items():
        grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
        assert all(g is not None for g in grads), name
        assert sum(float(g.norm()) for g in grads) > 0, name
    check_gradients(terms, m)  # the same check the training loop runs: passes


def test_a_term_without_gradient_is_refused(setup, tmp_path):
    """What the study's CLIP terms did: features of generated images computed without a graph."""
    G, x, m, lpips = setup
    feats = m.features(x[:4])
    detached = loss_terms(m, G, lpips, x[:4], feats, MapperTrainConfig(lambda_l1=0, lambda_lpips=0))
    detached["feature"] = detached["feature"].detach()
    with pytest.raises(NoGradientError, match="'feature' passes no gradient"):
        check_gradients(detached, m)
    # The run's discriminator features are computed under no_grad: refused at the first step, named.
    from sdstylegan.cluster_bench.run_networks import RunNetworkEncoder

    d = RunNetworkEncoder("D", tiny_checkpoint(tmp_path / "last.ckpt"))
    f_target = d((x[:4] * 127.5 + 127.5).round().to(torch.uint8))
    with pytest.raises(NoGradientError, match="encoder D_penultimate is not differentiable"):
        train_mapper(m, G, lpips, x[:4], feats, MapperTrainConfig(steps=1, batch_size=4), d, f_target)


def test_training_changes_only_the_mapper_and_lowers_the_loss(setup):
    G, x, m, lpips = setup
    g0, e0, mlp0 = state(G), state(m.encoder), state(m.mlp)
    f_enc = StandinExtractor(num_features=8, input_size=8)
    f0 = state(f_enc)
    u8 = (x * 127.5 + 127.5).round().to(torch.uint8)
    cfg = MapperTrainConfig(steps=30, batch_size=8, lr=3e-3, generated_per_batch=2)
    hist = train_mapper(m, G, lpips, x, m.features(x), cfg, f_enc, f_enc(u8))
    assert len(hist) == 30 and {"l1", "lpips", "feature", "w"} <= set(hist[0])
    first = sum(h["loss"] for h in hist[:5]) / 5
    last = sum(h["loss"] for h in hist[-5:]) / 5
    assert last < 0.8 * first, (first, last)
    for before, net in ((g0, G), (e0, m.encoder), (f0, f_enc)):
        after = state(net)
        assert all(torch.equal(before[k], after[k]) for k in before)
    assert not all(torch.equal(mlp0[k], v) for k, v in state(m.mlp).items())
    assert all(not p.requires_grad for p in G.parameters())
