"""training.init_from: a fresh run starts from a checkpoint's or an NVlabs pickle's weights; mismatches are listed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from sdstylegan.interop.nvlabs_networks import export_nvlabs
from sdstylegan.training.checkpoint import AtomicCheckpointIO
from sdstylegan.training.init_from import init_from
from sdstylegan.training.module import StyleGAN2Module

sys.path.insert(0, str(Path(__file__).parent))
from nvlabs_fake import tree, write_snapshot  # noqa: E402
from test_training_module import tiny_model, training_cfg  # noqa: E402


def module(make_cfg, seed: int, res: int = 16, encoder: bool = False) -> StyleGAN2Module:
    torch.manual_seed(seed)
    m = StyleGAN2Module(
        tiny_model(res),
        training_cfg(make_cfg, "training.ada.enabled=false", "training.encoder.lambda_lpips=0"),
        encoder=encoder,
    )
    with torch.no_grad():
        m.G.mapping.w_avg.normal_()
        m.G_ema.mapping.w_avg.normal_()
    return m


def same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_checkpoint_source_copies_g_g_ema_d_and_e(make_cfg, tmp_path):
    src = module(make_cfg, 0, encoder=True)
    path = tmp_path / "pretrained.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": src.state_dict()}, path)
    dst = module(make_cfg, 1, encoder=True)
    assert not same(dst.G, src.G)
    assert init_from(dst, path) == ["G", "G_ema", "D", "E"]
    for name in ("G", "G_ema", "D", "E"):
        assert same(getattr(dst, name), getattr(src, name)), name
    assert int(dst.cur_nimg) == 0  # counters start fresh


def test_nvlabs_pickle_source(make_cfg, tmp_path):
    src = module(make_cfg, 2)
    gs, gk = export_nvlabs(src.G_ema)
    ds, dk = export_nvlabs(src.D)
    pkl = tmp_path / "network-snapshot.pkl"
    write_snapshot(
        pkl, {"G_ema": tree(gs, "Generator", gk, "raise SystemExit"), "D": tree(ds, "Discriminator", dk, "")}
    )
    dst = module(make_cfg, 3)
    assert init_from(dst, pkl) == ["G", "G_ema", "D"]  # no G in the file: G starts as G_ema
    z = torch.randn(2, 16)
    with torch.no_grad():
        assert same(dst.G, src.G_ema) and same(dst.G_ema, src.G_ema)
        torch.testing.assert_close(dst.G_ema(z, noise_mode="const"), src.G_ema(z, noise_mode="const"))
        assert torch.equal(dst.D(torch.zeros(4, 3, 16, 16)), src.D(torch.zeros(4, 3, 16, 16)))


def test_architecture_mismatch_lists_what_differs_and_changes_nothing(make_cfg, tmp_path):
    src = module(make_cfg, 0, res=32)
    path = tmp_path / "other.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": src.state_dict()}, path)
    dst = module(make_cfg, 1)
    before = {k: v.clone() for k, v in dst.state_dict().items()}
    with pytest.raises(ValueError, match="does not fit this model config") as err:
        init_from(dst, path)
    assert "G:" in str(err.value) and "D:" in str(err.value)
    assert all(torch.equal(before[k], v) for k, v in dst.state_dict().items())
    with pytest.raises(FileNotFoundError, match="training.init_from"):
        init_from(dst, tmp_path / "absent.ckpt")
