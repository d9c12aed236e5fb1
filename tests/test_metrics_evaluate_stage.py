"""The evaluate stage: a generator from sdstylegan.models, the demo manifest, the real pipeline end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import tiny_run
from hydra.utils import instantiate
from PIL import Image

from sdstylegan.data.manifest import read_manifest
from sdstylegan.metrics.evaluate_stage import evaluate_generator, manifest_cache_key
from sdstylegan.pipeline.entry import run_from_config

TINY = [
    *tiny_run(12, 16),
    "metrics.num_samples=24",
    "metrics.batch_size=8",
    "metrics.kid.subsets=4",
    "metrics.kid.subset_size=8",
]


@pytest.fixture
def demo(make_cfg, tmp_path):
    cfg = make_cfg([*TINY, "pipeline.stages=[demo_data]", f"paths.cache_dir={tmp_path / 'cache'}"])
    out = run_from_config(cfg)["demo_data"]
    return cfg, Path(cfg.paths.run_dir) / out["manifest"]


def test_evaluates_a_generator_and_writes_a_labelled_report(demo, tmp_path):
    cfg, manifest = demo
    torch.manual_seed(0)
    G = instantiate(cfg.model.generator)
    out_dir = tmp_path / "eval"
    out_dir.mkdir()
    out = evaluate_generator(G, manifest, cfg, out_dir, device="cpu")
    assert out["standin"] and Path(out["report"]).name == "report_standin.json"
    report = json.loads(Path(out["report"]).read_text())
    assert set(report["metrics"]) == {
        "val/fid24_standin",
        "val/kid24_standin",
        "val/kid24_std_standin",
        "val/precision_standin",
        "val/recall_standin",
    }
    usable = sum(r.usable for r in read_manifest(manifest))
    assert report["num_samples"] == 24 and report["num_real"] == {"standin_cnn_standin": usable}
    assert report["extractors"]["standin_cnn_standin"].startswith("standin_cnn(")
    with Image.open(out_dir / "samples.png") as grid:
        assert grid.size == (5 * 16, 5 * 16)  # 24 samples → 5 × 5 grid of 16² images
    # same seed → same numbers (latents derive from cfg.seed; real statistics now from the cache)
    again = evaluate_generator(G, manifest, cfg, out_dir, device="cpu")
    assert again["metrics"] == out["metrics"]
    assert len(list((tmp_path / "cache" / "metric_stats").glob("*.pt"))) == 1


def test_cache_key_follows_the_usable_records(demo, tmp_path):
    _, manifest = demo
    key = manifest_cache_key(manifest)
    copy = manifest.parent / "copy.jsonl"
    lines = manifest.read_text().splitlines()
    first = json.loads(lines[0])
    first["kept"] = False  # the self-filter dropped one image: another real set
    copy.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    assert manifest_cache_key(copy) != key
    assert manifest_cache_key(manifest) == key


def test_generator_at_another_resolution_is_refused(demo, tmp_path):
    cfg, manifest = demo
    G = instantiate(cfg.model.generator, img_resolution=32)
    with pytest.raises(ValueError, match="dataset.resolution=16"):
        evaluate_generator(G, manifest, cfg, tmp_path, device="cpu")


def test_pipeline_train_then_evaluate(make_cfg, tmp_path):
    overrides = [
        *TINY,
        "pipeline.stages=[demo_data,train,evaluate]",
        "training.total_kimg=0.004",
        "training.callbacks.metrics.every_kimg=null",
        "training.callbacks.samples.every_kimg=null",
        f"paths.cache_dir={tmp_path / 'cache'}",
    ]
    cfg = make_cfg(overrides)
    out = run_from_config(cfg)["evaluate"]
    run = Path(cfg.paths.run_dir)
    report = json.loads((run / out["report"]).read_text())
    assert report["checkpoint"] == "train/checkpoints/last.ckpt"
    assert all(k.endswith("_standin") for k in report["metrics"]) and report["standin"] is True
    assert (run / out["samples"]).exists() and (run / "evaluate" / "done.json").exists()
    # a second run finds the stage done and skips it (same done.json token); ψ changes → re-evaluated
    token = json.loads((run / "evaluate" / "done.json").read_text())["token"]
    assert run_from_config(make_cfg(overrides))["evaluate"] == out
    assert json.loads((run / "evaluate" / "done.json").read_text())["token"] == token
    run_from_config(make_cfg([*overrides, "metrics.truncation_psi=0.7"]))
    redone = json.loads((run / "evaluate" / "done.json").read_text())
    assert redone["token"] != token and redone["config"]["metrics"]["truncation_psi"] == 0.7
