"""Synthesis network: channel schedule, num_ws, noise modes, fused vs non-fused modconv, fp16 placement."""

from __future__ import annotations

import pytest
import torch

from sdstylegan.models.synthesis import SynthesisNetwork, block_channels


def _net(res=32, **kw):
    torch.manual_seed(0)
    return SynthesisNetwork(w_dim=16, img_resolution=res, channel_base=256, channel_max=16, **kw)


def test_channel_schedule_and_num_ws():
    assert block_channels([4, 8, 16, 32, 64], 256, 16) == {4: 16, 8: 16, 16: 16, 32: 8, 64: 4}
    net = _net(64)
    assert net.num_ws == 2 * 6 - 2
    assert net.blocks["b64"].conv1.weight.shape == (4, 4, 3, 3)


def test_noise_modes():
    net = _net()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.5)
    ws = torch.randn(2, net.num_ws, 16)
    const_a, const_b = net(ws, noise_mode="const"), net(ws, noise_mode="const")
    assert torch.equal(const_a, const_b)
    assert not torch.allclose(net(ws, noise_mode="random"), net(ws, noise_mode="random"))
    assert not torch.allclose(net(ws, noise_mode="none"), const_a)
    with pytest.raises(ValueError, match="noise_mode"):
        net(ws, noise_mode="fixed")


def test_fused_and_non_fused_modconv_agree():
    net = _net()
    ws = torch.randn(3, net.num_ws, 16)
    fused = net(ws, noise_mode="const", fused_modconv=True)
    plain = net(ws, noise_mode="const", fused_modconv=False)
    torch.testing.assert_close(fused, plain, rtol=1e-4, atol=1e-5)


def test_reduced_precision_on_highest_resolutions_only():
    net = _net(256, num_fp16_res=4, conv_clamp=256)
    flags = {name: block.use_fp16 for name, block in net.blocks.items()}
    assert [n for n, f in flags.items() if f] == ["b32", "b64", "b128", "b256"]
    with pytest.raises(ValueError, match="mixed_precision"):
        _net(mixed_precision="float8")


def test_wrong_ws_shape_and_resolution():
    net = _net()
    with pytest.raises(ValueError, match=r"ws of shape \[N, 8, 16\]"):
        net(torch.randn(2, 7, 16))
    with pytest.raises(ValueError, match="power of two"):
        _net(48)
