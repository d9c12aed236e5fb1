"""`python -m sdstylegan.interop.export`: our checkpoint → NVlabs-layout state dict + constructor kwargs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from sdstylegan.interop.export import main
from sdstylegan.interop.nvlabs_networks import generator_from_nvlabs_state
from sdstylegan.training.checkpoint import AtomicCheckpointIO, load_generator

sys.path.insert(0, str(Path(__file__).parent))
from test_training_checkpoint import fake_training_checkpoint  # noqa: E402


def test_export_writes_nvlabs_state_and_kwargs_that_rebuild_the_same_generator(tmp_path, capsys):
    ckpt, _ = fake_training_checkpoint(seed=3)
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint(ckpt, path)
    out = tmp_path / "export" / "G_ema_nvlabs.pt"
    assert main([str(path), "--which", "G_ema", "--out", str(out)]) == 0
    state = torch.load(out, weights_only=True)  # a plain state dict: no pickled code
    meta = json.loads((tmp_path / "export" / "G_ema_nvlabs.pt.json").read_text())
    assert meta["class"] == "training.networks.Generator" and meta["init_kwargs"]["c_dim"] == 0
    assert any(k.startswith("mapping.fc0.") for k in state) and not any(".blocks." in k for k in state)
    G = load_generator(path)
    G2 = generator_from_nvlabs_state(state, meta["init_kwargs"])
    z = torch.randn(2, G.z_dim)
    with torch.no_grad():
        assert torch.equal(G(z, noise_mode="const"), G2(z, noise_mode="const"))
    # never overwrites; bad choices are one clear line
    assert main([str(path), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main([str(tmp_path / "absent.ckpt"), "--out", str(tmp_path / "x.pt")]) == 2
