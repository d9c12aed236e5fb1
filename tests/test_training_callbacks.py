"""Training callbacks: kimg schedules, and one x-axis (minibatches) for losses, metrics and sample grids."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import torch
import yaml
from test_training_stage import TINY, every

from sdstylegan.pipeline.entry import run_from_config
from sdstylegan.training.callbacks import crossed


def test_crossed_fires_once_per_multiple_of_every_kimg():
    fired = []
    for nimg in range(4, 41, 4):  # batches of 4 images: cur_nimg after each step
        module = SimpleNamespace(cur_nimg=nimg, batch_size=4)
        fired.append(crossed(0.01, module))  # every 10 images
    assert [4 * (i + 1) for i, f in enumerate(fired) if f] == [12, 20, 32, 40]
    assert not any(crossed(None, SimpleNamespace(cur_nimg=n, batch_size=4)) for n in (4, 8))


def test_metrics_and_losses_share_the_minibatch_axis_and_the_config_is_logged(make_cfg):
    cfg = make_cfg(
        [
            *TINY,
            "pipeline.stages=[demo_data,train]",
            "training.total_kimg=0.012",
            *every(0.004),
            "training.callbacks.metrics.num_samples=8",
            "trainer.log_every_n_steps=1",
        ]
    )
    run_from_config(cfg)
    csv_dir = Path(cfg.paths.run_dir) / "train" / "csv"
    rows = list(csv.DictReader(open(csv_dir / "metrics.csv", encoding="utf-8")))
    fid = next(k for k in rows[0] if k.startswith("val/fid"))
    val_steps = [int(r["step"]) for r in rows if r[fid]]
    train_steps = {round(float(r["train/kimg"]), 3): int(r["step"]) for r in rows if r.get("train/loss_g")}
    # batch 4 → one minibatch per 0.004 kimg: metrics at minibatches 1, 2, 3, where the losses are too
    # (the optimiser-step counter would put them at ~2–3× these numbers)
    assert val_steps == [1, 2, 3]
    assert train_steps == {0.004: 1, 0.008: 2, 0.012: 3}
    hparams = yaml.safe_load((csv_dir / "hparams.yaml").read_text(encoding="utf-8"))
    assert hparams["stage"] == "train" and hparams["training"]["batch_size"] == 4
    assert hparams["paths"]["run_dir"] == str(cfg.paths.run_dir)  # resolved, not an interpolation


def test_metric_networks_are_built_once_and_kept_between_evaluations(make_cfg):
    from sdstylegan.training.callbacks import GeneratorMetrics

    cfg = make_cfg(["metrics=standin"])
    cb = GeneratorMetrics(every_kimg=1, num_samples=8, metrics=cfg.metrics)
    first = cb.suite(torch.device("cpu"))
    assert cb.suite(torch.device("cpu")) is first  # the second evaluation reuses the extractors
