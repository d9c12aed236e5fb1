"""The train / train_raw stages in the real pipeline: outputs, resume that extends a run, bad configs, sweeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_run

from sdstylegan.pipeline.entry import run_from_config
from sdstylegan.training.checkpoint import load_checkpoint, load_generator, load_network
from sdstylegan.utils.io import read_json

ROOT = Path(__file__).resolve().parents[1]

TINY = [
    *tiny_run(12, 16),
    "metrics.lpips.net=vgg",
    "training.callbacks.samples.num=4",
]


def every(kimg: float) -> list[str]:
    return [f"training.callbacks.{c}.every_kimg={kimg}" for c in ("checkpoint", "samples", "metrics")]


def test_train_stage_leaves_checkpoint_samples_metrics_and_logs(make_cfg):
    cfg = make_cfg(
        [
            *TINY,
            "pipeline.stages=[demo_data,train]",
            "training.total_kimg=0.008",
            *every(0.004),
            "training.callbacks.metrics.num_samples=8",
        ]
    )
    out = run_from_config(cfg)["train"]
    run = Path(cfg.paths.run_dir)
    assert out["kimg"] == 0.008 and out["encoder"] is False
    ckpt = run / out["checkpoint"]
    assert load_checkpoint(ckpt)["sdstylegan"]["kimg"] == 0.008
    G = load_generator(ckpt)
    assert G.img_resolution == 16
    grids = sorted(p.name for p in (run / out["samples"]).iterdir())
    assert grids == [f"kimg{k:09.3f}_psi{psi}.png" for k in (0, 0.004, 0.008) for psi in ("0.7", "1")]
    lines = [json.loads(x) for x in (run / "train" / "metrics.jsonl").read_text().splitlines()]
    assert [x["kimg"] for x in lines] == [0.004, 0.008]
    assert all(
        k.endswith("_standin") for x in lines for k in x if k != "kimg"
    )  # stand-in Inception, labelled
    assert (run / out["best_checkpoint"]).exists()
    csv = (run / "train" / "csv" / "metrics.csv").read_text()
    assert "train/kimg" in csv and "train/loss_d" in csv and "train/ada_p" in csv


def test_rerun_after_a_kill_resumes_and_extends_the_run(make_cfg):
    stages = "pipeline.stages=[demo_data,train]"
    cfg = make_cfg(
        [
            *TINY,
            stages,
            "training.total_kimg=0.004",
            *every(0.004),
            "training.callbacks.metrics.every_kimg=null",
        ]
    )
    run_from_config(cfg)
    run = Path(cfg.paths.run_dir)
    (run / "train" / "done.json").unlink()  # as if the process had been killed after its last checkpoint
    cfg2 = make_cfg(
        [
            *TINY,
            stages,
            "training.total_kimg=0.008",
            *every(0.004),
            "training.callbacks.metrics.every_kimg=null",
        ]
    )
    out = run_from_config(cfg2)["train"]
    assert not (run / "train.prev").exists(), "more kimg must not change the stage's fingerprint"
    assert out["kimg"] == 0.008
    meta = load_checkpoint(run / out["checkpoint"])["sdstylegan"]
    assert meta["kimg"] == 0.008 and meta["minibatches"] == 2
    # the first attempt's CSV log is kept; the resumed attempt logs beside it
    assert (run / "train" / "csv" / "metrics.csv").exists()
    assert (run / "train" / "csv" / "from_kimg00000.004" / "metrics.csv").exists()


def test_train_raw_trains_the_encoder(make_cfg):
    cfg = make_cfg(
        [
            *TINY,
            "pipeline.stages=[demo_data,train_raw]",
            "training.total_kimg=0.004",
            *every(0.004),
            "training.callbacks.metrics.every_kimg=null",
        ]
    )
    out = run_from_config(cfg)["train_raw"]
    assert out["encoder"] is True
    E = load_network(Path(cfg.paths.run_dir) / out["checkpoint"], which="E")
    assert E.w_dim == 16


def test_resolution_mismatch_and_small_dataset_are_refused_at_start(make_cfg):
    cfg = make_cfg([*TINY, "pipeline.stages=[demo_data,train]", "model.resolution=32"])
    with pytest.raises(ValueError, match="img_resolution=32 differs from dataset.resolution=16"):
        run_from_config(cfg)
    cfg = make_cfg([*TINY, "pipeline.stages=[demo_data,train]", "training.batch_size=32"])
    with pytest.raises(ValueError, match="one batch of 32"):
        run_from_config(cfg)


@pytest.mark.slow
def test_multirun_sweep_over_r1_gamma(tmp_path):
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    cmd = [
        sys.executable,
        "train.py",
        "-m",
        *TINY,
        "pipeline.stages=[demo_data,train]",
        "training.total_kimg=0.004",
        *every(0.004),
        "training.callbacks.metrics.every_kimg=null",
        "training.r1_gamma=0.5,2.0",
        f"paths.output_dir={tmp_path}",
    ]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)
    ckpts = sorted((tmp_path / "demo" / "multirun").glob("*/train/checkpoints/last.ckpt"))
    gammas = sorted(load_checkpoint(c)["sdstylegan"]["training"]["r1_gamma"] for c in ckpts)
    assert gammas == [0.5, 2.0]  # one folder per job, each trained with its own value


@pytest.mark.slow
def test_resumed_run_continues_the_same_wandb_run(make_cfg):
    args = [
        *TINY,
        "pipeline.stages=[demo_data,train]",
        "logger=wandb",
        *every(0.004),
        "training.callbacks.metrics.every_kimg=null",
    ]
    cfg = make_cfg([*args, "training.total_kimg=0.004"])
    run_from_config(cfg)
    run = Path(cfg.paths.run_dir)
    first = load_checkpoint(run / "train" / "checkpoints" / "last.ckpt")["sdstylegan"]["wandb_run_id"]
    assert first
    (run / "train" / "done.json").unlink()
    run_from_config(make_cfg([*args, "training.total_kimg=0.008"]))
    meta = load_checkpoint(run / "train" / "checkpoints" / "last.ckpt")["sdstylegan"]
    assert meta["kimg"] == 0.008 and meta["wandb_run_id"] == first
    runs = list((run / "train" / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and all(r.name.endswith(first) for r in runs)


@pytest.mark.slow
def test_kill_during_training_then_same_command_resumes(tmp_path):
    """SIGKILL the real CLI once a checkpoint exists; the same command continues to total_kimg."""
    import signal
    import time

    cmd = [
        sys.executable,
        "train.py",
        *TINY,
        "pipeline.stages=[demo_data,train]",
        "training.total_kimg=0.04",
        *every(0.004),
        "training.callbacks.metrics.every_kimg=null",
        f"paths.output_dir={tmp_path}",
    ]
    ckpt = tmp_path / "demo" / "train" / "checkpoints" / "last.ckpt"
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and load_checkpoint(ckpt)["sdstylegan"]["kimg"] >= 0.008:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "training finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = load_checkpoint(ckpt)["sdstylegan"]["kimg"]  # the checkpoint survived the kill
    assert 0.008 <= killed_at < 0.04
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=True)
    assert "resuming from" in out.stdout + out.stderr
    meta = load_checkpoint(ckpt)["sdstylegan"]
    assert meta["kimg"] == 0.04 and meta["minibatches"] == 10


def test_fid_without_inception_weights_fails_at_start_not_later(make_cfg):
    overrides = [
        *TINY,
        "metrics=default",
        "metrics.inception.weights=/nonexistent/inception.pth",
        "pipeline.stages=[demo_data,train]",
        "training.total_kimg=0.004",
        *every(0.004),
    ]
    with pytest.raises(RuntimeError, match=r"training.callbacks.metrics.metrics.inception \(for train\)"):
        run_from_config(make_cfg(overrides))  # the pipeline's preflight: before demo_data
    assert not (Path(make_cfg(overrides).paths.run_dir) / "demo_data").exists()
    cfg = make_cfg([*overrides, "pipeline.preflight=false"])  # the callback's own check, at fit start
    with pytest.raises(RuntimeError, match="cannot build its feature extractors(.|\n)*metrics=standin"):
        run_from_config(cfg)
    assert not (Path(cfg.paths.run_dir) / "train" / "checkpoints").exists()


def test_init_from_starts_a_fresh_stage_from_pretrained_weights(make_cfg, tmp_path):
    first = make_cfg(
        [*TINY, "pipeline.stages=[demo_data,train]", "training.total_kimg=0.004", "seed=7"],
        run_dir=tmp_path / "pretrained",
    )
    source = Path(first.paths.run_dir) / run_from_config(first)["train"]["checkpoint"]
    # learning rates ~0: the stage's one step leaves G and D where they started (G_ema moves toward G)
    frozen = [
        *TINY,
        "pipeline.stages=[demo_data,train]",
        "training.total_kimg=0.004",
        "training.optim.g_lr=1e-30",
        "training.optim.d_lr=1e-30",
        "training.ada.enabled=false",
    ]
    cfg = make_cfg([*frozen, f"training.init_from={source}"], run_dir=tmp_path / "finetune")
    out = run_from_config(cfg)["train"]
    src, got = (
        load_checkpoint(source)["state_dict"],
        load_checkpoint(Path(cfg.paths.run_dir) / out["checkpoint"]),
    )
    for name in ("G.", "D."):
        keys = [
            k for k in src if k.startswith(name) and not k.endswith("w_avg")
        ]  # w_avg is an EMA of each step
        assert keys
        for k in keys:
            torch.testing.assert_close(got["state_dict"][k], src[k], atol=1e-20, rtol=1e-6)
    assert got["sdstylegan"]["kimg"] == 0.004  # counters started fresh
    scratch = make_cfg(frozen, run_dir=tmp_path / "scratch")
    fresh = load_checkpoint(Path(scratch.paths.run_dir) / run_from_config(scratch)["train"]["checkpoint"])
    assert (
        fresh["state_dict"]["G.mapping.layers.0.weight"] - src["G.mapping.layers.0.weight"]
    ).abs().max() > 0.1
    with pytest.raises(ValueError, match="training.init_from=.*no such"):  # caught before any stage runs
        run_from_config(
            make_cfg(
                [*TINY, "pipeline.stages=[demo_data,train]", f"training.init_from={tmp_path / 'absent.pkl'}"],
                run_dir=tmp_path / "x",
            )
        )


def test_backends_are_set_from_the_config_every_run():
    from omegaconf import OmegaConf

    from sdstylegan.training.stage import configure_backends

    saved = (
        torch.backends.cudnn.benchmark,
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
    )
    try:
        flags = configure_backends(OmegaConf.create({"cudnn_benchmark": False, "allow_tf32": True}))
        assert flags == {"cudnn_benchmark": False, "allow_tf32": True}
        assert not torch.backends.cudnn.benchmark
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        configure_backends(OmegaConf.create({}))  # the defaults: NVlabs' (autotune on, TF32 off)
        assert torch.backends.cudnn.benchmark and not torch.backends.cuda.matmul.allow_tf32
    finally:
        (
            torch.backends.cudnn.benchmark,
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32,
        ) = saved


def test_raw_kimg_sets_train_raws_length_apart_from_train(make_cfg):
    """training.raw_kimg trains train_raw that long while train keeps total_kimg; raising it extends train_raw."""
    args = [*TINY, "pipeline.stages=[demo_data,train_raw,train]", *every(0.004)]
    args += ["training.callbacks.metrics.every_kimg=null", "training.total_kimg=0.004"]
    cfg = make_cfg([*args, "training.raw_kimg=0.008"])
    out = run_from_config(cfg)
    run = Path(cfg.paths.run_dir)
    assert out["train_raw"]["kimg"] == 0.008 and out["train"]["kimg"] == 0.004
    assert cfg.training.total_kimg == 0.004, "the run's config is not changed"
    out2 = run_from_config(make_cfg([*args, "training.raw_kimg=0.012"]))
    assert out2["train_raw"]["kimg"] == 0.012
    assert load_checkpoint(run / out2["train_raw"]["checkpoint"])["sdstylegan"]["minibatches"] == 3
    assert not (run / "train_raw.prev").exists(), "more raw kimg extends, it does not start over"
    with pytest.raises(Exception, match="training.raw_kimg"):
        run_from_config(make_cfg([*args, "training.raw_kimg=0"]))


def test_more_total_kimg_extends_train_and_leaves_a_longer_train_raw_done(make_cfg):
    """With training.raw_kimg set, raising total_kimg re-enters train_raw as an extension that finds nothing
    to train: it keeps its token, so train (built on it) is extended in place instead of starting over."""
    args = [*TINY, "pipeline.stages=[demo_data,train_raw,train]", *every(0.004)]
    args += ["training.callbacks.metrics.every_kimg=null", "training.raw_kimg=0.008"]
    cfg = make_cfg([*args, "training.total_kimg=0.004"])
    run_from_config(cfg)
    run = Path(cfg.paths.run_dir)
    raw_before = read_json(run / "train_raw" / "done.json")
    out = run_from_config(make_cfg([*args, "training.total_kimg=0.008"]))
    raw_after = read_json(run / "train_raw" / "done.json")
    assert raw_after["token"] == raw_before["token"] and raw_after["seconds"] == raw_before["seconds"]
    assert out["train"]["kimg"] == 0.008 and not (run / "train.prev").exists()
    assert load_checkpoint(run / out["train"]["checkpoint"])["sdstylegan"]["minibatches"] == 2
    out = run_from_config(make_cfg([*args, "training.total_kimg=0.008", "training.raw_kimg=0.012"]))
    assert read_json(run / "train_raw" / "done.json")["token"] != raw_before["token"], "trained on: new token"
    assert (run / "train.prev").exists(), "train is redone on the longer train_raw"


def test_encoder_start_kimg_must_come_before_train_raw_ends(make_cfg):
    """E joining at or after train_raw's last kimg would leave self_filter an untrained encoder."""
    args = [*TINY, "pipeline.stages=[demo_data,train_raw]", "training.raw_kimg=0.008"]
    with pytest.raises(Exception, match=r"training.encoder.start_kimg.*below training.raw_kimg=0.008"):
        run_from_config(make_cfg([*args, "training.encoder.start_kimg=0.008"]))
