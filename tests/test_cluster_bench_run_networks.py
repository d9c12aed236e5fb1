"""cluster_bench.run_networks: a training checkpoint's E (w) and D (penultimate) as encoders."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from sdstylegan.cluster_bench.run_networks import RunNetworkEncoder
from sdstylegan.training.checkpoint import load_network

sys.path.insert(0, str(Path(__file__).parent))
from cluster_bench_fixtures import tiny_checkpoint  # noqa: E402


def images(n: int) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )


def test_e_gives_w_of_the_resized_images(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "last.ckpt")
    enc = RunNetworkEncoder("E", ckpt)
    x = images(3)
    want = load_network(ckpt, "E")(
        F.interpolate(
            x.float() / 127.5 - 1, size=(8, 8), mode="bilinear", align_corners=False, antialias=True
        ).clamp(-1, 1)
    )
    assert enc.label == "E_w" and enc.num_features == 6
    assert torch.allclose(enc(x), want, atol=1e-5)


def test_d_penultimate_does_not_depend_on_batch_mates(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "last.ckpt")
    enc = RunNetworkEncoder("D", ckpt)
    x = images(4)
    together = enc(x)
    alone = torch.cat([enc(x[i : i + 1]) for i in range(4)])
    assert together.shape == (4, enc.num_features) and enc.label == "D_penultimate"
    assert torch.allclose(together, alone, atol=1e-5)
    # the output layer is linear in these features: D's logits = out(features)
    D = load_network(ckpt, "D")
    assert torch.allclose(D.epilogue.out(together), D.epilogue.out(alone), atol=1e-5)
    other = RunNetworkEncoder("D", tiny_checkpoint(tmp_path / "other.ckpt", seed=1))
    assert other.identity != enc.identity


def test_missing_networks_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no training checkpoint"):
        RunNetworkEncoder("E", None)
    with pytest.raises(ValueError, match="holds no E weights"):
        RunNetworkEncoder("E", tiny_checkpoint(tmp_path / "noe.ckpt", with_encoder=False))
    with pytest.raises(ValueError, match="which must be one of"):
        RunNetworkEncoder("G", tmp_path / "x.ckpt")
