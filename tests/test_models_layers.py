"""Equalised-lr layers against their written-out formulas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sdstylegan.models.layers import Conv2dLayer, FullyConnected, check_image, normalize_2nd_moment


def test_fully_connected_scales_weight_and_bias_by_lr_multiplier():
    torch.manual_seed(0)
    fc = FullyConnected(6, 4, activation="lrelu", lr_multiplier=0.01, bias_init=0.5)
    assert fc.weight.std().item() == pytest.approx(100, rel=0.5)  # stored as N(0,1)/lr_mult
    x = torch.randn(3, 6)
    w = fc.weight * 0.01 / math.sqrt(6)
    want = F.leaky_relu(x @ w.t() + fc.bias * 0.01, 0.2) * math.sqrt(2)
    torch.testing.assert_close(fc(x), want)
    linear = FullyConnected(6, 4)
    torch.testing.assert_close(linear(x), x @ (linear.weight / math.sqrt(6)).t())


def test_conv_layer_gain_activation_and_clamp():
    torch.manual_seed(0)
    conv = Conv2dLayer(3, 5, 3, activation="lrelu", conv_clamp=0.5)
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(2, 3, 6, 6)
    raw = F.conv2d(x, conv.weight / math.sqrt(27), conv.bias, padding=1)
    want = (F.leaky_relu(raw, 0.2) * math.sqrt(2) * 0.7).clamp(-0.35, 0.35)  # clamp scales with gain
    torch.testing.assert_close(conv(x, gain=0.7), want)


def test_conv_layer_resampling_shapes_and_frozen_weights():
    x = torch.randn(1, 2, 8, 8)
    assert Conv2dLayer(2, 3, 3, up=2)(x).shape == (1, 3, 16, 16)
    assert Conv2dLayer(2, 3, 1, down=2)(x).shape == (1, 3, 4, 4)
    frozen = Conv2dLayer(2, 3, 3, trainable=False)
    assert not list(frozen.parameters()) and "weight" in dict(frozen.named_buffers())


def test_normalize_2nd_moment_gives_unit_rms():
    z = torch.randn(4, 16) * 7
    assert torch.allclose(normalize_2nd_moment(z).square().mean(dim=1), torch.ones(4), atol=1e-5)


def test_check_image_names_expected_shape():
    with pytest.raises(ValueError, match=r"\[N, 3, 16, 16\]"):
        check_image(torch.zeros(1, 3, 8, 8), 3, 16, "D")


def test_init_kwargs_hold_every_constructor_argument_as_plain_values():
    import inspect

    from sdstylegan.models import Discriminator, Encoder, Generator

    for cls, kw in (
        (Generator, dict(z_dim=8, w_dim=8, img_resolution=16, channel_base=64, channel_max=8)),
        (Discriminator, dict(img_resolution=16, channel_base=64, channel_max=8, resample_filter=(1, 2, 1))),
        (Encoder, dict(img_resolution=16, w_dim=8, channel_base=64, channel_max=8)),
    ):
        net = cls(**kw)
        assert list(net.init_kwargs) == list(inspect.signature(cls).parameters)
        assert all(net.init_kwargs[k] == (list(v) if isinstance(v, tuple) else v) for k, v in kw.items())
        assert isinstance(net.init_kwargs["resample_filter"], list)
        assert all(isinstance(v, float) for v in net.init_kwargs["resample_filter"])
        cls(**net.init_kwargs).load_state_dict(net.state_dict())  # rebuilds the same network
