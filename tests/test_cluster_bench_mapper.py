"""The mapper command: held-out split, training on a folder against a checkpoint's G, scored beside E and the projector."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from sdstylegan.cluster_bench.encoders import PixelEncoder
from sdstylegan.cluster_bench.mapper import holdout_split, main
from sdstylegan.cluster_bench.mapper_net import load_mapper
from sdstylegan.training.checkpoint import AtomicCheckpointIO

sys.path.insert(0, str(Path(__file__).parent))
from cluster_bench_fixtures import class_folder  # noqa: E402

G_NODE = {
    "_target_": "sdstylegan.models.generator.Generator",
    "z_dim": 6,
    "w_dim": 6,
    "img_resolution": 16,
    "mapping_layers": 2,
    "channel_base": 64,
    "channel_max": 8,
}
E_NODE = {
    "_target_": "sdstylegan.models.encoder.Encoder",
    "img_resolution": 16,
    "w_dim": 6,
    "channel_base": 64,
    "channel_max": 8,
}


def gan_checkpoint(path: Path, with_encoder: bool = True) -> Path:
    """A training checkpoint holding G_ema (and E) as the training stage writes them."""
    torch.manual_seed(0)
    nets = {"G_ema": instantiate(G_NODE)} | ({"E": instantiate(E_NODE)} if with_encoder else {})
    state = {f"{n}.{k}": v for n, net in nets.items() for k, v in net.state_dict().items()}
    model = {"generator": G_NODE} | ({"encoder": E_NODE} if with_encoder else {})
    AtomicCheckpointIO().save_checkpoint(
        {"state_dict": state, "sdstylegan": {"format": 1, "model": model}}, path
    )
    return path


ARGS = [
    "--config",
    "standin",
    "metrics=standin",
    "metrics.lpips.net=vgg",
    "cluster_bench.mapper.encoder=pixels",
    "cluster_bench.encoders.pixels.size=4",
    "cluster_bench.mapper.steps=8",
    "cluster_bench.mapper.batch_size=4",
    "cluster_bench.mapper.hidden=16",
    "cluster_bench.mapper.generated_per_batch=2",
    "cluster_bench.mapper.projector_steps=3",
    "cluster_bench.mapper.holdout=4",
    "--device",
    "cpu",
]


def test_holdout_is_seeded_disjoint_and_sized():
    tr, te = holdout_split(10, 0.3, 0)
    assert len(te) == 3 and len(tr) == 7 and not set(tr) & set(te)
    assert np.array_equal(te, holdout_split(10, 0.3, 0)[1]) and not np.array_equal(
        te, holdout_split(10, 0.3, 1)[1]
    )
    assert len(holdout_split(10, 4, 0)[1]) == 4
    with pytest.raises(ValueError, match="holdout=10"):
        holdout_split(10, 10, 0)


def test_command_trains_scores_and_writes(tmp_path, capsys):
    folder = class_folder(tmp_path / "photos", per_class=4)
    ckpt = gan_checkpoint(tmp_path / "last.ckpt")
    out = tmp_path / "out"
    assert main([str(ckpt), "--images", str(folder), "--out", str(out), *ARGS]) == 0
    table = capsys.readouterr().out
    assert "lpips_standin" in table and "random weights" in table
    report = json.loads((out / "report_standin.json").read_text())
    assert [r["method"] for r in report["rows"]] == ["mapper(pixels)", "encoder", "projector"]
    assert report["train_images"] == 8 and report["heldout_images"] == 4
    for r in report["rows"]:
        assert r["images"] == 4 and 0 < r["lpips_standin"] and 0 < r["mse"] and r["seconds_per_image"] > 0
    assert set(report["final_losses"]) == {"loss", "l1", "lpips", "feature", "w"}
    assert len((out / "history.jsonl").read_text().splitlines()) == 8
    assert (out / "before_after.png").stat().st_size > 0
    assert load_mapper(out / "mapper.pt", PixelEncoder(size=4)).space == "w"


def test_without_encoder_the_row_is_skipped_and_a_plain_checkpoint_needs_images(tmp_path, capsys):
    folder = class_folder(tmp_path / "photos", per_class=3)
    ckpt = gan_checkpoint(tmp_path / "last.ckpt", with_encoder=False)
    out = tmp_path / "out"
    args = [*ARGS, "cluster_bench.mapper.compare=[encoder]", "cluster_bench.mapper.space=wplus"]
    assert main([str(ckpt), "--images", str(folder), "--out", str(out), *args]) == 0
    report = json.loads((out / "report_standin.json").read_text())
    assert [r["method"] for r in report["rows"]] == ["mapper(pixels)"] and report["rows"][0][
        "space"
    ] == "wplus"
    assert "no SDIP encoder E" in report["skipped"]["encoder"]
    with pytest.raises(SystemExit):
        main([str(ckpt), *ARGS])  # neither a run directory nor --images
    assert "--images is needed" in capsys.readouterr().err
