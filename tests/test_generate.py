"""`python -m sdstylegan.generate`: seeds, truncation modes, files, and its refusals, on a tiny trained run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sdstylegan.distill.truncation import render
from sdstylegan.generate import find_checkpoint, generate, main, parse_seeds, seed_latents
from sdstylegan.pipeline.entry import run_from_config
from sdstylegan.training.checkpoint import load_generator

sys.path.insert(0, str(Path(__file__).parent))
from conftest import compose_config, tiny_run  # noqa: E402
from hostile import payloads, snapshot  # noqa: E402
from nvlabs_fake import tree, write_snapshot  # noqa: E402

TINY = [
    *tiny_run(16, 32),
    "training.total_kimg=0.004",
    "training.callbacks.samples.num=4",
    "training.callbacks.metrics.every_kimg=null",
    "clustering=demo",
    "clustering.num_samples=200",
    "clustering.num_clusters=3",
    "clustering.n_init=1",
    "clustering.grid_samples=4",
    "clustering.batch_size=16",
    "clustering.assign_real=false",
    "pipeline.stages=[demo_data,train,cluster]",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    cfg = compose_config(TINY, tmp_path_factory.mktemp("gen") / "run")
    run_from_config(cfg)
    return Path(cfg.paths.run_dir)


def pngs(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)) for p in sorted(folder.glob("seed*.png"))}


def test_parse_seeds():
    assert parse_seeds("0-3,7,10-11") == [0, 1, 2, 3, 7, 10, 11]
    assert parse_seeds("5,5,4-5") == [5, 4]
    for bad in ("", "a", "3-1", "-2", "1.5"):
        with pytest.raises(ValueError, match="--seeds"):
            parse_seeds(bad)


def test_seed_latents_follow_the_stylegan2_ada_convention():
    z = seed_latents([3, 0], 16)
    assert torch.equal(z[0], torch.from_numpy(np.random.RandomState(3).randn(16)).float())
    assert torch.equal(seed_latents([0], 16)[0], z[1])


def test_run_directory_gives_pngs_grid_and_reproducible_images(run, tmp_path):
    assert main([str(run), "--seeds", "0-3", "--psi", "0.7", "--grid"]) == 0
    out = run / "generated" / "mean_psi0.7"
    first = pngs(out)
    assert sorted(first) == [f"seed{s:04d}.png" for s in range(4)] and first["seed0000.png"].shape == (
        32,
        32,
        3,
    )
    assert Image.open(out / "grid.png").size == (64, 64)
    assert main([str(run), "--seeds", "2,0", "--psi", "0.7", "--outdir", str(tmp_path / "again")]) == 0
    again = pngs(tmp_path / "again")
    assert all(
        np.array_equal(again[k], first[k]) for k in again
    )  # a seed names one image, whatever the batch
    assert not np.array_equal(first["seed0000.png"], first["seed0001.png"])


def test_psi_zero_gives_the_centre_and_none_ignores_psi(run):
    G = load_generator(find_checkpoint(run).checkpoint)
    at_mean = generate(G, [0, 1, 2], psi=0.0)
    assert torch.allclose(at_mean[0], at_mean[2]) and torch.allclose(
        at_mean[0], render(G, G.mapping.w_avg[None])[0], atol=1e-5
    )
    assert torch.equal(generate(G, [1], psi=0.0, truncation="none"), generate(G, [1], psi=1.0))
    centres = torch.load(run / "cluster" / "centres.pt", weights_only=True)["centres"]
    mm = generate(G, [0, 1, 2, 3], psi=0.0, truncation="multimodal", centres=centres, distance="w")
    centre_images = render(G, centres)
    for img in mm:  # ψ = 0: every image is the image of one of the centres
        assert min(float((img - c).abs().max()) for c in centre_images) < 1e-5


def test_multimodal_with_the_runs_lpips_and_a_checkpoint_file(run, tmp_path):
    assert main([str(run), "--seeds", "0-1", "--truncation", "multimodal", "--psi", "0.5"]) == 0
    assert len(pngs(run / "generated" / "multimodal_psi0.5")) == 2
    ckpt = find_checkpoint(run).checkpoint
    assert ckpt.name == "last.ckpt" and find_checkpoint(ckpt).run_dir == run
    assert main([str(ckpt), "--seeds", "4", "--outdir", str(tmp_path / "f"), "--noise-mode", "random"]) == 0
    assert (tmp_path / "f" / "seed0004.png").is_file()


def test_refusals_leave_files_alone(run, tmp_path, capsys):
    out = tmp_path / "keep"
    assert main([str(run), "--seeds", "0", "--outdir", str(out)]) == 0
    before = (out / "seed0000.png").stat().st_mtime_ns
    assert main([str(run), "--seeds", "0", "--psi", "0.1", "--outdir", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and (out / "seed0000.png").stat().st_mtime_ns == before
    assert main([str(tmp_path / "nothing"), "--seeds", "0"]) == 2
    assert "neither a checkpoint file nor a run directory" in capsys.readouterr().err
    assert main([str(tmp_path), "--seeds", "0"]) == 2
    assert "no finished train or train_raw stage" in capsys.readouterr().err
    assert main([str(run), "--seeds", "0", "--psi", "-1", "--outdir", str(tmp_path / "neg")]) == 2
    assert main([str(run / "cluster" / "centres.pt"), "--seeds", "0"]) == 2  # not a checkpoint


def test_hostile_checkpoint_is_refused_and_touches_nothing(run, tmp_path, capsys):
    # a checkpoint that loads with weights_only=True but names builtins.open as its generator
    ckpt = torch.load(find_checkpoint(run).checkpoint, map_location="cpu", weights_only=True)
    ckpt["sdstylegan"]["model"]["generator"] = payloads(tmp_path)["open_truncate"]
    evil = tmp_path / "evil.ckpt"
    torch.save(ckpt, evil)
    before = snapshot(tmp_path)
    assert main([str(evil), "--seeds", "0-1"]) == 2
    err = capsys.readouterr().err
    assert "'builtins.open'" in err and "refused" in err
    assert snapshot(tmp_path) == before


def test_hostile_lpips_in_the_runs_config_is_refused(run, tmp_path, capsys):
    import shutil

    from omegaconf import OmegaConf

    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("generated"))
    cfg = OmegaConf.load(copy / "config.yaml")
    cfg.metrics.lpips = payloads(tmp_path)["open_create"]
    OmegaConf.save(cfg, copy / "config.yaml")
    before = snapshot(tmp_path)
    assert main([str(copy), "--seeds", "0", "--truncation", "multimodal", "--distance", "lpips"]) == 2
    assert "metrics.lpips._target_ = 'builtins.open'" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_nvlabs_pickle_generates_the_same_images_and_hostile_ones_are_refused(run, tmp_path, capsys):
    from sdstylegan.interop.nvlabs_networks import export_nvlabs

    G = load_generator(find_checkpoint(run).checkpoint)
    state, kwargs = export_nvlabs(G)
    pkl = tmp_path / "network-snapshot.pkl"
    write_snapshot(pkl, {"G_ema": tree(state, "Generator", kwargs, "raise SystemExit('never run')")})
    assert main([str(run), "--seeds", "0-1", "--outdir", str(tmp_path / "ours")]) == 0
    assert main([str(pkl), "--seeds", "0-1", "--outdir", str(tmp_path / "pkl")]) == 0
    a, b = pngs(tmp_path / "ours"), pngs(tmp_path / "pkl")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    net = tree(state, "Generator", kwargs, "")
    net.state["x"] = Evil()
    write_snapshot(tmp_path / "evil.pkl", {"G_ema": net})
    assert main([str(tmp_path / "evil.pkl"), "--seeds", "0"]) == 2
    assert "refused" in capsys.readouterr().err and not (tmp_path / "pwned").exists()
