"""artify.transfer: the loss falls with Adam and L-BFGS, the start image is rearranged style, bad inputs refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdstylegan.artify.procedural import artwork
from sdstylegan.artify.transfer import transfer
from sdstylegan.artify.vgg import VGGFeatures

WEIGHTS = {"content": 1.0, "style": 5.0, "histogram": 1.0, "tv": 0.5}


@pytest.fixture(scope="module")
def vgg():
    return VGGFeatures("vgg19", pretrained=False, width=0.125, layers=("conv4_1",))


def pic(seed: int, size: int = 32) -> torch.Tensor:
    a = np.asarray(artwork(seed, (size, size)), np.float32)
    return torch.from_numpy(a).permute(2, 0, 1)[None] / 127.5 - 1


def test_adam_lowers_the_loss_from_the_matched_start(vgg):
    content, style = pic(1), pic(2, 48)  # style of another size
    res = transfer(vgg, content, style, WEIGHTS, iterations=30, log_every=5, progress=False)
    first, last = res.losses[0], res.losses[-1]
    # normalised by the content↔style gap: starting from the rearranged style, the content term is its weight
    assert abs(first["content"] - WEIGHTS["content"]) < 1e-4 and first["style"] < WEIGHTS["style"]
    assert last["total"] < 0.8 * first["total"] and last["content"] < 0.5 * first["content"]
    assert last["style"] < 0.5 * WEIGHTS["style"]  # still nearer the style's statistics than the content is
    assert res.image.shape == content.shape and res.image.abs().max() <= 1
    # the start image is made of style pixels only (rearranged by the patch matches)
    style_px = {tuple(v) for v in style[0].reshape(3, -1).T.tolist()}
    assert all(tuple(v) in style_px for v in res.init[0].reshape(3, -1).T.tolist())
    assert not torch.equal(res.init, res.image)


def test_lbfgs_from_the_content_moves_towards_the_style(vgg):
    res = transfer(
        vgg, pic(3), pic(4), WEIGHTS, optimizer="lbfgs", iterations=15, init="content", progress=False
    )
    first, last = res.losses[0], res.losses[-1]
    assert abs(first["style"] - WEIGHTS["style"]) < 1e-3  # at the content, the style term is the whole gap
    assert last["total"] < 0.8 * first["total"] and last["style"] < 0.5 * first["style"]


def test_without_style_weight_the_result_keeps_the_content(vgg):
    content = pic(5)
    res = transfer(vgg, content, pic(6), {"content": 1.0}, iterations=5, init="content", progress=False)
    assert (res.image - content).abs().max() < 1e-6  # content loss is zero at the start: nothing moves


def test_bad_inputs_are_refused(vgg):
    c = pic(1)
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        transfer(vgg, c[0], c, WEIGHTS, progress=False)
    with pytest.raises(ValueError, match="optimizer"):
        transfer(vgg, c, c, WEIGHTS, optimizer="sgd", progress=False)
    with pytest.raises(ValueError, match="iterations"):
        transfer(vgg, c, c, WEIGHTS, iterations=0, progress=False)
    with pytest.raises(ValueError, match="init"):
        transfer(vgg, c, c, WEIGHTS, init="zeros", iterations=1, progress=False)
