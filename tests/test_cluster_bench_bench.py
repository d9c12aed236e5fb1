"""cluster_bench.bench: the benchmark on real files — labelled folder, run E/D, stand-ins, unlabelled sets."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from sdstylegan.cluster_bench.bench import run_benchmark
from sdstylegan.cluster_bench.images import from_folder
from sdstylegan.distill.ground_truth import clustering_scores

sys.path.insert(0, str(Path(__file__).parent))
from cluster_bench_fixtures import class_folder, tiny_checkpoint, write_image  # noqa: E402

FAST = [
    "cluster_bench.k_range=[2,4]",
    "cluster_bench.resolution=16",
    "cluster_bench.grid.size=8",
    "cluster_bench.grid.per_cluster=3",
    "cluster_bench.encoders.pixels.size=4",
    "cluster_bench.algorithms.kmeans.n_init=2",
    "cluster_bench.algorithms.sdstylegan_kmeans.n_init=2",
]


def bench_cfg(make_cfg, encoders: str, *extra: str):
    return make_cfg(
        ["+cluster_bench=standin", f"cluster_bench.use_encoders=[{encoders}]", *FAST, *extra]
    ).cluster_bench


def test_labelled_folder_all_algorithms_with_run_networks(make_cfg, tmp_path):
    images = from_folder(class_folder(tmp_path / "imgs", per_class=6))
    ckpt = tiny_checkpoint(tmp_path / "last.ckpt")
    out = tmp_path / "out"
    report = run_benchmark(
        bench_cfg(make_cfg, "pixels,inception,E,D", "cluster_bench.k_curve=false"),
        images,
        out,
        tmp_path / "cache",
        ckpt,
        device="cpu",
        progress=False,
    )
    assert report["k"] == 3 and report["k_rule"] == "number of classes" and report["skipped"] == {}
    assert (
        report["standin"] and (out / "report_standin.json").is_file() and not (out / "report.json").exists()
    )
    names = ["pixels", "inception_standin", "E_w", "D_penultimate"]
    assert list(report["encoders"]) == names
    rows = list(csv.DictReader((out / "cluster_bench.csv").open()))
    assert len(rows) == 4 * 6 and {r["k"] for r in rows} == {"3"} and {r["images"] for r in rows} == {"18"}
    # the scores in the table are those of the stored assignments (recomputed here)
    saved = np.load(out / "assignments.npz")
    assert list(saved["keys"]) == images.keys
    for r in rows:
        want = clustering_scores(images.labels, saved[f"{r['encoder']}__{r['algorithm']}"])
        assert float(r["accuracy"]) == pytest.approx(want["accuracy"])
        assert float(r["nmi"]) == pytest.approx(want["nmi"]) and float(r["ari"]) == pytest.approx(want["ari"])
    pix = {r["algorithm"]: float(r["accuracy"]) for r in rows if r["encoder"] == "pixels"}
    assert pix["kmeans"] == 1.0 and pix["agglomerative"] == 1.0  # three flat colours: trivially separable
    md = (out / "cluster_bench.md").read_text()
    assert "RANDOM weights" in md and "**1.000**" in md
    assert {"grids/pixels-kmeans.png", "embedding/pixels.png", "embedding/E_w.png"} <= set(report["pictures"])
    assert all((out / p).is_file() for p in report["pictures"])
    # a second run reads every encoder's features from the cache
    again = run_benchmark(
        bench_cfg(
            make_cfg, "pixels,inception,E,D", "cluster_bench.pictures=none", "cluster_bench.k_curve=false"
        ),
        images,
        tmp_path / "out2",
        tmp_path / "cache",
        ckpt,
        device="cpu",
        progress=False,
    )
    assert all(e["cached"] for e in again["encoders"].values())
    assert [r["accuracy"] for r in again["rows"]] == [r["accuracy"] for r in report["rows"]]


def test_unavailable_encoders_skipped_or_fatal(make_cfg, tmp_path):
    images = from_folder(class_folder(tmp_path / "imgs", per_class=3))
    cfg = bench_cfg(
        make_cfg, "pixels,E", "cluster_bench.use_algorithms=[kmeans]", "cluster_bench.pictures=none"
    )
    report = run_benchmark(cfg, images, tmp_path / "out", None, None, device="cpu", progress=False)
    assert "no training checkpoint" in report["skipped"]["E"] and not report["standin"]
    assert (tmp_path / "out" / "report.json").is_file()
    assert "Skipped: E (FileNotFoundError" in (tmp_path / "out" / "cluster_bench.md").read_text()
    cfg = bench_cfg(make_cfg, "pixels,E", "cluster_bench.on_unavailable=error")
    with pytest.raises(Exception, match="no training checkpoint"):
        run_benchmark(cfg, images, tmp_path / "out3", None, None, device="cpu", progress=False)
    with pytest.raises(ValueError, match="does not define"):
        run_benchmark(bench_cfg(make_cfg, "pixels,sift"), images, tmp_path / "o", None, device="cpu")


def test_unlabelled_set_chooses_k_on_the_curves(make_cfg, tmp_path):
    colours = [(250, 0, 0), (0, 250, 0), (0, 0, 250), (250, 250, 0)]
    for i in range(16):
        write_image(tmp_path / "flat" / f"{i:02d}.png", colours[i % 4], seed=i)
    images = from_folder(tmp_path / "flat")
    cfg = bench_cfg(
        make_cfg, "pixels", "cluster_bench.k_range=[2,6]", "cluster_bench.use_algorithms=[kmeans,gmm]"
    )
    report = run_benchmark(cfg, images, tmp_path / "out", None, device="cpu", progress=False)
    assert report["encoders"]["pixels"]["suggested_k"] == 4 and report["k"] == 4
    assert report["k_rule"].startswith("median")
    assert [c["k"] for c in report["encoders"]["pixels"]["k_curve"]] == [2, 3, 4, 5, 6]
    row = report["rows"][0]
    assert "accuracy" not in row
    assert row["silhouette"] > 0.8 and row["clusters_used"] == 4
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["labels"] is None and saved["k"] == 4
