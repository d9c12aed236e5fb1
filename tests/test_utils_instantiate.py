"""Loggers from config: csv and offline W&B (no account, no network) both record train/ metrics."""

from __future__ import annotations

import csv

import pytest

from sdstylegan.utils.instantiate import instantiate_dict


def test_csv_logger_writes_metrics(make_cfg):
    cfg = make_cfg(["logger=csv"])
    (lg,) = instantiate_dict(cfg.logger)
    lg.log_metrics({"train/loss_g": 1.5}, step=3)
    lg.save()
    rows = list(csv.DictReader(open(lg.experiment.metrics_file_path)))
    assert rows[0]["train/loss_g"] == "1.5"


def test_wandb_logger_is_offline_by_default(make_cfg, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = make_cfg(["logger=wandb"])
    assert cfg.logger.wandb.offline is True
    (lg,) = instantiate_dict(cfg.logger)
    try:
        lg.log_metrics({"train/loss_d": 0.25}, step=1)
        assert lg.experiment.settings.mode in ("offline", "dryrun")  # wandb names offline mode "dryrun"
    finally:
        import wandb

        wandb.finish()
    from pathlib import Path

    assert list((Path(cfg.paths.run_dir) / "wandb").glob("offline-run-*"))


def test_node_without_target_is_an_error():
    from omegaconf import OmegaConf

    with pytest.raises(ValueError, match="no _target_"):
        instantiate_dict(OmegaConf.create({"x": {"a": 1}}))
