"""Stage `cluster_bench` in the pipeline: demo data with ground-truth modes, a trained-looking checkpoint, resume."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from sdstylegan.cluster_bench.stage import needs
from sdstylegan.distill.ground_truth import mode_recovery
from sdstylegan.pipeline.runner import run_pipeline

sys.path.insert(0, str(Path(__file__).parent))
from cluster_bench_fixtures import tiny_checkpoint  # noqa: E402

TINY = [
    "dataset.num_images=24",
    "dataset.resolution=32",
    "+cluster_bench=standin",
    "cluster_bench.use_encoders=[pixels,D]",
    "cluster_bench.use_algorithms=[kmeans,agglomerative]",
    "cluster_bench.k_range=[2,3]",
    "cluster_bench.resolution=16",
    "cluster_bench.grid.size=8",
    "cluster_bench.encoders.pixels.size=4",
    "pipeline.stages=[demo_data,cluster_bench]",
]


def test_stage_scores_the_demo_modes_and_resumes(make_cfg, tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "last.ckpt")
    cfg = make_cfg([*TINY, f"cluster_bench.checkpoint={ckpt}"])
    out = run_pipeline(cfg)["cluster_bench"]
    run = Path(cfg.paths.run_dir)
    assert out["k"] == 4  # the demo's four gourd modes
    assert (run / out["report"]).name == "report.json"  # pixels and a trained D: no stand-in here
    report = json.loads((run / out["report"]).read_text())
    truth = {
        json.loads(x)["id"]: json.loads(x)
        for x in (run / "demo_data" / "ground_truth.jsonl").read_text().splitlines()
    }
    saved = np.load(run / "cluster_bench" / "assignments.npz")
    rows = list(csv.DictReader((run / out["csv"]).open()))
    assert {(r["encoder"], r["algorithm"]) for r in rows} == {
        (e, a) for e in ("pixels", "D_penultimate") for a in ("kmeans", "agglomerative")
    }
    for r in rows:  # the same figures as the cluster stage's mode recovery over images with a planted mode
        labels = dict(zip(saved["keys"].tolist(), saved[f"{r['encoder']}__{r['algorithm']}"].tolist()))
        rec = mode_recovery(labels, truth)
        assert int(r["images"]) == rec["images"] and float(r["accuracy"]) == pytest.approx(rec["accuracy"])
    assert report["labelled_images"] == sum(t["mode"] is not None for t in truth.values())
    again = run_pipeline(cfg)["cluster_bench"]  # done: skipped with the same outputs
    assert again == out


def test_needs_lists_pretrained_encoders_and_the_group_is_required(make_cfg):
    cfg = make_cfg(["+cluster_bench=default"])
    assert needs(cfg) == [
        f"cluster_bench.encoders.{n}" for n in ("dino_vits16", "dinov2", "clip", "inception")
    ]
    with pytest.raises(ValueError, match=r"\+cluster_bench=default"):
        needs(make_cfg([]))
