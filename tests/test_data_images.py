"""Each bad-input case either loads correctly or is skipped with its reason."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from sdstylegan.data.images import (
    EMPTY,
    NOT_IMAGE,
    TOO_LARGE,
    TOO_SMALL,
    TRUNCATED,
    ImageProblem,
    LoadedImage,
    load_image_bytes,
    load_image_file,
    square_resize,
)


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _rgb(w=40, h=30) -> Image.Image:
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = np.arange(w, dtype=np.uint8)[None, :] * 5
    a[..., 1] = 100
    return Image.fromarray(a, "RGB")


def _ok(data: bytes, **kw) -> LoadedImage:
    res = load_image_bytes(data, **kw)
    assert isinstance(res, LoadedImage), res
    assert res.image.mode == "RGB"
    return res


def _skip(data: bytes, reason: str, **kw) -> ImageProblem:
    res = load_image_bytes(data, **kw)
    assert isinstance(res, ImageProblem), res
    assert res.reason == reason, res
    return res


def test_zero_byte_file():
    _skip(b"", EMPTY)


def test_text_named_jpg():
    _skip(b"<html><body>not found</body></html>", NOT_IMAGE)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("header_cut", [False, True])  # cut in the pixel data / inside the header
def test_truncated(fmt, header_cut):
    data = _encode(_rgb(200, 150), fmt)
    _skip(data[: 100 if header_cut else len(data) // 2], TRUNCATED)


def test_cmyk_jpeg_is_converted():
    res = _ok(_encode(_rgb().convert("CMYK"), "JPEG", quality=95))
    assert res.image.size == (40, 30)


def test_16_bit_png_keeps_its_range():
    a = (np.arange(40 * 30).reshape(30, 40) * 50).astype(np.uint16)  # up to ~60000
    img = Image.fromarray(a)
    assert img.mode.startswith("I;16")
    res = _ok(_encode(img, "PNG"))
    out = np.asarray(res.image)[..., 0]
    assert out.max() == round(int(a.max()) * 255 / 65535) and out.min() == 0  # scaled, not clipped to white
    assert np.all(np.diff(out.reshape(-1).astype(int)) >= 0)  # monotone ramp preserved


def test_palette_png_with_transparency():
    img = _rgb().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    img.info["transparency"] = 0
    res = _ok(_encode(img, "PNG", transparency=0))
    assert res.image.size == (40, 30)


def test_grayscale_and_rgba():
    g = _ok(_encode(_rgb().convert("L"), "PNG")).image
    assert np.array_equal(np.asarray(g)[..., 0], np.asarray(g)[..., 2])
    rgba = Image.new("RGBA", (20, 20), (255, 0, 0, 0))  # fully transparent red → white background
    assert np.asarray(_ok(_encode(rgba, "PNG")).image)[0, 0].tolist() == [255, 255, 255]


def test_exif_rotation_applied():
    img = _rgb(40, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° CW on display
    res = _ok(_encode(img, "JPEG", exif=exif, quality=95))
    assert res.orig_size == (30, 40)


def test_draft_side_decodes_a_large_jpeg_smaller_but_reports_the_full_size():
    img = _rgb(40, 30).resize((2000, 1500))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _encode(img, "JPEG", exif=exif, quality=90)
    full = _ok(data)
    small = _ok(data, draft_side=200)
    assert full.image.size == full.orig_size == small.orig_size == (1500, 2000)  # EXIF rotation: portrait
    assert small.image.size == (188, 250)  # 1/8 DCT scale: the longer side stays ≥ 200
    assert _ok(data, draft_side=1200).image.size == (1500, 2000)  # 1/2 would go under 1200: full decode
    assert _ok(_encode(img, "PNG"), draft_side=200).image.size == (2000, 1500)  # only JPEG has DCT scaling
    _skip(data, TOO_SMALL, draft_side=200, min_size=1600)  # limits apply to the full size


def test_one_pixel_image():
    data = _encode(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG")
    _ok(data, min_size=1)
    _skip(data, TOO_SMALL, min_size=2)


def test_decompression_bomb_is_refused_without_decoding():
    data = _encode(Image.new("L", (4000, 4000)), "PNG")  # small file, 16 Mpx
    res = _skip(data, TOO_LARGE, max_pixels=1_000_000)
    assert "4000x4000" in res.detail


def test_same_bytes_same_id():
    d = _encode(_rgb(), "PNG")
    assert _ok(d).sha256 == _ok(bytes(d)).sha256


def test_square_resize():
    out = square_resize(_rgb(40, 30), 16)
    assert out.size == (16, 16)


def test_file_over_max_bytes_is_refused_by_size_before_it_is_opened(tmp_path, monkeypatch):
    path = tmp_path / "huge.jpg"
    with open(path, "wb") as f:
        f.truncate(3000)  # sparse: 3× the limit
    ok = tmp_path / "ok.png"
    ok.write_bytes(_encode(_rgb(), "PNG"))

    def no_open(*a, **k):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(os, "open", no_open)
    res = load_image_file(path, max_bytes=1000)
    monkeypatch.undo()
    assert (
        isinstance(res, ImageProblem)
        and res.reason == TOO_LARGE
        and "3000 bytes > max_bytes 1000" in res.detail
    )
    assert isinstance(
        load_image_file(ok, max_bytes=os.path.getsize(ok)), LoadedImage
    )  # the limit is inclusive


def test_file_growing_past_max_bytes_is_read_no_further(tmp_path, monkeypatch):
    path = tmp_path / "growing.jpg"
    path.write_bytes(b"\xff" * 5000)
    real_stat, real_fstat = os.stat, os.fstat

    def small(st):  # the size the file had when it was checked
        return os.stat_result(
            (st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid, 10, 0, 0, 0)
        )

    reads = []
    real_fdopen = os.fdopen

    def spy_fdopen(fd, *a, **k):
        f = real_fdopen(fd, *a, **k)
        read = f.read
        f.read = lambda n=-1: reads.append(n) or read(n)
        return f

    monkeypatch.setattr(os, "stat", lambda p, *a, **k: small(real_stat(p, *a, **k)))
    monkeypatch.setattr(os, "fstat", lambda fd: small(real_fstat(fd)))
    monkeypatch.setattr(os, "fdopen", spy_fdopen)
    res = load_image_file(path, max_bytes=1000)
    monkeypatch.undo()
    assert isinstance(res, ImageProblem) and res.reason == TOO_LARGE and "grew" in res.detail
    assert reads and all(0 <= n <= 1001 for n in reads) and sum(reads) <= 1001


def test_non_files_are_never_opened(tmp_path):
    (tmp_path / "folder.jpg").mkdir()
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")
    for name in ("folder.jpg", "pipe.jpg", "dangling.jpg", "zero.jpg"):
        res = load_image_file(tmp_path / name)  # a blocking open of the FIFO would hang here
        assert isinstance(res, ImageProblem) and res.reason == "not_file" and res.detail, (name, res)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_reported(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    res = _ok(_encode(_rgb(40, 30), "PNG", exif=exif))
    assert res.orientation == orientation
    assert res.orig_size == res.image.size == ((30, 40) if orientation >= 5 else (40, 30))
