"""The demo_data stage: what it writes, from which dataset keys, deterministically, and how it resumes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from PIL import Image

from sdstylegan.data.demo import MODES, OUTLIER_KINDS, DemoStyle
from sdstylegan.data.demo_stage import demo_style, generate_demo_dataset, run_demo_data
from sdstylegan.data.manifest import read_manifest
from sdstylegan.pipeline.context import StageContext


def _gt(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "ground_truth.jsonl").read_text().splitlines()]


def _ctx(run: Path, **dataset) -> StageContext:
    d = {
        "name": "demo",
        "num_images": 6,
        "seed": 3,
        "resolution": 32,
        "image_size": 16,
        "outlier_fraction": 0.5,
        "num_workers": 1,
        **dataset,
    }
    return StageContext("demo_data", OmegaConf.create({"dataset": d}), run, run / "demo_data")


def test_records_and_info_agree_with_the_ground_truth(tmp_path):
    info = generate_demo_dataset(tmp_path, 12, seed=5, resolution=16, outlier_fraction=0.5, num_workers=1)
    recs, gt = read_manifest(tmp_path / "manifest.jsonl"), _gt(tmp_path)
    assert [r.source for r in recs] == [f"demo://seed5/{i}" for i in range(12)]
    assert all(r.orig_size == [16, 16] for r in recs)
    for r, g in zip(recs, gt):
        data = (tmp_path / g["file"]).read_bytes()
        assert r.id == g["id"] == hashlib.sha256(data).hexdigest()  # the id is the file's hash
        assert Image.open(tmp_path / g["file"]).size == (16, 16)
        assert g["outlier"] == (g["outlier_kind"] is not None)
        assert (
            g["outlier"] or g["mode"] is not None
        )  # every inlier has its mode (degraded outliers keep theirs)
        assert g["mode_name"] == (MODES[g["mode"]] if g["mode"] is not None else None)
    outliers = [g for g in gt if g["outlier"]]
    assert info["num_outliers"] == len(outliers) and 0 < len(outliers) < 12
    assert info["outlier_kinds"] == {
        k: sum(g["outlier_kind"] == k for g in outliers) for k in info["outlier_kinds"]
    }
    assert sum(info["inlier_mode_counts"].values()) + info["num_outliers"] == 12
    assert info["modes"] == list(MODES) and info["outlier_kind_names"] == list(OUTLIER_KINDS)
    assert json.loads((tmp_path / "info.json").read_text()) == info
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [f"{i:06d}.png" for i in range(12)]


def test_same_seed_same_images_other_seed_other_images(tmp_path):
    ids = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        generate_demo_dataset(tmp_path / name, 6, seed=seed, resolution=16, num_workers=1)
        ids[name] = [r.id for r in read_manifest(tmp_path / name / "manifest.jsonl")]
    assert (
        ids["a"] == ids["b"]
        and (tmp_path / "a" / "ground_truth.jsonl").read_text()
        == (tmp_path / "b" / "ground_truth.jsonl").read_text()
    )
    assert not set(ids["a"]) & set(ids["c"])


def test_worker_processes_give_the_same_dataset_as_one_process(tmp_path):
    """64 images or more with several workers go through a process pool: the same files, rows and order."""
    generate_demo_dataset(tmp_path / "one", 64, seed=0, resolution=16, num_workers=1)
    generate_demo_dataset(tmp_path / "pool", 64, seed=0, resolution=16, num_workers=2)
    for name in ("manifest.jsonl", "ground_truth.jsonl", "info.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes()


def test_a_resumed_run_keeps_the_images_already_on_disk(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(images / "000001.png")  # left by an earlier attempt
    kept = (images / "000001.png").read_bytes()
    generate_demo_dataset(tmp_path, 3, seed=0, resolution=16, num_workers=1)
    assert (images / "000001.png").read_bytes() == kept  # not rendered again
    ids = [r.id for r in read_manifest(tmp_path / "manifest.jsonl")]
    assert ids[1] == hashlib.sha256(kept).hexdigest()
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]  # no temp files left behind


def test_style_and_bad_style_values(tmp_path):
    generate_demo_dataset(
        tmp_path / "calm", 4, seed=0, resolution=16, num_workers=1, style=DemoStyle(clutter=0.0)
    )
    generate_demo_dataset(tmp_path / "busy", 4, seed=0, resolution=16, num_workers=1)
    calm = json.loads((tmp_path / "calm" / "info.json").read_text())
    assert calm["clutter"] == 0.0 and calm["subject_scale"] == [0.35, 0.65]
    assert [r.id for r in read_manifest(tmp_path / "calm" / "manifest.jsonl")] != [
        r.id for r in read_manifest(tmp_path / "busy" / "manifest.jsonl")
    ]
    with pytest.raises(ValueError, match="dataset.clutter"):
        generate_demo_dataset(tmp_path / "bad", 4, seed=0, style=DemoStyle(clutter=2.0))
    assert not (tmp_path / "bad").exists()  # refused before anything is written


# ----------------------------------------------------------------------------- the pipeline stage


def test_stage_renders_at_image_size_and_returns_run_relative_paths(tmp_path):
    run = tmp_path / "run"
    out = run_demo_data(_ctx(run))
    assert (
        out["manifest"] == "demo_data/manifest.jsonl"
        and out["ground_truth"] == "demo_data/ground_truth.jsonl"
    )
    assert out["num_images"] == 6
    info = json.loads((run / "demo_data" / "info.json").read_text())
    assert out["num_outliers"] == info["num_outliers"] and info["resolution"] == 16 and info["seed"] == 3
    assert {Image.open(p).size for p in (run / "demo_data" / "images").iterdir()} == {(16, 16)}
    # the stage renders exactly what generate_demo_dataset renders from the same keys
    generate_demo_dataset(tmp_path / "direct", 6, seed=3, resolution=16, outlier_fraction=0.5, num_workers=1)
    assert (run / "demo_data" / "ground_truth.jsonl").read_text() == (
        tmp_path / "direct" / "ground_truth.jsonl"
    ).read_text()


def test_stage_without_image_size_renders_at_the_training_resolution(tmp_path):
    run_demo_data(_ctx(tmp_path, image_size=None, resolution=16, num_images=2))
    assert json.loads((tmp_path / "demo_data" / "info.json").read_text())["resolution"] == 16


def test_stage_passes_subject_scale_clutter_backdrop_no_subject_and_grain(tmp_path):
    run_demo_data(
        _ctx(
            tmp_path,
            subject_scale=[0.5, 0.6],
            clutter=0.25,
            backdrop=0.3,
            no_subject="other_object",
            grain=25.0,
            num_images=2,
        )
    )
    info = json.loads((tmp_path / "demo_data" / "info.json").read_text())
    assert info["subject_scale"] == [0.5, 0.6] and info["clutter"] == 0.25
    assert info["backdrop"] == 0.3 and info["no_subject"] == "other_object" and info["grain"] == 25.0
    with pytest.raises(ValueError, match="dataset.subject_scale"):
        run_demo_data(_ctx(tmp_path / "b", subject_scale=[0.6, 0.5]))


def test_stage_refuses_another_dataset(tmp_path):
    with pytest.raises(ValueError, match="stage demo_data needs dataset=demo, but dataset.name is 'folder'"):
        run_demo_data(_ctx(tmp_path, name="folder"))
    assert not (tmp_path / "demo_data").exists()


def test_demo_style_reads_a_dataset_config_with_defaults_and_checks_it():
    d = OmegaConf.create({"clutter": 0.1, "backdrop": 0.3, "grain": 25, "subject_scale": [0.55, 0.7]})
    assert demo_style(d) == DemoStyle((0.55, 0.7), 0.1, 0.3, DemoStyle.no_subject, 25.0)
    assert demo_style(OmegaConf.create({})) == DemoStyle()
    with pytest.raises(ValueError, match="dataset.backdrop"):
        demo_style(OmegaConf.create({"backdrop": 2}))
