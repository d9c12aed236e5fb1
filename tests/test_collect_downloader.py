"""Every kind of broken response, against a real HTTP server on 127.0.0.1: each URL ends with the right reason."""

from __future__ import annotations

import hashlib
import io
import struct
import time
import zlib

import pytest
from loopback import LoopbackServer, Route
from PIL import Image

from sdstylegan.collect.downloader import ContentPolicy, Task, download, process_item, read_local
from sdstylegan.collect.items import CollectItem
from sdstylegan.collect.store import ContentStore
from sdstylegan.collect.transport import ThreadSessions, TransportConfig


def encode(fmt: str, size=(80, 60), color=(200, 120, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


def noisy_jpeg(size=(96, 96)) -> bytes:
    """A photo-like JPEG (entropy-coded data well past the header), so cutting it leaves a decodable start."""
    buf = io.BytesIO()
    Image.merge("RGB", [Image.effect_noise(size, 60 + 10 * i) for i in range(3)]).save(buf, format="JPEG")
    return buf.getvalue()


def png_bomb(side: int = 20_000) -> bytes:
    """A real decompression bomb: a 1-bit side×side PNG whose zeros compress to a few tens of KB."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    raw = bytes((1 + side // 8) * side)  # filter byte 0 + packed row of zeros, per row
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


JPEG, PNG, WEBP = encode("JPEG"), encode("PNG", color=(10, 200, 30)), encode("WEBP", color=(30, 30, 220))
JPEG2 = encode("JPEG", color=(90, 90, 90))
SAME = encode("JPEG", color=(1, 2, 3))
PHOTO = noisy_jpeg()
BIG = encode("PNG", size=(40, 30)) + bytes(2_000_000)  # a valid PNG start, 2 MB in all


def transport(**kw) -> TransportConfig:
    base = dict(
        workers=8,
        per_host=4,
        connect_timeout=2,
        read_timeout=0.5,
        total_timeout=5,
        retries=1,
        backoff=0.05,
        max_retry_after=5,
        max_redirects=3,
        progress=False,
    )
    base.update(kw)
    return TransportConfig(**base)


POLICY = ContentPolicy(max_bytes=1_000_000, min_size=32)


def run(items: list[CollectItem], tmp_path, cfg: TransportConfig, policy: ContentPolicy = POLICY):
    store = ContentStore(tmp_path / "out")
    results = {}
    sessions = ThreadSessions(cfg)
    try:
        download(
            [Task(i, it) for i, it in enumerate(items)],
            sessions,
            policy,
            store,
            lambda t, o: results.setdefault(t.index, o),
        )
    finally:
        sessions.close()
    return [results[i] for i in range(len(items))], store


@pytest.fixture(scope="module")
def server():
    routes = {
        "/ok.jpg": Route(JPEG),
        "/ok.png": Route(PNG, content_type="image/png"),
        "/ok.webp": Route(WEBP, content_type="image/webp"),
        "/err500": Route(b"boom", status=500, content_type="text/plain"),
        "/limited.jpg": Route(JPEG2, fail_times=1, fail_status=429, fail_headers={"Retry-After": "1"}),
        "/moved": Route(redirect_to="/ok2.jpg"),
        "/ok2.jpg": Route(encode("JPEG", color=(5, 250, 5))),
        "/loop-a": Route(redirect_to="/loop-b"),
        "/loop-b": Route(redirect_to="/loop-a"),
        "/to-ftp": Route(redirect_to="ftp://127.0.0.1/x.jpg"),
        "/slow.jpg": Route(JPEG, delay=2.0),
        "/cut.jpg": Route(JPEG, truncate_to=len(JPEG) // 2),
        "/cut-file.jpg": Route(PHOTO[: len(PHOTO) // 2]),
        "/page.jpg": Route(b"<!doctype html><html><body>Not an image</body></html>"),
        "/huge.png": Route(BIG, content_type="image/png"),
        "/bomb.png": Route(png_bomb(), content_type="image/png"),
        "/dup-a.jpg": Route(SAME),
        "/dup-b.jpg": Route(SAME),
        "/tiny.png": Route(encode("PNG", size=(10, 10)), content_type="image/png"),
    }
    with LoopbackServer(routes) as srv:
        yield srv


def test_every_url_ends_with_the_right_reason(server, tmp_path):
    cases = [
        ("/ok.jpg", "ok"),
        ("/ok.png", "ok"),
        ("/ok.webp", "ok"),
        ("/missing.jpg", "http_404"),
        ("/err500", "http_5xx"),
        ("/limited.jpg", "ok"),
        ("/moved", "ok"),
        ("/loop-a", "redirect_loop"),
        ("/to-ftp", "bad_scheme"),
        ("/slow.jpg", "timeout"),
        ("/cut.jpg", "truncated"),
        ("/cut-file.jpg", "truncated"),
        ("/page.jpg", "not_image"),
        ("/huge.png", "too_large"),
        ("/bomb.png", "too_large"),
        ("/tiny.png", "too_small"),
    ]
    items = [CollectItem(server.url(p), "urls") for p, _ in cases]
    items += [
        CollectItem("ftp://127.0.0.1/x.jpg", "urls"),
        CollectItem("file:///etc/passwd", "urls"),
        CollectItem("http://", "urls"),
    ]
    expected = [r for _, r in cases] + ["bad_scheme", "bad_scheme", "bad_url"]
    t0 = time.monotonic()
    outs, store = run(items, tmp_path, transport())
    assert [o.status for o in outs] == expected, [(i.url, o.status, o.detail) for i, o in zip(items, outs)]
    assert time.monotonic() - t0 < 15
    by = {p: o for (p, _), o in zip(cases, outs)}
    # stored under content hashes, with the format sniffed from the bytes, validated sizes
    assert by["/ok.jpg"].sha256 == hashlib.sha256(JPEG).hexdigest()
    assert by["/ok.jpg"].orig_path == f"images/{by['/ok.jpg'].sha256[:2]}/{by['/ok.jpg'].sha256}.jpg"
    assert by["/ok.webp"].orig_path.endswith(".webp") and by["/ok.png"].orig_size == [80, 60]
    assert (store.root / by["/ok.png"].orig_path).read_bytes() == PNG
    assert by["/moved"].info["redirects"] == 1 and by["/moved"].info["final_url"].endswith("/ok2.jpg")
    assert "404" in by["/missing.jpg"].detail and "500" in by["/err500"].detail
    assert "Content-Length" in by["/huge.png"].detail and "pixels" in by["/bomb.png"].detail
    # retries: 5xx and cut bodies are tried 1 + retries times, a 404 once, a non-http scheme never
    assert server.hits["/err500"] == 2 and by["/err500"].info["attempts"] == 2
    assert server.hits["/cut.jpg"] == 2 and server.hits["/missing.jpg"] == 1
    assert server.hits["/ok.jpg"] == 1 and server.hits["/x.jpg"] == 0
    # nothing but validated images reached the store
    stored = sorted(p.name for p in (store.root / "images").rglob("*") if p.is_file())
    assert stored == sorted(o.orig_path.rsplit("/", 1)[1] for o in outs if o.status == "ok")
    assert len(stored) == 5  # ok.jpg, ok.png, ok.webp, limited.jpg, ok2.jpg (via /moved); nothing else
    assert all(len(n.split(".")[0]) == 64 for n in stored)


def test_retry_after_pauses_the_host(server, tmp_path):
    server.hits.clear()
    server.routes["/again.jpg"] = Route(
        encode("JPEG", color=(7, 7, 7)), fail_times=1, fail_status=429, fail_headers={"Retry-After": "1"}
    )
    outs, _ = run([CollectItem(server.url("/again.jpg"), "urls")], tmp_path, transport())
    assert outs[0].status == "ok" and outs[0].info["attempts"] == 2
    times = [t for t, p in server.log if p == "/again.jpg"]
    assert times[1] - times[0] >= 0.95  # waited as asked
    # a Retry-After longer than max_retry_after ends the URL at once, as http_429 with the reason
    server.routes["/never.jpg"] = Route(
        JPEG, fail_times=99, fail_status=429, fail_headers={"Retry-After": "3600"}
    )
    outs, _ = run([CollectItem(server.url("/never.jpg"), "urls")], tmp_path, transport())
    assert outs[0].status == "http_429" and "max_retry_after" in outs[0].detail
    assert server.hits["/never.jpg"] == 1


def test_same_image_under_two_urls_is_stored_once(server, tmp_path):
    outs, store = run(
        [CollectItem(server.url("/dup-a.jpg"), "urls"), CollectItem(server.url("/dup-b.jpg"), "urls")],
        tmp_path,
        transport(),
    )
    # the downloader stores and reports both as images; the stage names the second a duplicate
    assert outs[0].sha256 == outs[1].sha256 == hashlib.sha256(SAME).hexdigest()
    assert outs[0].orig_path == outs[1].orig_path
    assert len([p for p in (store.root / "images").rglob("*") if p.is_file()]) == 1


def test_per_host_concurrency_is_bounded(tmp_path):
    routes = {f"/{i}.jpg": Route(encode("JPEG", color=(i, 0, 0)), delay=0.1) for i in range(12)}
    with LoopbackServer(routes) as srv:
        outs, _ = run(
            [CollectItem(srv.url(p), "urls") for p in routes], tmp_path, transport(workers=16, per_host=3)
        )
        assert all(o.status == "ok" for o in outs)
        assert srv.peak_active == 3


def test_total_timeout_stops_a_slow_drip(tmp_path):
    body = encode("PNG", size=(64, 64)) + bytes(8 * 1024)
    with LoopbackServer({"/drip.png": Route(body, drip=0.1)}) as srv:
        outs, _ = run(
            [CollectItem(srv.url("/drip.png"), "urls")],
            tmp_path,
            transport(read_timeout=2, total_timeout=0.35, retries=0),
        )
    assert outs[0].status == "timeout" and "total_timeout" in outs[0].detail


def test_resize_on_the_way_in_keeps_the_hash_of_the_original(server, tmp_path):
    server.routes["/wide.png"] = Route(encode("PNG", size=(300, 100)), content_type="image/png")
    cfg = transport()
    sessions = ThreadSessions(cfg)
    out = process_item(
        CollectItem(server.url("/wide.png"), "urls"),
        sessions,
        ContentPolicy(max_bytes=10**6, min_size=32, resize_longer_side=120),
        ContentStore(tmp_path),
    )
    sessions.close()
    assert out.status == "ok" and out.orig_size == [120, 40] and out.source_size == [300, 100]
    assert out.info["stored_bytes"] == (tmp_path / out.orig_path).stat().st_size
    assert out.sha256 == hashlib.sha256(server.routes["/wide.png"].body).hexdigest()
    with Image.open(tmp_path / out.orig_path) as im:
        assert im.size == (120, 40) and im.format == "PNG"


def test_read_local_tar_member_and_caps(tmp_path):
    p = tmp_path / "blob.bin"
    p.write_bytes(b"xx" + JPEG + b"yy")
    assert read_local({"path": str(p), "offset": 2, "size": len(JPEG)}, 10**6) == JPEG
    assert read_local({"path": str(p), "offset": 2, "size": len(JPEG)}, 10).status == "too_large"
    assert read_local({"path": str(tmp_path / "gone")}, 10**6).status == "local_read_error"


def test_a_paused_host_does_not_hold_up_the_others(tmp_path):
    slow_host = {
        "/p.jpg": Route(JPEG, fail_times=1, fail_status=429, fail_headers={"Retry-After": "1"}),
        "/q.jpg": Route(JPEG2),
    }
    other_host = {f"/{i}.jpg": Route(encode("JPEG", color=(i, 9, 9))) for i in range(6)}
    with LoopbackServer(slow_host) as a, LoopbackServer(other_host) as b:
        items = [CollectItem(a.url("/p.jpg"), "urls"), CollectItem(a.url("/q.jpg"), "urls")]
        items += [CollectItem(b.url(p), "urls") for p in other_host]
        order = []
        store = ContentStore(tmp_path)
        sessions = ThreadSessions(transport(per_host=1))
        download(
            [Task(i, it) for i, it in enumerate(items)],
            sessions,
            POLICY,
            store,
            lambda t, o: order.append((t.index, o.status, time.monotonic())),
        )
        sessions.close()
    assert sorted(i for i, s, _ in order if s == "ok") == list(range(8))
    done_at = {i: t for i, _, t in order}
    # host b finished everything while host a waited out its Retry-After; a's second URL waited too
    assert max(done_at[i] for i in range(2, 8)) < min(done_at[0], done_at[1])
    assert done_at[1] - min(done_at[i] for i in range(2, 8)) > 0.5


def test_a_whole_body_that_does_not_decode_is_not_fetched_again(tmp_path):
    # /cut-file.jpg: a complete HTTP body holding half a JPEG (the file is broken: retrying gives the same bytes);
    # /cut-conn.jpg: the connection drops before Content-Length bytes (a network fault: worth retrying).
    routes = {
        "/cut-file.jpg": Route(PHOTO[: len(PHOTO) // 2]),
        "/cut-conn.jpg": Route(JPEG, truncate_to=len(JPEG) // 2),
    }
    with LoopbackServer(routes) as srv:
        outs, _ = run([CollectItem(srv.url(p), "urls") for p in routes], tmp_path, transport(retries=3))
        assert [o.status for o in outs] == ["truncated", "truncated"]
        assert srv.hits["/cut-file.jpg"] == 1 and outs[0].info["attempts"] == 1
        assert srv.hits["/cut-conn.jpg"] == 4  # 1 + 3 retries


def test_exif_orientation_is_reported_for_released_boxes(tmp_path):
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° when shown
    Image.new("RGB", (80, 48), (10, 20, 30)).save(buf, format="JPEG", exif=exif)
    with LoopbackServer({"/rot.jpg": Route(buf.getvalue()), "/plain.jpg": Route(JPEG)}) as srv:
        outs, _ = run(
            [CollectItem(srv.url("/rot.jpg"), "sdip"), CollectItem(srv.url("/plain.jpg"), "urls")],
            tmp_path,
            transport(),
        )
    assert outs[0].info["exif_orientation"] == 6 and outs[0].orig_size == [48, 80]
    assert "exif_orientation" not in outs[1].info
