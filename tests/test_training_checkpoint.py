"""Checkpoints: atomic writes survive a kill mid-save, weights_only loading, networks rebuilt from config."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from sdstylegan.training.checkpoint import (
    AtomicCheckpointIO,
    CorruptCheckpointError,
    load_checkpoint,
    load_generator,
    load_network,
)
from sdstylegan.utils.safe_build import UntrustedConfigError

sys.path.insert(0, str(Path(__file__).parent))
from hostile import GEN, PAYLOADS, payloads, snapshot  # noqa: E402


def fake_training_checkpoint(seed: int = 0) -> tuple[dict, torch.nn.Module]:
    """A checkpoint with the layout StyleGAN2Module writes (state_dict prefixes + `sdstylegan` entry)."""
    from hydra.utils import instantiate

    torch.manual_seed(seed)
    G, G_ema = instantiate(GEN), instantiate(GEN)
    state = {f"G.{k}": v for k, v in G.state_dict().items()} | {
        f"G_ema.{k}": v for k, v in G_ema.state_dict().items()
    }
    meta = {"format": 1, "model": {"generator": GEN}, "kimg": 1.5, "rng": {"python": (3, (1, 2), None)}}
    return {"state_dict": state, "sdstylegan": meta}, G_ema


def test_atomic_save_keeps_the_old_checkpoint_when_a_save_dies(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"a": torch.ones(2)}, path)
    before = path.read_bytes()

    def die(obj, f, *args, **kwargs):  # the process is killed half-way through writing
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", die)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"a": torch.zeros(2)}, path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temp file left behind
    monkeypatch.undo()
    assert torch.equal(io.load_checkpoint(path)["a"], torch.ones(2))


def test_weights_only_loading_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"f": max}, path)  # a builtin function: only loadable by unpickling arbitrary objects
    with pytest.raises(CorruptCheckpointError, match="unreadable"):
        load_checkpoint(path)


def test_corrupt_and_missing_files_give_clear_errors(tmp_path):
    bad = tmp_path / "last.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CorruptCheckpointError, match="last.ckpt is unreadable"):
        load_checkpoint(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.ckpt")


def test_load_generator_rebuilds_g_ema_without_pickled_classes(tmp_path):
    ckpt, G_ema = fake_training_checkpoint()
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint(ckpt, path)
    G = load_generator(path)
    assert not G.training and not any(p.requires_grad for p in G.parameters())
    z = torch.randn(2, 8)
    torch.testing.assert_close(G(z, noise_mode="const"), G_ema.eval()(z, noise_mode="const"))
    with pytest.raises(ValueError, match="no E weights"):
        load_network(path, which="E")
    with pytest.raises(ValueError, match="'G_ema' or 'G'"):
        load_generator(path, which="D")


@pytest.mark.parametrize("name", PAYLOADS)
def test_hostile_model_config_in_a_clean_checkpoint_is_refused_and_touches_nothing(tmp_path, name):
    # the file loads with weights_only=True: the attack is the `_target_` of the saved model config
    ckpt, _ = fake_training_checkpoint()
    ckpt["sdstylegan"]["model"]["generator"] = payloads(tmp_path)[name]
    path = tmp_path / "evil.ckpt"
    AtomicCheckpointIO().save_checkpoint(ckpt, path)
    before = snapshot(tmp_path)
    with pytest.raises(UntrustedConfigError, match="refused") as err:
        load_generator(path)
    assert "sdstylegan.model.generator" in str(err.value) and "evil.ckpt" in str(err.value)
    assert snapshot(tmp_path) == before


def test_hostile_encoder_config_is_refused(tmp_path):
    ckpt, _ = fake_training_checkpoint()
    ckpt["state_dict"]["E.w"] = torch.zeros(1)
    ckpt["sdstylegan"]["model"]["encoder"] = payloads(tmp_path)["shutil_rmtree"]
    path = tmp_path / "evil.ckpt"
    AtomicCheckpointIO().save_checkpoint(ckpt, path)
    before = snapshot(tmp_path)
    with pytest.raises(UntrustedConfigError, match="sdstylegan.model.encoder"):
        load_network(path, which="E")
    assert snapshot(tmp_path) == before


def test_checkpoint_without_model_config_is_called_corrupt(tmp_path):
    ckpt, _ = fake_training_checkpoint()
    del ckpt["sdstylegan"]["model"]
    path = tmp_path / "odd.ckpt"
    AtomicCheckpointIO().save_checkpoint(ckpt, path)
    with pytest.raises(CorruptCheckpointError, match="no model config for G_ema"):
        load_generator(path)
