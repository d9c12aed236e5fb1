"""`dataset.cluster_subset`: start-of-run checks, the subset manifest, and a real tiny run training on it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_run

from sdstylegan.cluster_bench.assignments import write_assignments
from sdstylegan.cluster_bench.subset import SubsetSpec, select, subset_problems, write_subset_manifest
from sdstylegan.data.datamodule import ManifestImageDataset
from sdstylegan.data.manifest import ManifestRecord, read_manifest, write_manifest
from sdstylegan.pipeline.context import StageContext
from sdstylegan.pipeline.runner import run_pipeline
from sdstylegan.pipeline.validate import ValidationError

BENCH = [
    "+cluster_bench=standin",
    "cluster_bench.use_encoders=[pixels]",
    "cluster_bench.use_algorithms=[kmeans,birch]",
    "cluster_bench.num_clusters=4",
    "cluster_bench.k_curve=false",
    "cluster_bench.pictures=none",
    "cluster_bench.resolution=16",
    "cluster_bench.encoders.pixels.size=4",
]
TINY = [*tiny_run(24, 16), *BENCH, "training.total_kimg=0.008"]
STAGES = "pipeline.stages=[demo_data,cluster_bench,train]"


def subset(clusters: str, encoder: str = "pixels", algorithm: str = "kmeans", extra: str = "") -> str:
    return (
        f"dataset.cluster_subset={{encoder: {encoder}, algorithm: {algorithm}, clusters: {clusters}{extra}}}"
    )


def test_no_subset_no_problem(make_cfg):
    assert subset_problems(make_cfg([*TINY, STAGES])) == []
    assert subset_problems(make_cfg(["experiment=demo"])) == []  # the group need not even be there


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ([subset("[0]", encoder="clipp")], "dataset.cluster_subset.encoder=clipp: unknown encoder; "),
        ([subset("[0]", algorithm="dbscan")], "dataset.cluster_subset.algorithm=dbscan: unknown algorithm"),
        (
            [subset("[0]", encoder="clip")],
            "dataset.cluster_subset.encoder=clip: the benchmark does not run it",
        ),
        ([subset("[0, 4]")], "dataset.cluster_subset.clusters=[0, 4]: cluster(s) [4] do not exist: ids run "),
        ([subset("[-1]")], "cluster(s) [-1] do not exist"),
        ([subset("[]")], "dataset.cluster_subset.clusters=[]: empty: the subset would hold no image"),
        ([subset("[1, 1]")], "lists a cluster twice"),
        (
            [subset("[0]", extra=", k: 5")],
            "dataset.cluster_subset.k=5: differs from cluster_bench.num_clusters=4",
        ),
        ([subset("[0]"), "cluster_bench.num_clusters=null"], "cluster_bench.num_clusters=null: "),
        ([subset("[0]"), "pipeline.stages=[demo_data,train,cluster_bench]"], "must come before train"),
        (["dataset.cluster_subset={encoder: pixels, clusters: [0], kk: 2}"], "unknown field(s) ['kk']"),
    ],
)
def test_bad_values_stop_the_run_at_start(make_cfg, overrides, expected):
    cfg = make_cfg([*TINY, STAGES, *overrides])
    assert any(expected in line for line in subset_problems(cfg)), subset_problems(cfg)
    with pytest.raises(ValidationError, match="no stage was run") as e:
        run_pipeline(cfg)
    assert expected in str(e.value) and "(for train)" in str(e.value)
    assert not (Path(cfg.paths.run_dir) / "demo_data").exists()  # nothing ran


def test_select_keeps_usable_images_of_the_chosen_clusters():
    recs = [
        ManifestRecord("a", "s"),
        ManifestRecord("b", "s", kept=False),  # dropped by the self-filter: stays out
        ManifestRecord("c", "s", kept=True),
        ManifestRecord("d", "s", status="too_small"),
        ManifestRecord("e", "s"),  # not clustered by the benchmark
    ]
    out, counts = select(recs, {"a": 2, "b": 2, "c": 1, "d": 2}, (2, 3))
    assert [r.kept for r in out] == [True, False, False, None, False]
    assert [r.extra["bench_cluster"] for r in out] == [2, 2, 1, 2, None]
    assert [r.usable for r in out] == [True, False, False, False, False]
    assert counts == {"2": 1, "3": 0, "unassigned": 1}


def _ctx(tmp_path: Path, ids: list[str], pred: list[int], k: int) -> StageContext:
    run = tmp_path / "run"
    write_manifest(
        run / "src" / "manifest.jsonl", [ManifestRecord(i, "s", orig_path=f"{i}.png") for i in ids]
    )
    write_assignments(
        run / "cluster_bench" / "assignments",
        ids,
        [{"encoder": "pixels", "algorithm": "birch", "k": k, "_pred": np.array(pred)}],
        {"pixels": "pixels"},
        {},
    )
    (run / "train").mkdir(parents=True)
    return StageContext(
        "train",
        None,
        run,
        run / "train",
        inputs={
            "demo_data": {"manifest": "src/manifest.jsonl"},
            "cluster_bench": {"assignments": "cluster_bench/assignments/index.json"},
        },
        sources={"manifest": ["demo_data"], "assignments": ["cluster_bench"]},
    )


def test_a_cluster_that_holds_no_image_or_another_k_is_refused(tmp_path):
    ctx = _ctx(tmp_path, ["a", "b", "c"], [0, 0, 2], k=4)
    with pytest.raises(
        ValueError, match=r"cluster\(s\) \[1, 3\] of pixels × birch .* hold no image .*\[2, 0, 1, 0\]"
    ):
        write_subset_manifest(ctx, SubsetSpec("pixels", "birch", (1, 2, 3), 4))
    with pytest.raises(ValueError, match="k = 3, but the benchmark's assignment pixels × birch .* has k = 4"):
        write_subset_manifest(ctx, SubsetSpec("pixels", "birch", (0,), 3))
    manifest, summary = write_subset_manifest(ctx, SubsetSpec("pixels", "birch", (2,), 4))
    assert [r.id for r in read_manifest(manifest) if r.usable] == ["c"]
    assert read_manifest(manifest)[2].orig_path == "../src/c.png"  # paths rebased to the new folder
    assert summary["images"] == 1 and summary["cluster_sizes"] == [2, 0, 1, 0]


def test_train_trains_on_the_chosen_clusters_only(make_cfg):
    cfg = make_cfg([*TINY, STAGES, subset("[0, 2]")])
    out = run_pipeline(cfg)
    run = Path(cfg.paths.run_dir)
    index = run / out["cluster_bench"]["assignments"]
    with open(index.parent / "pixels__kmeans.csv", newline="") as f:
        clusters = {r["key"]: int(r["cluster"]) for r in csv.DictReader(f)}
    train = out["train"]
    manifest = run / train["subset_manifest"]
    records = read_manifest(manifest)
    assert {r.id: r.extra["bench_cluster"] for r in records} == clusters
    expected = {i for i, c in clusters.items() if c in (0, 2)}
    assert {r.id for r in ManifestImageDataset(manifest, 16).records} == expected  # what training loads
    summary = train["cluster_subset"]
    assert summary["images"] == len(expected) < 24 and summary["clusters"] == [0, 2]
    assert (run / train["checkpoint"]).is_file()
    done = json.loads((run / "train" / "done.json").read_text())
    assert done["config"]["dataset.cluster_subset"]["clusters"] == [0, 2]  # in the fingerprint

    # Another subset redoes train (not the benchmark); a subset smaller than one batch fails in training,
    # naming the subset manifest: the training data really is the subset.
    bench_token = json.loads((run / "cluster_bench" / "done.json").read_text())["token"]
    sizes = summary["cluster_sizes"]
    small = int(np.argmin([s if s else 99 for s in sizes]))
    cfg2 = make_cfg([*TINY, STAGES, subset(f"[{small}]"), f"training.batch_size={2 * sizes[small] + 2}"])
    with pytest.raises(ValueError, match=rf"train/manifest.jsonl has {2 * sizes[small]} images"):
        run_pipeline(cfg2)
    assert json.loads((run / "cluster_bench" / "done.json").read_text())["token"] == bench_token
    assert not (run / "cluster_bench.prev").exists() and (run / "train.prev" / "done.json").is_file()
