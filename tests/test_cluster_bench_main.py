"""python -m sdstylegan.cluster_bench: a folder or a run directory in, tables out; bad label files refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from sdstylegan.cluster_bench.__main__ import main
from sdstylegan.data.demo_stage import generate_demo_dataset
from sdstylegan.utils.io import write_json

sys.path.insert(0, str(Path(__file__).parent))
from cluster_bench_fixtures import class_folder, tiny_checkpoint  # noqa: E402

FAST = [
    "cluster_bench.use_algorithms=[kmeans,birch]",
    "cluster_bench.k_range=[2,3]",
    "cluster_bench.resolution=16",
    "cluster_bench.grid.size=8",
    "cluster_bench.encoders.pixels.size=4",
]


def test_folder_with_class_subfolders(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # never the user's cache
    root = class_folder(tmp_path / "imgs", per_class=4)
    rc = main(
        [str(root), "--out", str(tmp_path / "out"), "--quiet", "cluster_bench.use_encoders=[pixels]", *FAST]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| pixels | kmeans | 3 | 3 | 12 | **1.000** |" in printed
    assert json.loads((tmp_path / "out" / "report.json").read_text())["classes"] == ["blue", "green", "red"]
    assert list((tmp_path / "xdg" / "sdstylegan" / "cluster_bench").glob("pixels-*.npz"))


def test_bad_label_file_is_a_clear_error(tmp_path, capsys):
    root = class_folder(tmp_path / "imgs", per_class=2)
    bad = tmp_path / "labels.csv"
    bad.write_text("name,colour\nx,y\n")
    rc = main(
        [
            str(root),
            "--out",
            str(tmp_path / "out"),
            "--labels",
            str(bad),
            "cluster_bench.use_encoders=[pixels]",
        ]
    )
    assert rc == 2
    assert "header must name a key column" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit):
        main([str(root)])  # a folder needs --out


def test_run_directory_gives_manifest_ground_truth_and_train_raw_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    generate_demo_dataset(run / "demo_data", 16, seed=0, resolution=32)
    write_json(
        run / "demo_data" / "done.json",
        {"outputs": {"manifest": "demo_data/manifest.jsonl", "ground_truth": "demo_data/ground_truth.jsonl"}},
    )
    tiny_checkpoint(run / "train_raw" / "checkpoints" / "last.ckpt")
    write_json(
        run / "train_raw" / "done.json", {"outputs": {"checkpoint": "train_raw/checkpoints/last.ckpt"}}
    )
    rc = main(
        [
            str(run),
            "--quiet",
            "--config",
            "standin",
            "cluster_bench.use_encoders=[pixels,E]",
            f"cluster_bench.cache_dir={tmp_path / 'cache'}",
            *FAST,
        ]
    )
    assert rc == 0
    report = json.loads((run / "cluster_bench_cli" / "report.json").read_text())
    assert report["k"] == 4 and report["labels"].endswith("ground_truth.jsonl")
    assert set(report["encoders"]) == {"pixels", "E_w"} and report["skipped"] == {}
