"""Every config group option and every experiment composes; `_target_` nodes instantiate."""

from __future__ import annotations

import pytest
from conftest import CONF, compose_config
from hydra.utils import instantiate
from omegaconf import OmegaConf

GROUPS = [
    "dataset",
    "collect",
    "detector",
    "model",
    "training",
    "filtering",
    "clustering",
    "metrics",
    "trainer",
    "logger",
    "paths",
    "pipeline",
]
OPTIONAL = ["experiment", "hparams_search", "debug"]


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_primary_config_has_every_group_and_null_slots():
    text = (CONF / "config.yaml").read_text()
    for g in GROUPS:
        assert f"- {g}:" in text, g
    for g in OPTIONAL:
        assert f"- {g}: null" in text, g


@pytest.mark.parametrize(
    "group,option", [(g, o) for g in GROUPS + ["hparams_search", "debug"] for o in _options(g)]
)
def test_every_group_option_composes(tmp_path, group, option):
    overrides = [f"{group}={option}"]
    # Options with mandatory values (`key: ???`, e.g. a folder or a URL list) get a stand-in path.
    raw = OmegaConf.load(CONF / group / f"{option}.yaml")
    overrides += [f"{group}.{k}={tmp_path}" for k in raw if OmegaConf.is_missing(raw, k)]
    cfg = compose_config(overrides, tmp_path / "run")
    # Resolve everything except hydra's own node (set only under a real Hydra run).
    plain = {k: v for k, v in cfg.items() if k != "hydra"}
    OmegaConf.to_container(OmegaConf.create(plain), resolve=True)


@pytest.mark.parametrize("name", _options("experiment"))
def test_every_experiment_composes_and_is_global(tmp_path, name):
    assert (CONF / "experiment" / f"{name}.yaml").read_text().startswith("# @package _global_")
    cfg = compose_config([f"experiment={name}"], tmp_path / "run")
    assert cfg.experiment_name == name
    assert list(cfg.pipeline.stages), "an experiment must list its stages"
    for stage in cfg.pipeline.stages:
        assert stage in cfg.pipeline.registry


def test_run_dir_is_deterministic_from_experiment_name():
    cfg = compose_config(["experiment=demo"])
    hydra_cfg = OmegaConf.to_container(OmegaConf.load(CONF / "hydra" / "default.yaml"), resolve=False)
    assert hydra_cfg["run"]["dir"] == "${paths.output_dir}/${experiment_name}"  # no timestamp
    # sweep jobs are named by their overrides, never by their number (a later sweep would reuse 0, 1, …)
    assert "hydra.overrides.task" in hydra_cfg["sweep"]["subdir"]
    assert cfg.experiment_name == "demo"


def test_objects_instantiate_from_targets(tmp_path):
    cfg = compose_config(["experiment=demo"], tmp_path / "run")
    dm = instantiate(cfg.dataset.datamodule, manifest_path=str(tmp_path / "m.jsonl"))
    assert dm.resolution == cfg.dataset.resolution
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    assert trainer.num_devices == 1
    from sdstylegan.utils.instantiate import instantiate_dict

    loggers = instantiate_dict(cfg.logger)
    assert [type(lg).__name__ for lg in loggers] == ["CSVLogger"]
    assert loggers[0].save_dir == str(tmp_path / "run")


def test_slurm_launcher_config_composes_when_the_plugin_is_installed():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose(
            config_name="config",
            overrides=["hydra/launcher=slurm", "experiment=demo"],
            return_hydra_config=True,
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert launcher.tasks_per_node == launcher.gpus_per_node == 8
