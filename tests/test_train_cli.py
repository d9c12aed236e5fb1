"""The command users type: `python train.py experiment=demo`, re-run, force, and a multirun sweep."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from functools import partial

import pytest
import yaml
from conftest import ROOT


def _train(cwd, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_demo_run_rerun_and_force(tmp_path):
    small = [
        "experiment=demo",
        "dataset.num_images=16",
        "dataset.image_size=32",
        "pipeline.stages=[demo_data]",
    ]
    out = _train(tmp_path, *small)
    run_dir = tmp_path / "outputs" / "demo"
    assert "CONFIG" in out and "stage demo_data   running" in out
    for f in [
        "config.yaml",
        "config_tree.txt",
        "demo_data/manifest.jsonl",
        "demo_data/ground_truth.jsonl",
        "demo_data/done.json",
        "demo_data/images/000015.png",
    ]:
        assert (run_dir / f).exists(), f
    token = json.loads((run_dir / "demo_data/done.json").read_text())["token"]
    assert "stage demo_data   skipped" in _train(tmp_path, *small)
    assert json.loads((run_dir / "demo_data/done.json").read_text())["token"] == token
    _train(tmp_path, *small, "pipeline.force=[demo_data]")
    assert json.loads((run_dir / "demo_data/done.json").read_text())["token"] != token


def test_multirun_one_directory_per_job_and_a_later_sweep_keeps_earlier_results(tmp_path):
    def sweep(values: str) -> None:
        _train(tmp_path, "-m", "experiment=demo", f"dataset.num_images={values}", "dataset.image_size=32",
               "pipeline.stages=[demo_data]")  # fmt: skip

    def token(n: int) -> str:
        return json.loads(
            (base / f"dataset.num_images={n},dataset.image_size=32" / "demo_data" / "done.json").read_text()
        )["token"]

    base = tmp_path / "outputs" / "demo" / "multirun"
    sweep("5,7")
    first = {n: token(n) for n in (5, 7)}
    info = json.loads(
        (base / "dataset.num_images=5,dataset.image_size=32" / "demo_data" / "info.json").read_text()
    )
    assert info["num_images"] == 5
    sweep("7,9")  # job 0 of this sweep is 7, not 5: nothing of the first sweep is moved aside
    assert token(5) == first[5] and token(7) == first[7]  # 5 untouched, 7 found and skipped
    assert (base / "dataset.num_images=9,dataset.image_size=32" / "demo_data" / "done.json").exists()
    assert not list(base.glob("*/*.prev"))


def test_optimized_metric_is_what_a_sweeper_gets(tmp_path):
    from omegaconf import OmegaConf

    from sdstylegan.pipeline.entry import optimized_value

    outputs = {"evaluate": {"metrics": {"val/fid50k": 3.5, "val/kid50k": 0.1}, "standin": False}}
    value = partial(optimized_value, outputs=outputs)
    assert value(OmegaConf.create({"optimized_metric": None})) is None
    assert value(OmegaConf.create({"optimized_metric": "evaluate.metrics.val/fid50k"})) == 3.5
    assert value(OmegaConf.create({"optimized_metric": "evaluate.metrics.val/fid"})) == 3.5  # unique prefix
    for bad, why in [
        ("evaluate.metrics.val/", "no unique 'val/'"),  # two keys match
        ("train.kimg", "no unique 'train'"),
        ("evaluate.standin", "not a number"),
        ("evaluate.metrics.val/fid50k.x", "not a group"),
    ]:
        with pytest.raises(ValueError, match=why):
            value(OmegaConf.create({"optimized_metric": bad}))


@pytest.mark.slow
def test_optuna_search_example_runs_and_reports_the_best_trial(tmp_path):
    tiny = ["dataset.num_images=12", "dataset.resolution=16", "dataset.image_size=16", "model.channel_base=256",
            "model.channel_max=16", "model.z_dim=16", "model.w_dim=16", "training.batch_size=4",
            "training.total_kimg=0.004", "training.callbacks.metrics.every_kimg=null", "metrics=standin",
            "metrics.num_samples=8", "training.callbacks.samples.num=4", "dataset.datamodule.num_workers=0",
            "pipeline.stages=[demo_data,train,evaluate]", "trainer.enable_progress_bar=false"]  # fmt: skip
    out = _train(tmp_path, "-m", "experiment=demo", "hparams_search=optuna_demo", "hydra.sweeper.n_trials=2",
                 "hydra.sweeper.sampler.n_startup_trials=2", *tiny)  # fmt: skip
    values = [float(v) for v in re.findall(r"optimized_metric evaluate.metrics.val/fid = ([0-9.e-]+)", out)]
    base = tmp_path / "outputs" / "demo" / "multirun"
    best = yaml.safe_load((base / "optimization_results.yaml").read_text())
    assert len(values) == 2 and best["best_value"] == min(values)
    assert len(list(base.glob("training.r1_gamma=*/evaluate/done.json"))) == 2  # one folder per trial


def test_unbuilt_stage_fails_at_start_with_its_name(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "experiment=demo",
            "+pipeline.registry.future={fn:null}",
            "pipeline.stages=[demo_data,future]",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "stage 'future' is not built yet" in proc.stderr + proc.stdout
    assert not (tmp_path / "outputs" / "demo" / "demo_data").exists()  # failed before running anything


def test_mistyped_values_fail_at_start_one_line_each_without_traceback(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "experiment=demo",
            "print_config=false",
            "training.batch_size=0",
            "dataset.resolution=100",
            "dataset.num_images=16",
            "dataset.image_size=32",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    lines = [
        "  dataset.resolution=100: the StyleGAN2 networks need a power of two ≥ 8 (e.g. 64 or 128) (for train_raw, train)",
        "  training.batch_size=0: must be an integer ≥ 1 (for train_raw, train)",
    ]
    err = proc.stderr.splitlines()
    assert err[err.index(lines[0]) - 1].startswith("the run cannot start: 2 problems; no stage was run")
    assert err[err.index(lines[0]) + 1] == lines[1]
    assert "Traceback" not in proc.stdout + proc.stderr
    run = tmp_path / "outputs" / "demo"
    assert not [
        p.name for p in run.iterdir() if p.is_dir() and p.name != ".hydra"
    ]  # no stage folder: nothing ran


@pytest.mark.slow
def test_whole_demo_chain_under_two_process_ddp(tmp_path):
    """Every stage of the demo under Lightning's DDP relaunch (2 gloo processes): no hang, no stray .prev."""
    _train(tmp_path, "experiment=demo", "trainer=ddp_cpu", "dataset.num_images=96", "print_config=false")
    run = tmp_path / "outputs" / "demo"
    for stage in ("demo_data", "crop", "train_raw", "self_filter", "train", "cluster", "evaluate"):
        assert (run / stage / "done.json").exists(), stage
    assert not list(run.glob("*.prev"))
