"""The method-proof chain on a tiny run: subset trainings, the proof report, its pictures and tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import tiny_run

from sdstylegan.data.manifest import read_manifest
from sdstylegan.pipeline.entry import run_from_config
from sdstylegan.proof.subsets import subset_records

TINY = [
    *tiny_run(40, 32, experiment="demo_proof"),
    "dataset.outlier_fraction=0.3",
    "training.total_kimg=0.008",
    "training.callbacks.samples.num=4",
    "clustering.num_samples=200",
    "clustering.num_clusters=4",
    "clustering.n_init=1",
    "clustering.grid_samples=4",
    "clustering.batch_size=16",
    "filtering.min_kept_fraction=0.5",
    "filtering.step_fraction=0.1",
    "proof.num_samples=24",
    "proof.batch_size=8",
    "proof.grid_size=4",
    "proof.classifier.epochs=1",
    "metrics.num_samples=16",
    "pipeline.stages=[demo_data,train_raw,self_filter,train_random,train_all,train,cluster,proof]",
]


def test_subsets_random_keeps_the_kept_count_all_keeps_every_scored_record(tmp_path):
    from sdstylegan.data.manifest import ManifestRecord

    recs = [ManifestRecord(id=str(i), source="s", kept=i % 3 != 0) for i in range(30)]
    recs.append(ManifestRecord(id="bad", source="s", status="broken"))
    recs.append(ManifestRecord(id="unscored", source="s"))
    kept = sum(1 for r in recs if r.kept)
    a, n = subset_records(recs, "random", seed=1)
    assert n == kept == sum(1 for r in a if r.kept) and a[-2].kept is None and a[-1].kept is None
    assert [r.kept for r in a] != [r.kept for r in recs]  # a fresh draw, not the filter's choice
    assert [r.kept for r in subset_records(recs, "random", seed=1)[0]] == [r.kept for r in a]
    b, n = subset_records(recs, "all", seed=1)
    assert n == 30 and all(r.kept for r in b[:30])
    with pytest.raises(ValueError, match="subset"):
        subset_records(recs, "half", seed=1)
    with pytest.raises(ValueError, match="self_filter"):
        subset_records(recs[-1:], "all", seed=1)


def test_proof_chain_writes_report_tables_and_pictures(make_cfg):
    cfg = make_cfg(TINY)
    outs = run_from_config(cfg)
    run = Path(cfg.paths.run_dir)

    # later stages keep reading train's generator and the self-filter's manifest
    assert outs["cluster"]["manifest"] != outs["train_random"]["subset_manifest"]
    saved = torch.load(run / outs["cluster"]["centres"], weights_only=True)
    assert saved["checkpoint"] == outs["train"]["checkpoint"]
    kept = outs["self_filter"]["kept"]
    assert (
        outs["train_random"]["images"] == kept and outs["train_all"]["images"] == outs["self_filter"]["total"]
    )
    random_kept = {r.id for r in read_manifest(run / outs["train_random"]["subset_manifest"]) if r.kept}
    assert len(random_kept) == kept

    report = json.loads((run / outs["proof"]["report"]).read_text())
    assert outs["proof"]["report"].endswith("report_standin.json") and report["standin"]
    assert set(report["generators_standin"]) == {"train", "train_random", "train_all"}
    for g in report["generators_standin"].values():
        assert set(g["fid_standin"]) == {"all", "inliers"} and sum(g["modes"]["shares"]) == pytest.approx(1)
        assert g["modes"]["samples"] == 24
    assert set(report["coverage_standin"]) == {"psi_0.5", "psi_0.7"}
    assert 0 <= report["mode_classifier"]["holdout_accuracy"] <= 1
    det = report["self_filter"]["detection"]
    assert det["methods"]["filter_score_standin"]["auroc"] is not None
    truth = {
        t["id"]: t
        for t in map(json.loads, (run / outs["demo_data"]["ground_truth"]).read_text().splitlines())
    }
    filtered = read_manifest(run / outs["self_filter"]["manifest"])
    for mode, share in report["self_filter"]["removed_share_by_mode"].items():
        rows = [r for r in filtered if not truth[r.id]["outlier"] and truth[r.id]["mode_name"] == mode]
        assert share == pytest.approx(sum(r.kept is False for r in rows) / len(rows))
    assert set(report["claims"]) >= {"self_filter_auroc", "random_at_chance", "multimodal_covers_all_modes"}
    md = (run / outs["proof"]["markdown"]).read_text()
    assert "STAND-IN" in md and "| train_random |" in md and "| 0.5 | multimodal |" in md
    for name in ("recon_by_kind.png", "scores_by_kind.png", "truncation_psi0.5.png", "truncation_psi0.7.png"):
        assert (run / "proof" / name).stat().st_size > 0


def test_proof_without_ground_truth_says_so(make_cfg, tmp_path):
    from sdstylegan.pipeline.context import StageContext
    from sdstylegan.proof.proof_stage import run_proof

    cfg = make_cfg(TINY)
    ctx = StageContext("proof", cfg, tmp_path, tmp_path / "proof", inputs={})
    with pytest.raises(ValueError, match="ground truth"):
        run_proof(ctx)


def test_bad_proof_values_stop_the_run_before_its_first_stage(make_cfg):
    from sdstylegan.pipeline.runner import run_pipeline
    from sdstylegan.pipeline.validate import ValidationError

    cfg = make_cfg(
        [
            *TINY,
            "proof.num_samples=1",
            "proof.psis=[0.5,1.5]",
            "proof.classifier.holdout=1",
            "pipeline.stages=[demo_data,train_raw,self_filter,train_random,train_all,train,cluster,proof]",
        ]
    )
    with pytest.raises(ValidationError) as err:
        run_pipeline(cfg)
    text = str(err.value)
    assert "proof.num_samples=1: must be an integer ≥ 2" in text and "proof.psis=[0.5, 1.5]" in text
    assert "proof.classifier.holdout=1: must be a number in (0, 1)" in text
    assert not (Path(cfg.paths.run_dir) / "demo_data").exists()
    cfg = make_cfg([*TINY, "pipeline.stages=[demo_data,train_raw,train,proof]"])  # no self_filter, cluster
    with pytest.raises(
        ValueError, match=r"stage 'proof' needs 'report' from one of \['self_filter', 'cluster'\]"
    ):
        run_pipeline(cfg)


@pytest.mark.slow
def test_reduced_proof_run_detects_outliers_well_above_chance(make_cfg):
    """demo_proof's training, shortened (1,000 images, 8 kimg, ~4 min on 2 cores): the self-filter ranks the
    planted outliers well above the inliers — 3 sd of the chance AUROC — and shuffled or inverted scores fail
    that bound."""
    import numpy as np

    from sdstylegan.distill.ground_truth import auroc

    cfg = make_cfg(
        [
            "experiment=demo_proof",
            "dataset.num_images=1000",
            "training.total_kimg=8",
            "trainer.enable_progress_bar=false",
            "print_config=false",
            "pipeline.stages=[demo_data,crop,train_raw,self_filter]",
        ]
    )
    outs = run_from_config(cfg)
    run = Path(cfg.paths.run_dir)
    report = json.loads((run / outs["self_filter"]["report"]).read_text())
    truth = {
        t["id"]: t
        for t in map(json.loads, (run / outs["demo_data"]["ground_truth"]).read_text().splitlines())
    }
    recs = [r for r in read_manifest(run / outs["self_filter"]["manifest"]) if r.filter_score is not None]
    scores = np.array([r.filter_score for r in recs])
    outlier = np.array([bool(truth[r.id]["outlier"]) for r in recs])
    det = report["ground_truth_detection_standin"]
    assert auroc(scores, outlier) == pytest.approx(
        det["methods"]["filter_score_standin"]["auroc"]
    )  # same rows

    n1, n0 = int(outlier.sum()), int((~outlier).sum())
    sd = ((n1 + n0 + 1) / (12 * n1 * n0)) ** 0.5  # sd of the AUROC of random scores (Mann-Whitney null)
    a = auroc(scores, outlier)
    assert a >= 0.5 + 3 * sd, (a, sd)
    assert auroc(-scores, outlier) <= 0.5 - 3 * sd  # inverted scores fail
    assert (
        abs(auroc(np.random.default_rng(0).permutation(scores), outlier) - 0.5) < 3 * sd
    )  # shuffled: chance
