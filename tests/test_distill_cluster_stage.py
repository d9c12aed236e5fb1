"""The cluster stage in the real pipeline: KMeans of the final G_ema's w, grids, real-image clusters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import tiny_run
from hydra.utils import instantiate
from PIL import Image

from sdstylegan.data.datamodule import ManifestImageDataset
from sdstylegan.data.manifest import read_manifest
from sdstylegan.distill.cluster_stage import run_cluster, sample_w
from sdstylegan.distill.ground_truth import cluster_accuracy
from sdstylegan.distill.kmeans import kmeans
from sdstylegan.distill.reconstruction import unit_images
from sdstylegan.distill.truncation import render
from sdstylegan.pipeline.context import StageContext
from sdstylegan.pipeline.entry import run_from_config
from sdstylegan.training.checkpoint import load_generator
from sdstylegan.utils.seeding import derive_seed

TINY = [
    *tiny_run(16, 32),
    "training.total_kimg=0.004",
    "training.callbacks.samples.num=4",
    "training.callbacks.metrics.every_kimg=null",
    "clustering=demo",
    "clustering.num_samples=300",
    "clustering.num_clusters=4",
    "clustering.n_init=2",
    "clustering.grid_samples=8",
    "clustering.batch_size=16",
]


def test_cluster_stage_centres_grids_and_manifest(make_cfg):
    cfg = make_cfg([*TINY, "pipeline.stages=[demo_data,train,cluster]"])
    outs = run_from_config(cfg)
    run, out = Path(cfg.paths.run_dir), outs["cluster"]
    saved = torch.load(run / out["centres"], weights_only=True)
    assert saved["centres"].shape == (4, 16) and sum(saved["counts"]) == 300
    assert saved["checkpoint"] == outs["train"]["checkpoint"]

    # the centres are KMeans of the seeded w sample of the train checkpoint's G_ema (reproducible)
    G = load_generator(run / outs["train"]["checkpoint"])
    w = sample_w(G, 300, derive_seed(0, "cluster", "w"), 16 * 16)
    km = kmeans(w, 4, seed=derive_seed(0, "cluster", "kmeans"), n_init=2)
    assert torch.allclose(km.centres, saved["centres"], atol=1e-5)

    for name in ("untruncated", "truncated_mean", "truncated_multimodal"):
        assert Image.open(run / "cluster" / f"{name}.png").size == (3 * 32, 3 * 32)  # 8 samples, 3 per row
    assert Image.open(run / "cluster" / "centres.png").size == (2 * 32, 2 * 32)

    # every usable real image gets the centre whose image is nearest by LPIPS
    manifest = run / out["manifest"]
    recs = read_manifest(manifest)
    assert all(r.cluster in range(4) for r in recs if r.usable)
    lpips = instantiate(cfg.metrics.lpips)
    centre_images = render(G, saved["centres"])
    x = unit_images(torch.stack([ManifestImageDataset(manifest, 32)[i] for i in range(3)]))
    usable = [r for r in recs if r.usable]
    assert lpips.cdist(x, centre_images).argmin(dim=1).tolist() == [r.cluster for r in usable[:3]]

    report = json.loads((run / out["report"]).read_text())
    assert out["report"].endswith("report_standin.json") and report["lpips"] == "lpips_alex_standin"
    assert sum(report["real_cluster_sizes"]) == len(usable) == 16
    agreement = report["ground_truth_modes_standin"]
    assert 0 < agreement["purity"] <= 1 and agreement["matched_inliers"] > 0

    # mode recovery over every image with a planted mode (degraded outliers keep theirs), from the manifest rows
    rec = report["ground_truth_mode_recovery_standin"]
    truth = {
        t["id"]: t
        for t in map(json.loads, (run / outs["demo_data"]["ground_truth"]).read_text().splitlines())
    }
    with_mode = [r for r in usable if truth[r.id]["mode"] is not None]
    assert rec["images"] == len(with_mode) > 0 and rec["inliers"]["images"] == agreement["matched_inliers"]
    for figures in (rec, rec["inliers"]):
        assert (
            0 <= figures["accuracy"] <= 1 and 0 <= figures["nmi"] <= 1 and -1 <= figures["ari"] <= 1
        )  # ARI may be < 0
    assert rec["inliers"]["nmi"] == pytest.approx(agreement["nmi"])  # same inliers, same normalisation
    modes, clusters = [truth[r.id]["mode"] for r in with_mode], [r.cluster for r in with_mode]
    assert rec["accuracy"] == pytest.approx(cluster_accuracy(modes, clusters))
    assert rec["modes"] == len(set(modes)) and rec["clusters_used"] == len(set(clusters))


def test_more_clusters_than_samples_is_refused_before_anything_is_loaded(make_cfg, tmp_path):
    cfg = make_cfg([*TINY, "clustering.num_samples=3"])
    ctx = StageContext(
        "cluster", cfg, tmp_path, tmp_path / "cluster", inputs={"train": {"checkpoint": "nowhere.ckpt"}}
    )
    with pytest.raises(ValueError, match="num_clusters=4 must lie in"):
        run_cluster(ctx)
    ctx.cfg.clustering.num_samples = 300
    with pytest.raises(FileNotFoundError, match="nowhere.ckpt does not exist"):
        run_cluster(ctx)


def test_whole_demo_chain_with_filter_train_cluster_evaluate(make_cfg):
    cfg = make_cfg(
        [
            *TINY,
            "dataset.num_images=24",
            "filtering=demo",
            "pipeline.stages=[demo_data,train_raw,self_filter,train,cluster,evaluate]",
            "metrics.num_samples=16",
        ]
    )
    outs = run_from_config(cfg)
    run = Path(cfg.paths.run_dir)
    kept = outs["self_filter"]["kept"]
    recs = read_manifest(run / outs["cluster"]["manifest"])
    assert sum(r.usable for r in recs) == kept and kept >= 17  # floor: 70 % of 24 (filtering=demo)
    assert sum(r.kept is False for r in recs) == 24 - kept
    assert all((r.cluster is None) != r.usable for r in recs)  # filtered-out images get no cluster
    assert (
        json.loads((run / outs["cluster"]["report"]).read_text())["checkpoint"] == outs["train"]["checkpoint"]
    )
    assert "metrics" in outs["evaluate"]


def test_cluster_stage_on_an_imported_nvlabs_generator(make_cfg, tmp_path):
    # SDIP-style centres for a generator that was not trained here: an NVlabs-layout pickle, read as data
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from nvlabs_fake import tree, write_snapshot

    from sdstylegan.interop.nvlabs_networks import export_nvlabs
    from sdstylegan.models.generator import Generator

    torch.manual_seed(0)
    G = Generator(
        z_dim=16, w_dim=16, img_resolution=32, mapping_layers=2, channel_base=256, channel_max=16
    ).eval()
    state, kwargs = export_nvlabs(G)
    pkl = tmp_path / "sdip_model.pkl"
    write_snapshot(pkl, {"G_ema": tree(state, "Generator", kwargs, "raise SystemExit('never run')")})
    cfg = make_cfg(
        [*TINY, "pipeline.stages=[cluster]", f"clustering.generator={pkl}", "clustering.assign_real=false"]
    )
    out = run_from_config(cfg)["cluster"]
    saved = torch.load(Path(cfg.paths.run_dir) / out["centres"], weights_only=True)
    assert saved["centres"].shape == (4, 16) and saved["checkpoint"] == str(pkl)
    with pytest.raises(ValueError, match="clustering.generator=.*no such"):
        run_from_config(
            make_cfg(
                [
                    *TINY,
                    "pipeline.stages=[cluster]",
                    f"clustering.generator={tmp_path / 'x.pkl'}",
                    "clustering.assign_real=false",
                ],
                run_dir=tmp_path / "bad",
            )
        )
