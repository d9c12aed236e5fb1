"""Content-hash store: names from bytes only, written once, partial files cleaned, resize on the way in."""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from sdstylegan.collect.store import ContentStore, resize_longer_side, sniff_extension


def encode(fmt: str, size=(20, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (9, 99, 199)).save(buf, format=fmt)
    return buf.getvalue()


def test_sniff_extension_from_magic_bytes():
    for fmt, ext in [
        ("JPEG", "jpg"),
        ("PNG", "png"),
        ("WEBP", "webp"),
        ("GIF", "gif"),
        ("BMP", "bmp"),
        ("TIFF", "tif"),
    ]:
        assert sniff_extension(encode(fmt)) == ext
    assert sniff_extension(b"<html>") == "img"


def test_put_is_idempotent_and_named_by_hash(tmp_path):
    store = ContentStore(tmp_path)
    data = encode("PNG")
    sha = hashlib.sha256(data).hexdigest()
    rel = store.put(sha, "png", data)
    assert rel == f"images/{sha[:2]}/{sha}.png" and (tmp_path / rel).read_bytes() == data
    mtime = (tmp_path / rel).stat().st_mtime_ns
    assert store.put(sha, "png", data) == rel and (tmp_path / rel).stat().st_mtime_ns == mtime
    assert store.exists(rel) and not store.exists("images/00/none.png")
    assert store.exists(rel, len(data)) and not store.exists(rel, len(data) - 1)


def test_remove_partials_keeps_finished_files(tmp_path):
    store = ContentStore(tmp_path)
    keep = tmp_path / store.put("ab" * 32, "jpg", b"x")
    (keep.parent / f".{keep.name}.k2j3.tmp").write_bytes(b"half")
    (keep.parent / ".part-123").write_bytes(b"half")
    assert store.remove_partials() == 2 and keep.exists()
    assert sorted(p.name for p in keep.parent.iterdir()) == [keep.name]


def test_resize_longer_side():
    img = Image.new("RGB", (400, 100), (1, 2, 3))
    data, ext, size = resize_longer_side(img, 100, "jpg")
    assert ext == "jpg" and size == (100, 25) and Image.open(io.BytesIO(data)).size == (100, 25)
    data, ext, size = resize_longer_side(img, 200, "png")
    assert ext == "png" and Image.open(io.BytesIO(data)).format == "PNG"
    assert resize_longer_side(img, 400, "jpg") is None
