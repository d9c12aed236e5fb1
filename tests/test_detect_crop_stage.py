"""The crop stage end to end: demo data through the pipeline, planted objects, manifest contract, resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf, open_dict
from PIL import Image

from sdstylegan.data.manifest import ManifestRecord, read_manifest, write_manifest
from sdstylegan.detect.crop_stage import run_crop
from sdstylegan.pipeline.context import StageContext
from sdstylegan.pipeline.runner import run_pipeline

TINY_VIT = [
    "+detector.backbone.model_kwargs.depth=1",
    "+detector.backbone.model_kwargs.embed_dim=48",
    "+detector.backbone.model_kwargs.num_heads=2",
]
ALLOWED = {"ok", "no_object", "box_too_small", "whole_frame"}


@pytest.fixture
def demo_run(make_cfg):
    cfg = make_cfg(
        [
            "experiment=demo",
            "dataset.num_images=12",
            "dataset.resolution=64",
            "dataset.num_workers=1",
            "pipeline.stages=[demo_data,crop]",
            "detector.pretrained=false",
            *TINY_VIT,
            "detector.num_workers=0",
            "detector.batch_size=5",
            "logger=csv",
        ]
    )
    return cfg, run_pipeline(cfg)


def test_demo_crop_with_standin_is_labelled_and_consistent(demo_run):
    cfg, outputs = demo_run
    run_dir = Path(cfg.paths.run_dir)
    out = outputs["crop"]
    assert out["standin"] is True and "corloc_standin" in out and "corloc" not in out
    summary = json.loads((run_dir / out["summary"]).read_text())
    assert (
        summary["standin"]
        and summary["num_detected"] == 12
        and summary["backbone"] == "vit_small_patch16_224.dino"
    )
    assert (run_dir / "crop" / "boxes.png").is_file()
    assert "crop/corloc_standin" in (run_dir / "csv" / "metrics.csv").read_text()

    manifest = run_dir / out["manifest"]
    records = read_manifest(manifest)
    source = read_manifest(run_dir / outputs["demo_data"]["manifest"])
    assert [r.id for r in records] == [r.id for r in source]
    assert set(r.status for r in records) <= ALLOWED
    ok = [r for r in records if r.status == "ok"]
    assert ok, "some crops expected"
    for r in records:
        assert (manifest.parent / r.orig_path).is_file()  # re-based on the new manifest's folder
        assert r.extra["detect_box"] is not None
    for r in ok:
        crop = Image.open(manifest.parent / r.crop_path)
        assert crop.size == (64, 64)
        # The SDIP box applied as img[y0:y1, x0:x1] and Lanczos-resized gives exactly the crop.
        y0, y1, x0, x1 = r.bbox
        orig = np.asarray(Image.open(manifest.parent / r.orig_path).convert("RGB"))
        again = Image.fromarray(orig[y0:y1, x0:x1]).resize((64, 64), Image.Resampling.LANCZOS)
        np.testing.assert_array_equal(np.asarray(crop), np.asarray(again))
    sdip = json.loads((run_dir / out["sdip_json"]).read_text())
    assert sdip == [{"image_name": r.source, "bounding_box": r.bbox} for r in ok]


def test_second_run_is_skipped(demo_run):
    cfg, first = demo_run
    again = run_pipeline(cfg)
    assert again["crop"] == first["crop"]


def planted_scene(path: Path, size: tuple[int, int], box: tuple[int, int, int, int]) -> None:
    a = np.full((size[1], size[0], 3), 128, np.uint8)
    a[box[1] : box[3], box[0] : box[2]] = (230, 30, 30)
    Image.fromarray(a).save(path)


def pixel_ctx(make_cfg, tmp_path: Path, resume: bool = False) -> StageContext:
    """A crop stage on a hand-made manifest, with pixel tokens (which find flat red rectangles exactly)."""
    cfg = make_cfg(
        ["dataset.resolution=32", "detector.num_workers=0", "detector.crop.margin=0.1", "logger=none"]
    )
    with open_dict(cfg):
        cfg.detector.backbone = OmegaConf.create(
            {"_target_": "sdstylegan.detect.backbone.PixelTokens", "patch_size": 8}
        )
    run_dir = Path(cfg.paths.run_dir)
    src = run_dir / "ingest"
    if not src.exists():
        (src / "img").mkdir(parents=True)
        planted_scene(src / "img" / "a.png", (96, 64), (24, 16, 56, 40))
        ring = np.full((64, 64, 3), (230, 30, 30), np.uint8)
        ring[8:56, 8:56] = 128
        Image.fromarray(ring).save(src / "img" / "b.png")  # a red frame: the object's box is the whole image
        Image.new("L", (64, 48), 90).save(src / "img" / "c.png")  # grayscale, nothing in it
        (src / "img" / "d.jpg").write_bytes(b"\xff\xd8 not really")  # status ok but unreadable now
        recs = [
            ManifestRecord(
                id="a" * 64,
                source="http://x/a.png",
                orig_path="img/a.png",
                orig_size=[96, 64],
                extra={"note": "kept"},
            ),
            ManifestRecord(id="b" * 64, source="http://x/b.png", orig_path="img/b.png", orig_size=[64, 64]),
            ManifestRecord(id="c" * 64, source="http://x/c.png", orig_path="img/c.png", orig_size=[64, 48]),
            ManifestRecord(id="d" * 64, source="http://x/d.jpg", orig_path="img/d.jpg"),
            ManifestRecord(id="e" * 64, source="http://x/e.gif", status="not_image"),
        ]
        write_manifest(src / "manifest.jsonl", recs)
    stage_dir = run_dir / "crop"
    stage_dir.mkdir(exist_ok=True)
    return StageContext(
        name="crop",
        cfg=cfg,
        run_dir=run_dir,
        stage_dir=stage_dir,
        inputs={"ingest": {"manifest": "ingest/manifest.jsonl"}},
        resume=resume,
    )


def test_planted_objects_boxes_rejections_and_unknown_fields(make_cfg, tmp_path):
    ctx = pixel_ctx(make_cfg, tmp_path)
    out = run_crop(ctx)
    assert out["standin"] is False and out["num_crops"] == 1 and "corloc" not in out  # no ground truth here
    recs = {r.id[0]: r for r in read_manifest(ctx.stage_dir / "manifest.jsonl")}
    a = recs["a"]
    assert a.status == "ok" and a.extra["detect_box"] == [16, 40, 24, 56]
    assert a.bbox == [9, 47, 21, 59]  # side 32·1.2 = 38 around the centre (40, 28)
    assert a.extra["note"] == "kept" and a.crop_path == "crops/aa/" + "a" * 64 + ".png"
    assert Image.open(ctx.stage_dir / a.crop_path).size == (32, 32)
    assert recs["b"].status == "whole_frame" and recs["b"].crop_path is None and recs["b"].bbox is None
    assert recs["c"].status == "no_object"  # uniform: every token alike, no cut
    assert recs["d"].status == "not_image" and recs["d"].extra["crop_detail"]
    assert recs["e"].status == "not_image" and recs["e"].orig_path is None  # carried through untouched
    summary = json.loads((ctx.stage_dir / "summary.json").read_text())
    assert summary["num_detected"] == 4 and summary["rejected"]["whole_frame"] >= 1
    # cut quality: recorded per image, summarised, and the weakest accepted crops pictured
    assert (
        0 <= a.extra["cut"]["ncut"] < 0.1 and a.extra["cut"]["eigengap"] > 0
    )  # a flat red block: a clean cut
    assert recs["c"].extra["cut"]["ncut"] is None  # no cut at all
    assert summary["cut_ncut"]["count"] == 2 and summary["cut_ncut"]["min"] <= summary["cut_ncut"]["max"]
    assert (ctx.stage_dir / "weakest_cuts.png").is_file()


def test_weak_cuts_are_rejected_above_max_ncut(make_cfg, tmp_path):
    ctx = pixel_ctx(make_cfg, tmp_path)
    run_crop(ctx)
    ncut_a = {r.id[0]: r for r in read_manifest(ctx.stage_dir / "manifest.jsonl")}["a"].extra["cut"]["ncut"]
    strict = pixel_ctx(make_cfg, tmp_path)
    with open_dict(strict.cfg):
        strict.cfg.detector.crop.max_ncut = ncut_a / 2  # below a's value: its cut counts as weak
    shutil.rmtree(strict.stage_dir)
    strict.stage_dir.mkdir()
    run_crop(strict)
    recs = {r.id[0]: r for r in read_manifest(strict.stage_dir / "manifest.jsonl")}
    assert recs["a"].status == "weak_cut" and recs["a"].crop_path is None
    assert recs["a"].extra["cut"]["ncut"] == pytest.approx(ncut_a)


def test_resume_detects_only_what_is_missing(make_cfg, tmp_path):
    first = pixel_ctx(make_cfg, tmp_path)
    run_crop(first)
    before = (first.stage_dir / "manifest.jsonl").read_text()
    pred = first.stage_dir / "predictions" / "rank0.jsonl"
    lines = pred.read_text().splitlines()
    pred.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:10])  # killed mid-line after 3 images
    (first.stage_dir / "manifest.jsonl").unlink()
    run_crop(pixel_ctx(make_cfg, tmp_path, resume=True))
    summary = json.loads((first.stage_dir / "summary.json").read_text())
    assert summary["num_detected"] == 1
    assert (first.stage_dir / "manifest.jsonl").read_text() == before


DDP_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from conftest import compose_config
from sdstylegan.pipeline.runner import run_pipeline
cfg = compose_config(["experiment=demo", "dataset.num_images=10", "dataset.resolution=64", "dataset.num_workers=1",
                      "pipeline.stages=[demo_data,crop]", "detector.pretrained=false", "detector.num_workers=0",
                      "detector.batch_size=2", "trainer=ddp_cpu", "logger=none", {tiny}], Path({run!r}))
run_pipeline(cfg)
"""


