"""The self_filter stage in the real pipeline: demo data → train_raw (a tiny G + E, one step) → self_filter."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_run
from hydra.utils import instantiate

from sdstylegan.data.datamodule import ManifestImageDataset
from sdstylegan.data.manifest import read_manifest
from sdstylegan.distill.ground_truth import auroc
from sdstylegan.distill.reconstruction import reconstruct, unit_images
from sdstylegan.pipeline.entry import run_from_config
from sdstylegan.training.checkpoint import load_generator, load_network
from sdstylegan.utils.safe_build import UntrustedConfigError

sys.path.insert(0, str(Path(__file__).parent))
from hostile import payloads, snapshot  # noqa: E402

# 24 demo images at 32², a tiny StyleGAN2 + encoder trained for one minibatch, stand-in LPIPS/Inception.
TINY = [
    *tiny_run(24, 32),
    "training.total_kimg=0.004",
    "training.callbacks.samples.num=4",
    "training.callbacks.metrics.every_kimg=null",
    "filtering=demo",
    "filtering.batch_size=8",
    "filtering.grid_size=4",
]


def test_self_filter_scores_thresholds_and_writes_manifest_report_pictures(make_cfg):
    cfg = make_cfg([*TINY, "pipeline.stages=[demo_data,train_raw,self_filter]"])
    outs = run_from_config(cfg)
    run, out = Path(cfg.paths.run_dir), outs["self_filter"]
    before = read_manifest(run / outs["demo_data"]["manifest"])
    manifest = run / out["manifest"]
    after = read_manifest(manifest)
    assert [r.id for r in after] == [r.id for r in before] and out["total"] == 24
    for a, b in zip(after, before):  # every field kept; paths still reach the same files
        assert a.image_path(manifest.parent).resolve() == b.image_path(run / "demo_data").resolve()
        assert (a.source, a.status, a.orig_size, a.extra) == (b.source, b.status, b.orig_size, b.extra)
        assert a.kept == (a.filter_score < out["theta"])
    kept = sum(r.kept for r in after)
    assert kept == out["kept"] >= 17  # floor: 70 % of 24 (filtering=demo)
    assert len(ManifestImageDataset(manifest, 32)) == kept  # what the train stage will see

    # a score is LPIPS(x, G(E(x))) with the train_raw checkpoint's G_ema and E
    ckpt = run / outs["train_raw"]["checkpoint"]
    G, E = load_generator(ckpt), load_network(ckpt, which="E")
    lpips = instantiate(cfg.metrics.lpips)
    x = unit_images(ManifestImageDataset(run / outs["demo_data"]["manifest"], 32)[5].unsqueeze(0))
    with torch.no_grad():
        assert lpips(x, reconstruct(G, E, x)).item() == pytest.approx(after[5].filter_score, rel=1e-4)

    report = json.loads((run / out["report"]).read_text())
    assert out["report"].endswith("report_standin.json") and report["standin"] is True
    assert report["score"] == "lpips_alex_standin" and "fid_recon_all_standin" in report
    assert report["kept"] == kept and report["floor"] == 17 and report["path"][0]["reason"] == "start"
    gt = report["ground_truth_outliers_standin"]
    truth = [json.loads(x) for x in (run / outs["demo_data"]["ground_truth"]).read_text().splitlines()]
    assert gt["matched"] == 24 and gt["outliers"] == sum(t["outlier"] for t in truth)
    assert gt["removed"] == 24 - kept
    check_detection_report(
        report["ground_truth_detection_standin"],
        after,
        truth,
        kept,
        ckpt,
        run / outs["demo_data"]["manifest"],
    )
    for name in ("scores.png", "recon_worst.png", "recon_best.png"):
        assert (run / "self_filter" / name).stat().st_size > 0

    # a second run skips the stage (same fingerprint), a changed filtering config redoes it
    again = run_from_config(make_cfg([*TINY, "pipeline.stages=[demo_data,train_raw,self_filter]"]))
    assert again["self_filter"] == out
    stricter = run_from_config(
        make_cfg(
            [*TINY, "pipeline.stages=[demo_data,train_raw,self_filter]", "filtering.min_kept_fraction=1.0"]
        )
    )["self_filter"]
    assert stricter["kept"] == 24


def in_unit_interval(figures: dict) -> None:
    for key in ("auroc", "average_precision", "removed_precision", "removed_recall"):
        assert figures[key] is None or 0.0 <= figures[key] <= 1.0, (key, figures[key])
    for kind in figures["by_kind"].values():
        for key in ("auroc", "average_precision", "removed_recall"):
            assert kind[key] is None or 0.0 <= kind[key] <= 1.0, (key, kind[key])


def check_detection_report(
    det: dict, after: list, truth: list, kept: int, ckpt: Path, manifest: Path
) -> None:
    """Keys and ranges of ground_truth_detection, and its AUROCs recomputed from the records (same order)."""
    outlier = {t["id"]: t["outlier"] for t in truth}
    flags = [outlier[r.id] for r in after]
    assert det["matched"] == 24 and det["removed"] == 24 - kept and det["outliers"] == sum(flags) == 3
    assert det["removed_by"] == "filter_score_standin" and det["feature_space"].endswith("_standin")
    assert set(det["outliers_by_kind"]) == {"degraded", "graphic", "multi_subject"}
    methods = det["methods"]
    assert set(methods) == {
        "filter_score_standin",
        "feature_mean_distance_standin",
        "discriminator_realness",
        "random",
    }
    for name, m in methods.items():
        for figures in [m["expected"], m["draw"]] if name == "random" else [m]:
            in_unit_interval(figures)
            assert figures["auroc"] is not None and set(figures["by_kind"]) == set(det["outliers_by_kind"])
    assert methods["random"]["expected"]["auroc"] == 0.5
    assert methods["random"]["expected"]["removed_precision"] == pytest.approx(3 / 24)
    # the SDIP score's figures belong to the manifest rows: recomputed from filter_score and the truth by id
    assert methods["filter_score_standin"]["auroc"] == pytest.approx(
        auroc([r.filter_score for r in after], flags)
    )
    removed_outliers = sum(f and not r.kept for r, f in zip(after, flags))
    assert methods["filter_score_standin"]["removed_recall"] == pytest.approx(removed_outliers / 3)
    # the discriminator baseline: -D(x) of the train_raw D over the images in manifest order, batches of 8
    D = load_network(ckpt, which="D")
    data = ManifestImageDataset(manifest, 32)
    with torch.no_grad():
        d = torch.cat(
            [-D(unit_images(torch.stack([data[i] for i in range(s, s + 8)])))[:, 0] for s in (0, 8, 16)]
        )
    assert methods["discriminator_realness"]["auroc"] == pytest.approx(auroc(d.numpy(), flags))


def test_self_filter_without_train_raw_names_what_is_missing(make_cfg):
    cfg = make_cfg([*TINY, "pipeline.stages=[demo_data,self_filter]"])
    with pytest.raises(
        ValueError, match=r"stage 'self_filter' needs 'checkpoint' from one of \['train_raw'\]"
    ):
        run_from_config(cfg)  # at start, before demo_data runs


def test_hostile_train_raw_checkpoint_is_refused_by_self_filter(make_cfg, tmp_path):
    # train_raw's last.ckpt swapped for one whose generator config names builtins.open: self_filter must not call it
    stages = "pipeline.stages=[demo_data,train_raw,self_filter]"
    cfg = make_cfg([*TINY, "pipeline.stages=[demo_data,train_raw]"])
    outs = run_from_config(cfg)
    last = Path(cfg.paths.run_dir) / outs["train_raw"]["checkpoint"]
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    victims = tmp_path / "victims"
    victims.mkdir()
    ckpt["sdstylegan"]["model"]["generator"] = payloads(victims)["open_truncate"]
    torch.save(ckpt, last)
    before = snapshot(victims)
    with pytest.raises(UntrustedConfigError, match="'builtins.open'"):
        run_from_config(make_cfg([*TINY, stages]))
    assert (
        snapshot(victims) == before and not (Path(cfg.paths.run_dir) / "self_filter" / "done.json").exists()
    )
