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


# ----------------------------------------------------------------------------- arguments and bad input


def test_help_and_argument_errors_exit_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    usage = capsys.readouterr().out
    assert usage.startswith("usage: python -m sdstylegan.cluster_bench")
    assert all(opt in usage for opt in ("--out", "--labels", "--config", "--quiet", "overrides"))
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 2
    assert "the following arguments are required: source" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path), "--bogus"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_source_neither_a_run_nor_a_folder_is_refused(tmp_path, capsys):
    a_file = tmp_path / "photo.png"
    a_file.write_bytes(b"x")
    for source in (tmp_path / "missing", a_file):
        with pytest.raises(SystemExit) as exit_:
            main([str(source), "--out", str(tmp_path / "out")])
        assert exit_.value.code == 2
        assert f"{source}: neither a run directory nor a folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_run_directory_without_a_finished_manifest_stage_is_rc_2(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("seed: 0\n")  # a run directory, but no stage finished
    assert main([str(run), "cluster_bench.use_encoders=[pixels]"]) == 2
    err = capsys.readouterr().err
    assert f"error: {run}: no finished stage with a manifest (crop, demo_data, ingest, collect)" in err
    assert not (run / "cluster_bench_cli").exists()


def test_unknown_override_key_is_refused_by_the_config(tmp_path):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="Could not override 'cluster_bench.no_such_key'"):
        main([str(tmp_path), "--out", str(tmp_path / "out"), "cluster_bench.no_such_key=1"])
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- what a run directory gives


@pytest.fixture
def demo_run(tmp_path) -> Path:
    """demo_data (6 images, ground truth) and a crop stage whose manifest keeps only the first 4; no training."""
    run = tmp_path / "run"
    generate_demo_dataset(run / "demo_data", 6, seed=0, resolution=16, num_workers=1)
    write_json(
        run / "demo_data" / "done.json",
        {"outputs": {"manifest": "demo_data/manifest.jsonl", "ground_truth": "demo_data/ground_truth.jsonl"}},
    )
    lines = (run / "demo_data" / "manifest.jsonl").read_text().splitlines(keepends=True)
    (run / "crop").mkdir()
    (run / "crop" / "manifest.jsonl").write_text(
        "".join(lines[:4]).replace('"images/', '"../demo_data/images/')
    )
    write_json(run / "crop" / "done.json", {"outputs": {"manifest": "crop/manifest.jsonl"}})
    return run


def _bcfg(**kw):
    from omegaconf import OmegaConf

    return OmegaConf.create({"manifest_stage": "crop", "checkpoint": None, **kw})


def test_run_images_prefers_manifest_stage_then_the_first_source_stage(demo_run):
    from sdstylegan.cluster_bench.__main__ import run_images

    images, ckpt = run_images(demo_run, _bcfg(), labels=None)
    assert len(images) == 4 and images.source == str(demo_run / "crop" / "manifest.jsonl")
    assert all(p.is_file() for p in images.paths) and ckpt is None and not images.labelled
    images, _ = run_images(demo_run, _bcfg(manifest_stage=None), labels=None)
    assert len(images) == 6 and images.source.endswith("demo_data/manifest.jsonl")
    images, _ = run_images(demo_run, _bcfg(manifest_stage="self_filter"), labels=None)  # not done: skipped
    assert len(images) == 6


def test_run_images_auto_labels_are_the_demo_ground_truth(demo_run):
    from sdstylegan.cluster_bench.__main__ import run_images

    images, _ = run_images(demo_run, _bcfg(), labels="auto")
    assert images.label_source == str(demo_run / "demo_data" / "ground_truth.jsonl") and images.labelled
    (demo_run / "demo_data" / "done.json").write_text('{"outputs": {"manifest": "demo_data/manifest.jsonl"}}')
    images, _ = run_images(demo_run, _bcfg(), labels="auto")  # no ground truth recorded: unlabelled
    assert images.label_source is None and not images.labelled


def test_run_images_checkpoint_train_raw_before_train_unless_configured(demo_run, monkeypatch, tmp_path):
    from sdstylegan.cluster_bench.__main__ import run_images

    write_json(demo_run / "train" / "done.json", {"outputs": {"checkpoint": "train/last.ckpt"}})
    assert run_images(demo_run, _bcfg(), None)[1] == demo_run / "train" / "last.ckpt"
    write_json(demo_run / "train_raw" / "done.json", {"outputs": {"checkpoint": "train_raw/last.ckpt"}})
    assert run_images(demo_run, _bcfg(), None)[1] == demo_run / "train_raw" / "last.ckpt"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert run_images(demo_run, _bcfg(checkpoint="~/mine.ckpt"), None)[1] == tmp_path / "home" / "mine.ckpt"