@pytest.mark.slow
def test_crop_under_ddp_merges_every_rank(tmp_path):
    """Two CPU processes (gloo): each detects half, writes its own predictions file; rank 0 merges all."""
    import subprocess
    import sys

    script = tmp_path / "ddp_crop.py"
    run = tmp_path / "run"
    script.write_text(
        DDP_SCRIPT.format(
            tests=str(Path(__file__).parent), run=str(run), tiny=", ".join(repr(t) for t in TINY_VIT)
        )
    )
    subprocess.run([sys.executable, str(script)], check=True, cwd=tmp_path, timeout=600)
    assert sorted(p.name for p in (run / "crop" / "predictions").iterdir()) == ["rank0.jsonl", "rank1.jsonl"]
    per_rank = [
        len((run / "crop" / "predictions" / f"rank{r}.jsonl").read_text().splitlines()) for r in (0, 1)
    ]
    assert per_rank == [5, 5]
    records = read_manifest(run / "crop" / "manifest.jsonl")
    assert len(records) == 10 and all(r.extra.get("detect_box") for r in records)


def test_released_sdip_boxes_are_cropped_as_released(make_cfg, http_dir, tmp_path):
    # 300 SD-Dogs-format records ({image_name: URL, bounding_box: [y0, y1, x0, x1]}) served from 127.0.0.1:
    # every crop must be SDIP's download.py crop, img[y0:y1, x0:x1] Lanczos-resized, with no detection.
    root, base = http_dir
    rng = np.random.default_rng(0)
    entries, expected = [], {}
    for i in range(300):
        w, h = int(rng.integers(48, 80)), int(rng.integers(40, 72))
        a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(a).save(root / f"dog{i}.png")
        y0, x0 = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
        y1, x1 = int(rng.integers(y0 + 8, h + 1)), int(rng.integers(x0 + 8, w + 1))
        url = f"{base}/dog{i}.png"
        entries.append({"image_name": url, "bounding_box": [y0, y1, x0, x1]})
        expected[url] = np.asarray(
            Image.fromarray(a[y0:y1, x0:x1]).resize((32, 32), Image.Resampling.LANCZOS)
        )
    sdip = tmp_path / "dogs.json"
    sdip.write_text(json.dumps(entries))
    cfg = make_cfg(
        [
            "dataset=collected",
            "collect=sdip",
            f"collect.path={sdip}",
            "collect.transport.progress=false",
            "collect.transport.retries=0",
            "collect.content.min_size=16",
            "dataset.resolution=32",
            "pipeline.stages=[collect,crop]",
            "detector.pretrained=false",
            *TINY_VIT,
            "detector.num_workers=0",
            "detector.batch_size=16",
            "logger=none",
        ]
    )
    out = run_pipeline(cfg)["crop"]
    run = Path(cfg.paths.run_dir)
    records = read_manifest(run / out["manifest"])
    assert len(records) == 300 and all(r.status == "ok" for r in records)
    for r in records:
        assert r.extra["box_source"] == "released" and r.extra["detect_box"] is None
        assert r.bbox == next(e["bounding_box"] for e in entries if e["image_name"] == r.source)
        np.testing.assert_array_equal(np.asarray(Image.open(run / "crop" / r.crop_path)), expected[r.source])
    # re-detecting on purpose keeps both boxes
    again = make_cfg(
        [
            "dataset=collected",
            "collect=sdip",
            f"collect.path={sdip}",
            "collect.transport.progress=false",
            "dataset.resolution=32",
            "pipeline.stages=[collect,crop]",
            "detector.pretrained=false",
            *TINY_VIT,
            "detector.num_workers=0",
            "logger=none",
            "detector.crop.source=detector",
            "pipeline.force=[crop]",
            "collect.content.min_size=16",
        ]
    )
    run_pipeline(again)
    redone = read_manifest(run / "crop" / "manifest.jsonl")
    assert all(r.extra["box_source"] == "tokencut" and r.extra["released_bbox"] is not None for r in redone)
    assert {tuple(r.extra["released_bbox"]) for r in redone} == {tuple(e["bounding_box"]) for e in entries}


