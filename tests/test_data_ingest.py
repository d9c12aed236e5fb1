"""Ingest a folder with every kind of bad file: counts per reason, user files untouched."""

from __future__ import annotations

import hashlib
import io
import os

import numpy as np
import pytest
from PIL import Image

from sdstylegan.data.ingest import build_folder_manifest


def _png(seed: int, size=(80, 80)) -> bytes:
    a = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def photo_folder(tmp_path):
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    (d / "a.png").write_bytes(_png(1))
    (d / "sub" / "b.png").write_bytes(_png(2))
    (d / "copy_of_a.png").write_bytes(_png(1))
    (d / "empty.jpg").write_bytes(b"")
    (d / "page.jpg").write_bytes(b"<html>404</html>")
    (d / "cut.png").write_bytes(_png(3)[:300])
    (d / "tiny.png").write_bytes(_png(4, (8, 8)))
    (d / "notes.txt").write_text("ignored: not an image suffix")
    return d


def test_folder_ingest_counts_reasons_and_leaves_files_alone(photo_folder, tmp_path):
    before = {
        p: (hashlib.sha256(p.read_bytes()).hexdigest(), os.stat(p).st_mtime_ns)
        for p in photo_folder.rglob("*")
        if p.is_file()
    }
    records, counts = build_folder_manifest(photo_folder, tmp_path / "manifest.jsonl", min_size=64)
    assert counts == {"ok": 2, "duplicate": 1, "empty": 1, "not_image": 1, "truncated": 1, "too_small": 1}
    by_name = {os.path.basename(r.source): r for r in records}
    assert by_name["copy_of_a.png"].extra["duplicate_of"].endswith("a.png")
    assert by_name["a.png"].orig_size == [80, 80]
    after = {
        p: (hashlib.sha256(p.read_bytes()).hexdigest(), os.stat(p).st_mtime_ns)
        for p in photo_folder.rglob("*")
        if p.is_file()
    }
    assert after == before


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset.path"):
        build_folder_manifest(tmp_path / "nope", tmp_path / "m.jsonl")


def test_ingest_stage_through_the_runner(photo_folder, make_cfg):
    from sdstylegan.pipeline.runner import run_pipeline

    cfg = make_cfg(
        [
            "dataset=folder",
            f"dataset.path={photo_folder}",
            "dataset.resolution=64",
            "pipeline.stages=[ingest]",
        ]
    )
    out = run_pipeline(cfg)
    assert out["ingest"]["num_images"] == 2
    assert out["ingest"]["status_counts"]["duplicate"] == 1
