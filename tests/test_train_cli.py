"""The command users type: `python train.py experiment=demo`, re-run, force, and a multirun sweep."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
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


def test_multirun_one_directory_per_job(tmp_path):
    _train(
        tmp_path,
        "-m",
        "experiment=demo",
        "dataset.num_images=5,7",
        "dataset.image_size=32",
        "pipeline.stages=[demo_data]",
    )
    base = tmp_path / "outputs" / "demo" / "multirun"
    counts = sorted(
        json.loads((base / str(j) / "demo_data" / "info.json").read_text())["num_images"] for j in (0, 1)
    )
    assert counts == [5, 7]


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
