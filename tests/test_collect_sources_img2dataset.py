"""img2dataset output (files layout with .json sidecars, webdataset tars) read as a source and collected."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest
from PIL import Image

from sdstylegan.collect.downloader import ContentPolicy
from sdstylegan.collect.sources.img2dataset import Img2DatasetSource
from sdstylegan.collect.stage import collect_items
from sdstylegan.collect.transport import TransportConfig
from sdstylegan.data.manifest import read_manifest


def jpeg(c: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 40), (c, 100, 200 - c)).save(buf, format="JPEG")
    return buf.getvalue()


def sidecar(key: str, url: str) -> bytes:
    # the fields img2dataset writes for a successful sample
    return json.dumps(
        {
            "url": url,
            "key": key,
            "status": "success",
            "error_message": None,
            "width": 48,
            "height": 40,
            "original_width": 480,
            "original_height": 400,
            "caption": f"mate {key}",
        }
    ).encode()


def write_files_layout(root):
    shard = root / "00000"
    shard.mkdir(parents=True)
    for i, c in enumerate([10, 20]):
        key = f"00000000{i}"
        (shard / f"{key}.jpg").write_bytes(jpeg(c))
        (shard / f"{key}.json").write_bytes(sidecar(key, f"http://example.com/{i}.jpg"))
        (shard / f"{key}.txt").write_text(f"mate {key}")
    (root / "00000_stats.json").write_text("{}")


def write_tar(path, samples):
    with tarfile.open(path, "w") as tf:
        for key, members in samples:
            for ext, data in members.items():
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))


def test_files_layout_is_referenced_in_place(tmp_path):
    write_files_layout(tmp_path / "i2d")
    items = list(Img2DatasetSource(str(tmp_path / "i2d")).items())
    assert [i.url for i in items] == ["http://example.com/0.jpg", "http://example.com/1.jpg"]
    assert items[0].meta["caption"] == "mate 000000000" and items[0].meta["original_width"] == 480
    assert items[0].local["path"].endswith("00000/000000000.jpg") and items[0].origin == "img2dataset"
    out = tmp_path / "collect"
    collect_items(items, out, TransportConfig(workers=2, progress=False), ContentPolicy(min_size=16))
    records = read_manifest(out / "manifest.jsonl")
    assert [r.orig_path for r in records] == [i.local["path"] for i in items]  # absolute, not copied
    assert not [p for p in (out / "images").rglob("*") if p.is_file()]
    # resumed: the in-place files count as finished
    res = collect_items(items, out, TransportConfig(workers=2, progress=False), ContentPolicy(min_size=16))
    assert res.fetched == 0 and res.counts["ok"] == 2


def test_webdataset_tars_read_by_offset_then_collected(tmp_path):
    src = tmp_path / "i2d"
    src.mkdir()
    write_tar(
        src / "00000.tar",
        [
            ("000000000", {"jpg": jpeg(30), "json": sidecar("000000000", "http://e.com/a.jpg"), "txt": b"a"}),
            ("000000001", {"jpg": b"<html>oops</html>", "json": sidecar("000000001", "http://e.com/b.jpg")}),
            (
                "000000002",
                {"jpg": jpeg(30), "json": sidecar("000000002", "http://e.com/c.jpg")},
            ),  # same bytes as 0
            (
                "000000003",
                {"json": sidecar("000000003", "http://e.com/d.jpg")},
            ),  # no image member: not a sample
        ],
    )
    write_tar(src / "00001.tar", [("000010000", {"jpg": jpeg(60)})])  # no sidecar at all
    items = list(Img2DatasetSource(str(src)).items())
    assert [i.url for i in items] == [
        "http://e.com/a.jpg",
        "http://e.com/b.jpg",
        "http://e.com/c.jpg",
        "img2dataset:000010000",
    ]
    out = tmp_path / "collect"
    res = collect_items(items, out, TransportConfig(workers=2, progress=False), ContentPolicy(min_size=16))
    records = read_manifest(out / "manifest.jsonl")
    assert [r.status for r in records] == ["ok", "not_image", "duplicate", "ok"]
    assert records[0].id == hashlib.sha256(jpeg(30)).hexdigest() and records[0].source == "http://e.com/a.jpg"
    assert (out / records[3].orig_path).read_bytes() == jpeg(60) and res.counts["ok"] == 2


def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        list(Img2DatasetSource(str(tmp_path / "nope")).items())
    with pytest.raises(FileNotFoundError, match="no img2dataset shards"):
        list(Img2DatasetSource(str(tmp_path)).items())
