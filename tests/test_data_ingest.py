"""Ingest a folder with every kind of bad file: counts per reason, user files untouched."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from sdstylegan.data.ingest import build_folder_manifest

COLLECT_MAX_BYTES = 25_000_000  # collect.content.max_bytes, the default of dataset.max_bytes


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
    (d / "notes.txt").write_text("not an image suffix: recorded as not_image, not opened")
    return d


def test_folder_ingest_counts_reasons_and_leaves_files_alone(photo_folder, tmp_path):
    before = {
        p: (hashlib.sha256(p.read_bytes()).hexdigest(), os.stat(p).st_mtime_ns)
        for p in photo_folder.rglob("*")
        if p.is_file()
    }
    records, counts = build_folder_manifest(photo_folder, tmp_path / "manifest.jsonl", min_size=64)
    assert counts == {"ok": 2, "duplicate": 1, "empty": 1, "not_image": 2, "truncated": 1, "too_small": 1}
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


def _snapshot(folder):
    """lstat of every entry, and the sha256 of every regular file (FIFOs and devices are not opened)."""
    snap = {}
    for p in sorted(folder.rglob("*")):
        st = os.lstat(p)
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else None
        snap[p] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return snap


def test_every_path_gets_a_record_and_non_files_are_not_opened(tmp_path):
    d = tmp_path / "photos"
    (d / "folder.jpg").mkdir(parents=True)  # a directory named like a photo
    (d / "folder.jpg" / "inner.png").write_bytes(_png(5))
    (d / "a.png").write_bytes(_png(1))
    (d / "notes.txt").write_text("a text file")
    (d / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    (d / "loop.jpg").symlink_to(d / "loop.jpg")
    (d / "zero.jpg").symlink_to("/dev/zero")  # a device: endless if read
    (d / "linked_dir").symlink_to(d / "folder.jpg")  # not followed: no loop, nothing counted twice
    os.mkfifo(d / "pipe.jpg")  # opening it for reading would block until a writer comes
    (d / "locked.png").write_bytes(_png(6))
    (d / "locked.png").chmod(0)
    before = _snapshot(d)
    done: dict = {}
    t = threading.Thread(
        target=lambda: done.update(out=build_folder_manifest(d, tmp_path / "m.jsonl", min_size=64)),
        daemon=True,
    )
    t.start()
    t.join(60)
    assert not t.is_alive(), "ingest hung (a FIFO opened?)"
    records, _ = done["out"]
    by_name = {os.path.relpath(r.source, d): r for r in records}
    locked = "ok" if os.geteuid() == 0 else "unreadable"  # root reads a mode-000 file
    assert {k: r.status for k, r in by_name.items()} == {
        "a.png": "ok",
        "dangling.jpg": "not_file",
        "folder.jpg": "not_file",
        os.path.join("folder.jpg", "inner.png"): "ok",
        "linked_dir": "not_file",
        "locked.png": locked,
        "loop.jpg": "unreadable",
        "notes.txt": "not_image",
        "pipe.jpg": "not_file",
        "zero.jpg": "not_file",
    }
    assert all(r.extra.get("reason_detail") for r in records if r.status != "ok")
    assert len({r.id for r in records}) == len(records)
    assert _snapshot(d) == before


def test_file_over_max_bytes_is_refused_before_reading(tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    (d / "a.png").write_bytes(_png(1))
    with open(d / "huge.jpg", "wb") as f:
        f.truncate(2 * 1024**3)  # 2 GiB, sparse: costs no disk
    tracemalloc.start()
    try:
        records, counts = build_folder_manifest(d, tmp_path / "m.jsonl", min_size=64, num_workers=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert counts == {"ok": 1, "too_large": 1}
    huge = next(r for r in records if r.source.endswith("huge.jpg"))
    assert f"> max_bytes {COLLECT_MAX_BYTES}" in huge.extra["reason_detail"]
    assert peak < 200 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    _, counts = build_folder_manifest(d, tmp_path / "m2.jsonl", min_size=64, max_bytes=len(_png(1)) - 1)
    assert counts == {"too_large": 2}


def test_folder_max_bytes_defaults_to_collects_and_reaches_the_stage(tmp_path, make_cfg):
    from omegaconf import OmegaConf

    from sdstylegan.data.manifest import read_manifest
    from sdstylegan.pipeline.runner import run_pipeline

    conf = os.path.join(os.path.dirname(__file__), "..", "conf")
    folder = OmegaConf.load(os.path.join(conf, "dataset", "folder.yaml"))
    collect = OmegaConf.load(os.path.join(conf, "collect", "base.yaml"))
    assert folder.max_bytes == collect.content.max_bytes == COLLECT_MAX_BYTES
    d = tmp_path / "photos"
    d.mkdir()
    (d / "small.png").write_bytes(_png(1, (64, 64)))
    (d / "big.png").write_bytes(_png(2, (200, 200)))
    limit = (len(_png(1, (64, 64))) + len(_png(2, (200, 200)))) // 2
    cfg = make_cfg(
        [
            "dataset=folder",
            f"dataset.path={d}",
            "dataset.resolution=64",
            f"dataset.max_bytes={limit}",
            "pipeline.stages=[ingest]",
        ]
    )
    out = run_pipeline(cfg)
    assert out["ingest"]["status_counts"] == {"ok": 1, "too_large": 1}
    recs = {
        os.path.basename(r.source): r for r in read_manifest(cfg.paths.run_dir + "/ingest/manifest.jsonl")
    }
    assert recs["big.png"].status == "too_large"
