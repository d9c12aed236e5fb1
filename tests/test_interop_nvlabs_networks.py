"""NVlabs ↔ ours: names, weight layout, kwargs; a persistence-style snapshot imports to the same images."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from sdstylegan.interop.nvlabs_networks import (
    UnsupportedNetworkError,
    d_key_from_nvlabs,
    d_key_to_nvlabs,
    export_nvlabs,
    g_key_from_nvlabs,
    g_key_to_nvlabs,
    generator_from_nvlabs_state,
    generator_kwargs_from_nvlabs,
    load_nvlabs_pickle,
)
from sdstylegan.models.discriminator import Discriminator
from sdstylegan.models.generator import Generator
from sdstylegan.training.checkpoint import load_generator, load_network

sys.path.insert(0, str(Path(__file__).parent))
from nvlabs_fake import tree, write_snapshot  # noqa: E402

GK = dict(z_dim=8, w_dim=8, img_resolution=16, mapping_layers=2, channel_base=64, channel_max=8)


def random_nets(seed: int = 0) -> tuple[Generator, Discriminator]:
    torch.manual_seed(seed)
    G, D = Generator(**GK).eval(), Discriminator(img_resolution=16, channel_base=64, channel_max=8).eval()
    with torch.no_grad():  # trained-looking weights everywhere (the defaults leave biases and noise at 0)
        for p in list(G.parameters()) + list(D.parameters()):
            p.copy_(torch.randn_like(p) * 0.5)
        G.mapping.w_avg.normal_()
    return G, D


def snapshot(tmp_path: Path, G: Generator, D: Discriminator, src: str = "") -> Path:
    gs, gk = export_nvlabs(G)
    ds, dk = export_nvlabs(D)
    path = tmp_path / "network-snapshot-000100.pkl"
    write_snapshot(
        path,
        {
            "G": tree(gs, "Generator", gk, src),
            "G_ema": tree(gs, "Generator", gk, src),
            "D": tree(ds, "Discriminator", dk, src),
        },
    )
    return path


def test_key_maps_are_inverse_and_match_nvlabs_names():
    assert g_key_from_nvlabs("mapping.fc1.weight") == "mapping.layers.1.weight"
    assert g_key_from_nvlabs("synthesis.b16.conv0.affine.bias") == "synthesis.blocks.b16.conv0.affine.bias"
    assert d_key_from_nvlabs("b4.fc.weight") == "epilogue.fc.weight"
    assert d_key_from_nvlabs("b32.skip.weight") == "blocks.b32.skip.weight"
    G, D = random_nets()
    for k in G.state_dict():
        assert g_key_from_nvlabs(g_key_to_nvlabs(k)) == k
    for k in D.state_dict():
        assert d_key_from_nvlabs(d_key_to_nvlabs(k)) == k


def test_export_uses_nvlabs_layout():
    G, D = random_nets()
    gs, gk = export_nvlabs(G)
    assert "mapping.fc0.weight" in gs and "synthesis.b16.conv0.weight" in gs and "synthesis.b4.const" in gs
    # upsampling convolutions are stored flipped in NVlabs' layout; everything else as is
    torch.testing.assert_close(
        gs["synthesis.b16.conv0.weight"], G.synthesis.blocks.b16.conv0.weight.flip([2, 3])
    )
    torch.testing.assert_close(gs["synthesis.b16.conv1.weight"], G.synthesis.blocks.b16.conv1.weight)
    assert (
        gk["c_dim"] == 0
        and gk["mapping_kwargs"]["num_layers"] == 2
        and gk["synthesis_kwargs"]["architecture"] == "skip"
    )
    ds, dk = export_nvlabs(D)
    assert "b16.resample_filter" in ds and "b4.out.weight" in ds and dk["architecture"] == "resnet"


def test_round_trip_through_the_nvlabs_layout_gives_identical_images():
    G, _ = random_nets()
    state, kwargs = export_nvlabs(G)
    G2 = generator_from_nvlabs_state(state, kwargs)
    z = torch.randn(3, 8)
    with torch.no_grad():
        assert torch.equal(G(z, noise_mode="const"), G2(z, noise_mode="const"))
    assert G2.init_kwargs == G.init_kwargs


def test_snapshot_imports_to_the_source_networks(tmp_path):
    victim = tmp_path / "pwned"
    G, D = random_nets(1)
    path = snapshot(tmp_path, G, D, src=f"open({str(victim)!r}, 'w')")
    nets = load_nvlabs_pickle(path)
    z, x = torch.randn(4, 8), torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        assert (nets.G_ema(z, noise_mode="const") - G(z, noise_mode="const")).abs().max() < 1e-4
        assert (nets.G(z, noise_mode="const") - G(z, noise_mode="const")).abs().max() < 1e-4
        assert torch.equal(nets.D(x), D(x))
    assert nets.training_set_kwargs == {"path": "dogs.zip", "resolution": 32}
    assert not victim.exists()  # the stored module source never ran
    # the same file through the general loaders (generate, cluster and evaluate use these)
    with torch.no_grad():
        assert torch.equal(load_generator(path)(z, noise_mode="const"), nets.G_ema(z, noise_mode="const"))
    assert isinstance(load_network(path, which="D"), Discriminator)
    with pytest.raises(ValueError, match="no SDIP encoder"):
        load_network(path, which="E")


def test_nvlabs_defaults_fill_missing_kwargs():
    kw = generator_kwargs_from_nvlabs(dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3))
    assert kw["mapping_layers"] == 8 and kw["w_avg_beta"] == 0.995 and kw["channel_base"] == 32768
    # stylegan3's networks_stylegan2 passes the synthesis kwargs flat
    flat = generator_kwargs_from_nvlabs(
        dict(
            z_dim=8,
            c_dim=0,
            w_dim=8,
            img_resolution=16,
            img_channels=3,
            channel_base=64,
            channel_max=8,
            num_fp16_res=4,
            conv_clamp=256,
        )
    )
    assert (flat["channel_base"], flat["num_fp16_res"], flat["conv_clamp"]) == (64, 4, 256)


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(c_dim=10), "conditional"),
        (dict(synthesis_kwargs=dict(architecture="resnet")), "architecture"),
        (dict(mapping_kwargs=dict(layer_features=64)), "layer_features"),
    ],
)
def test_unsupported_generators_are_refused(kw, match):
    base = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3)
    with pytest.raises(UnsupportedNetworkError, match=match):
        generator_kwargs_from_nvlabs(base | kw)


def test_snapshot_with_missing_weights_is_refused(tmp_path):
    G, D = random_nets()
    gs, gk = export_nvlabs(G)
    del gs["synthesis.b16.torgb.weight"]
    path = tmp_path / "snap.pkl"
    write_snapshot(path, {"G_ema": tree(gs, "Generator", gk, "")})
    with pytest.raises(UnsupportedNetworkError, match="missing"):
        load_nvlabs_pickle(path)
