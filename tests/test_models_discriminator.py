"""Discriminator: shapes at 16…256, minibatch-std, R1-style double backward, clear errors for bad images."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.models import Discriminator
from sdstylegan.models.discriminator import MinibatchStdLayer


def tiny_d(res: int, **kw) -> Discriminator:
    torch.manual_seed(0)
    return Discriminator(img_resolution=res, channel_base=256, channel_max=16, **kw)


@pytest.mark.parametrize("res", [16, 32, 64, 128, 256])
def test_logit_shape(res):
    D = tiny_d(res)
    out = D(torch.randn(4, 3, res, res))
    assert out.shape == (4, 1) and torch.isfinite(out).all()


def test_minibatch_std_appends_group_std():
    layer = MinibatchStdLayer(group_size=2)
    x = torch.tensor([0.0, 2.0, 10.0, 10.0]).reshape(4, 1, 1, 1)
    y = layer(x)
    # Groups pair sample i with i + 2: (0, 10) and (2, 10) → population std 5 and 4.
    torch.testing.assert_close(y[:, 1].flatten(), torch.tensor([5.0, 4.0, 5.0, 4.0]), atol=1e-3, rtol=0)
    assert layer(torch.randn(3, 1, 2, 2)).shape == (3, 2, 2, 2)  # batch 3: group shrinks to a divisor


def test_scores_depend_on_the_rest_of_the_batch_through_mbstd():
    D = tiny_d(16)
    x = torch.randn(4, 3, 16, 16)
    y = x.clone()
    y[1:] = torch.randn(3, 3, 16, 16) * 3
    assert not torch.allclose(D(x)[0], D(y)[0])


def test_r1_double_backward():
    D = tiny_d(16)
    img = torch.randn(4, 3, 16, 16, requires_grad=True)
    (grad,) = torch.autograd.grad(D(img).sum(), img, create_graph=True)
    penalty = grad.square().sum()
    penalty.backward()
    # The penalty reaches the weights through the second-order graph (the last bias cannot affect it).
    for weight in (D.blocks["b16"].fromrgb.weight, D.blocks["b16"].conv1.weight, D.epilogue.out.weight):
        assert weight.grad is not None and torch.count_nonzero(weight.grad) > 0


def test_bad_images_are_clear_errors():
    D = tiny_d(32)
    with pytest.raises(ValueError, match=r"\[N, 3, 32, 32\]"):
        D(torch.randn(2, 3, 16, 16))
    with pytest.raises(ValueError, match=r"\[N, 3, 32, 32\]"):
        D(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match=">= 8"):
        tiny_d(4)


@pytest.mark.slow
def test_1024():
    assert tiny_d(1024)(torch.randn(2, 3, 1024, 1024)).shape == (2, 1)