def test_sd_lsun_file_is_read_from_a_local_export_and_cropped_at_its_boxes(make_cfg, tmp_path):
    root = tmp_path / "lsun_horse"
    rng = np.random.default_rng(1)
    entries, expected = [], {}
    for i in range(12):
        key = f"{i:02x}" + "".join(rng.choice(list("0123456789abcdef"), 8))
        folder = root.joinpath(*key[:6])
        folder.mkdir(parents=True, exist_ok=True)
        a = rng.integers(0, 256, (60, 70, 3), dtype=np.uint8)
        Image.fromarray(a).save(folder / f"{key}.webp", lossless=True)
        y0, y1, x0, x1 = 5, 55, 10 + i, 60
        entries.append({"image_name": key, "bounding_box": [y0, y1, x0, x1]})
        expected[key] = np.asarray(
            Image.fromarray(a[y0:y1, x0:x1]).resize((32, 32), Image.Resampling.LANCZOS)
        )
    sdip = tmp_path / "horses.json"
    sdip.write_text(json.dumps(entries))
    base = [
        "dataset=collected",
        "collect=sdip",
        f"collect.path={sdip}",
        "collect.transport.progress=false",
        "collect.content.min_size=16",
        "dataset.resolution=32",
        "pipeline.stages=[collect,crop]",
        "detector.pretrained=false",
        *TINY_VIT,
        "detector.num_workers=0",
        "logger=none",
    ]
    with pytest.raises(ValueError, match="collect.lsun_root"):  # ids without the local copy: one clear line
        run_pipeline(make_cfg(base, run_dir=tmp_path / "no_root"))
    cfg = make_cfg([*base, f"collect.lsun_root={root}"])
    out = run_pipeline(cfg)["crop"]
    records = read_manifest(Path(cfg.paths.run_dir) / out["manifest"])
    assert len(records) == 12 and all(
        r.status == "ok" and r.extra["box_source"] == "released" for r in records
    )
    for r in records:
        got = np.asarray(Image.open(Path(cfg.paths.run_dir) / "crop" / r.crop_path))
        np.testing.assert_array_equal(got, expected[r.extra["meta"]["image_name"]])
