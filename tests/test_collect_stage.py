"""The collect stage end to end on a loopback server: manifest, de-duplication, kill-and-resume, pipeline."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
from loopback import LoopbackServer, Route
from PIL import Image, ImageOps

from sdstylegan.collect.downloader import ContentPolicy
from sdstylegan.collect.items import CollectItem, write_items
from sdstylegan.collect.stage import collect_items
from sdstylegan.collect.transport import TransportConfig
from sdstylegan.data.manifest import read_manifest
from sdstylegan.pipeline.runner import run_pipeline


def jpeg(seed: int, size=(72, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256)).save(
        buf, format="JPEG", quality=90
    )
    return buf.getvalue()


TRANSPORT = dict(
    workers=4,
    per_host=4,
    connect_timeout=2,
    read_timeout=2,
    total_timeout=5,
    retries=0,
    backoff=0.05,
    progress=False,
)
POLICY = ContentPolicy(max_bytes=10**6, min_size=32)


def test_manifest_has_one_record_per_input_item(tmp_path):
    same = jpeg(1)
    # /a.jpg finishes after /b.jpg (same bytes) yet keeps `ok`: the first in input order wins
    routes = {
        "/a.jpg": Route(same, delay=0.3),
        "/b.jpg": Route(same),
        "/c.jpg": Route(jpeg(2)),
        "/d.txt": Route(b"hello"),
        "/e.jpg": Route(jpeg(2), delay=0.3),
    }
    with LoopbackServer(routes) as srv:
        items = [
            CollectItem(srv.url("/a.jpg"), "sdip", bbox=[4, 60, 8, 70], meta={"licence": "CC0"}),
            CollectItem(srv.url("/b.jpg"), "urls"),
            CollectItem(srv.url("/c.jpg"), "urls"),
            CollectItem(srv.url("/c.jpg"), "urls"),
            CollectItem(srv.url("/d.txt"), "urls"),
            CollectItem(srv.url("/gone.jpg"), "urls"),
            CollectItem(srv.url("/e.jpg"), "urls"),
        ]
        res = collect_items(items, tmp_path, TransportConfig(**TRANSPORT), POLICY)
        assert srv.hits["/c.jpg"] == 1  # the URL listed twice is fetched once
    records = read_manifest(tmp_path / "manifest.jsonl")
    assert [r.status for r in records] == [
        "ok",
        "duplicate",
        "ok",
        "duplicate_url",
        "not_image",
        "http_404",
        "duplicate",
    ]
    assert sum(res.counts.values()) == len(items) == len(records)
    a, b = records[0], records[1]
    assert a.id == b.id == hashlib.sha256(same).hexdigest()
    assert (tmp_path / a.orig_path).read_bytes() == same and a.orig_size == [72, 64]
    assert a.bbox == [4, 60, 8, 70] and a.extra["meta"] == {"licence": "CC0"} and a.extra["origin"] == "sdip"
    assert b.extra["duplicate_of"] == items[0].url and b.source == items[1].url
    assert records[5].id.startswith("url:") and "404" in records[5].extra["reason_detail"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["items"] == 7 and summary["status_counts"] == {
        "ok": 2,
        "duplicate": 2,
        "duplicate_url": 1,
        "not_image": 1,
        "http_404": 1,
    }
    assert records[6].extra["duplicate_of"] == items[2].url
    assert len([p for p in (tmp_path / "images").rglob("*") if p.is_file()]) == 2


def test_resume_skips_finished_items_and_refetches_lost_files(tmp_path):
    routes = {f"/{i}.jpg": Route(jpeg(i)) for i in range(6)}
    with LoopbackServer(routes) as srv:
        items = [CollectItem(srv.url(p), "urls") for p in routes]
        cfg = TransportConfig(**TRANSPORT)
        collect_items(items[:4], tmp_path, cfg, POLICY)
        first = read_manifest(tmp_path / "manifest.jsonl")
        (tmp_path / first[1].orig_path).unlink()  # a lost file is fetched again
        torn = tmp_path / first[2].orig_path  # so is a torn one (an OS crash before writeback)
        torn.write_bytes(torn.read_bytes()[:100])
        partial = tmp_path / "images" / "ab" / ".x.jpg.123.tmp"
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(b"\xff\xd8\xff half")  # a partial write is removed, never used
        res = collect_items(items, tmp_path, cfg, POLICY)
        assert [srv.hits[f"/{i}.jpg"] for i in range(6)] == [1, 2, 2, 1, 1, 1]
    assert res.fetched == 4 and not partial.exists() and torn.read_bytes() == jpeg(2)
    records = read_manifest(tmp_path / "manifest.jsonl")
    assert [r.status for r in records] == ["ok"] * 6 and (tmp_path / records[1].orig_path).is_file()


def test_retry_on_resume_refetches_only_the_named_failures(tmp_path):
    routes = {"/a.jpg": Route(jpeg(1)), "/b.jpg": Route(jpeg(2), fail_times=1, fail_status=500)}
    with LoopbackServer(routes) as srv:
        items = [
            CollectItem(srv.url("/a.jpg"), "urls"),
            CollectItem(srv.url("/b.jpg"), "urls"),
            CollectItem(srv.url("/c.jpg"), "urls"),
        ]
        res = collect_items(items, tmp_path, TransportConfig(**TRANSPORT), POLICY)
        assert dict(res.counts) == {"ok": 1, "http_5xx": 1, "http_404": 1}
        cfg = TransportConfig(**{**TRANSPORT, "retry_on_resume": ("http_5xx",)})
        res = collect_items(items, tmp_path, cfg, POLICY)
        assert dict(res.counts) == {"ok": 2, "http_404": 1} and res.fetched == 1
        assert dict(srv.hits) == {"/a.jpg": 1, "/b.jpg": 2, "/c.jpg": 1}
    assert len(read_manifest(tmp_path / "manifest.jsonl")) == 3


CHILD = """
import sys
from sdstylegan.collect.downloader import ContentPolicy
from sdstylegan.collect.items import read_items
from sdstylegan.collect.stage import collect_items
from sdstylegan.collect.transport import TransportConfig
out = sys.argv[1]
collect_items(read_items(out + "/items.jsonl"), out, TransportConfig(workers=3, per_host=3, retries=0, progress=False),
              ContentPolicy(max_bytes=10**6, min_size=32))
"""


def test_killed_run_resumes_without_losing_or_refetching(tmp_path):
    n = 40
    routes = {f"/{i}.jpg": Route(jpeg(i), delay=0.06) for i in range(n)}
    with LoopbackServer(routes) as srv:
        items = [CollectItem(srv.url(p), "urls") for p in routes]
        write_items(tmp_path / "items.jsonl", items)
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stderr=subprocess.PIPE)
        journal = tmp_path / "journal.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            if journal.exists() and journal.read_text().count("\n") >= 12:
                break
            time.sleep(0.02)
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        os.kill(child.pid, signal.SIGKILL)  # no chance to clean up
        child.wait()
        child.stderr.close()
        before = [json.loads(line) for line in journal.read_text().splitlines() if line.strip().endswith("}")]
        done_paths = {"/" + r["source"].rsplit("/", 1)[1] for r in before}
        hits_before = dict(srv.hits)
        assert 12 <= len(before) < n
        res = collect_items(items, tmp_path, TransportConfig(**TRANSPORT), POLICY)
        for p in done_paths:  # finished before the kill: not fetched again
            assert srv.hits[p] == hits_before[p] == 1, p
        in_flight = [p for p in routes if p not in done_paths and hits_before.get(p)]
        assert sum(srv.hits.values()) == n + len(in_flight) and len(in_flight) <= 3
    records = read_manifest(tmp_path / "manifest.jsonl")
    assert len(records) == n and all(r.status == "ok" for r in records)
    assert res.fetched == n - len(before)
    assert not [p for p in (tmp_path / "images").rglob(".*") if p.is_file()]
    for r in records:  # every kept file is whole: its bytes hash to its id
        assert hashlib.sha256((tmp_path / r.orig_path).read_bytes()).hexdigest() == r.id


def test_stage_through_the_pipeline(make_cfg, tmp_path):
    routes = {"/x.png": Route(jpeg(5)), "/y.jpg": Route(jpeg(6)), "/z.jpg": Route(b"", status=500)}
    with LoopbackServer(routes) as srv:
        urls = tmp_path / "urls.txt"
        urls.write_text("# mate photos\n" + "\n".join(srv.url(p) for p in routes) + "\nftp://x/y.jpg\n")
        overrides = [
            "collect=urls",
            f"collect.path={urls}",
            "pipeline.stages=[collect]",
            "collect.transport.retries=0",
            "collect.transport.progress=false",
            "collect.content.min_size=16",
        ]
        cfg = make_cfg(overrides)
        out = run_pipeline(cfg)["collect"]
        assert out["num_images"] == 2 and out["num_items"] == 4
        assert out["status_counts"] == {"ok": 2, "http_5xx": 1, "bad_scheme": 1}
        manifest = cfg.paths.run_dir + "/" + out["manifest"]
        records = read_manifest(manifest)
        assert [r.status for r in records] == ["ok", "ok", "http_5xx", "bad_scheme"]
        hits = sum(srv.hits.values())
        # same config again: skipped; a transport change does not invalidate what was fetched
        again = run_pipeline(make_cfg(overrides + ["collect.transport.workers=2"]))["collect"]
        assert again == out and sum(srv.hits.values()) == hits


def test_stage_without_sources_says_what_to_do(make_cfg):
    import pytest

    with pytest.raises(ValueError, match="collect=urls"):
        run_pipeline(make_cfg(["pipeline.stages=[collect]"]))


def test_duplicate_whose_copy_is_lost_is_fetched_again(tmp_path):
    same = jpeg(9)
    with LoopbackServer({"/a.jpg": Route(same), "/b.jpg": Route(same)}) as srv:
        items = [CollectItem(srv.url("/a.jpg"), "urls"), CollectItem(srv.url("/b.jpg"), "urls")]
        collect_items(items, tmp_path, TransportConfig(**TRANSPORT), POLICY)
        first = read_manifest(tmp_path / "manifest.jsonl")
        assert [r.status for r in first] == ["ok", "duplicate"]
        (tmp_path / first[0].orig_path).unlink()
        srv.routes["/a.jpg"] = Route(b"", status=404)  # the first URL is gone now: the second takes over
        res = collect_items(items, tmp_path, TransportConfig(**TRANSPORT), POLICY)
        assert dict(srv.hits) == {"/a.jpg": 2, "/b.jpg": 2}
    assert [r.status for r in res.records] == ["http_404", "ok"]
    assert (tmp_path / res.records[1].orig_path).read_bytes() == same


def test_listing_failure_fails_or_keeps_what_was_listed(tmp_path):
    import pytest

    from sdstylegan.collect.sources.api import SourceError
    from sdstylegan.collect.sources.reddit import RedditSource
    from sdstylegan.collect.stage import list_items

    page1 = {
        "kind": "Listing",
        "data": {
            "after": "t3_b",
            "children": [
                {
                    "kind": "t3",
                    "data": {"name": "t3_a", "url": "https://i.redd.it/a.jpg", "post_hint": "image"},
                }
            ],
        },
    }

    def answer(path, q):
        if "after" in q:
            return Route(b"down", status=503)
        return Route(json.dumps(page1).encode(), content_type="application/json")

    with LoopbackServer(fallback=answer) as srv:
        cfg = TransportConfig(retries=0)
        with pytest.raises(SourceError, match="on_source_error=skip"):
            list_items([RedditSource(["mate"], api_base=srv.base)], cfg, tmp_path / "a", api_interval=0)
        assert not (tmp_path / "a" / "items.jsonl").exists()
        (tmp_path / "b").mkdir()
        items = list_items(
            [RedditSource(["mate"], api_base=srv.base)],
            cfg,
            tmp_path / "b",
            api_interval=0,
            on_source_error="skip",
        )
    assert [i.url for i in items] == ["https://i.redd.it/a.jpg"]
    listing = json.loads((tmp_path / "b" / "listing.json").read_text())
    assert listing["sources"][0]["items"] == 1 and "HTTP 503" in listing["sources"][0]["error"]
    # the saved listing is what a resumed run works through, whatever the API says later
    assert list_items([], cfg, tmp_path / "b") == items


def test_duplicate_of_names_the_kept_copy_when_the_owner_is_displaced(tmp_path):
    same = jpeg(9)
    # finishing order 2, 1, 0: item 2 is kept first, then displaced by 1, then 1 by 0 (first in input order wins)
    routes = {"/a.jpg": Route(same, delay=0.6), "/b.jpg": Route(same, delay=0.3), "/c.jpg": Route(same)}
    with LoopbackServer(routes) as srv:
        items = [CollectItem(srv.url(p), "urls") for p in routes]
        collect_items(items, tmp_path, TransportConfig(**TRANSPORT), POLICY)
    records = read_manifest(tmp_path / "manifest.jsonl")
    assert [r.status for r in records] == ["ok", "duplicate", "duplicate"]
    assert [r.extra.get("duplicate_of") for r in records[1:]] == [items[0].url, items[0].url]


def test_released_box_follows_exif_rotation_end_to_end(tmp_path):
    # a file stored sideways (orientation 6) with a red patch; the SDIP box is in the file's own pixels
    a = np.full((40, 64, 3), 128, np.uint8)
    a[5:15, 30:50] = (230, 20, 20)  # rows 5-15, cols 30-50 of the stored (unrotated) pixels
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(a).save(buf, format="PNG", exif=exif)
    with LoopbackServer({"/r.png": Route(buf.getvalue(), content_type="image/png")}) as srv:
        items = [CollectItem(srv.url("/r.png"), "sdip", bbox=[5, 15, 30, 50])]
        collect_items(items, tmp_path, TransportConfig(**TRANSPORT), POLICY)
    (r,) = read_manifest(tmp_path / "manifest.jsonl")
    shown = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / r.orig_path)).convert("RGB"))
    y0, y1, x0, x1 = r.bbox
    assert r.orig_size == [40, 64] and 0 <= x0 < x1 <= 40 and 0 <= y0 < y1 <= 64
    patch = shown[y0:y1, x0:x1]
    assert patch.shape[:2] == (20, 10) and (patch[..., 0] > 200).all() and (patch[..., 1] < 60).all()


def test_duplicate_of_names_the_kept_copy_after_a_resume_displaces_the_owner(tmp_path):
    same = jpeg(11)
    # run 1: /a.jpg fails, /b.jpg is kept and /c.jpg recorded as its duplicate; run 2 fetches /a.jpg again,
    # which now answers the same bytes and, first in input order, takes over: /c.jpg must follow it.
    routes = {
        "/a.jpg": Route(same, fail_times=1, fail_status=500),
        "/b.jpg": Route(same, delay=0.2),
        "/c.jpg": Route(same, delay=0.4),
    }
    with LoopbackServer(routes) as srv:
        items = [CollectItem(srv.url(p), "urls") for p in routes]
        first = collect_items(items, tmp_path, TransportConfig(**TRANSPORT), POLICY)
        assert [r.status for r in first.records] == ["http_5xx", "ok", "duplicate"]
        cfg = TransportConfig(**{**TRANSPORT, "retry_on_resume": ("http_5xx",)})
        collect_items(items, tmp_path, cfg, POLICY)
        assert dict(srv.hits) == {"/a.jpg": 2, "/b.jpg": 1, "/c.jpg": 1}
    records = read_manifest(tmp_path / "manifest.jsonl")
    assert [r.status for r in records] == ["ok", "duplicate", "duplicate"]
    assert [r.extra["duplicate_of"] for r in records[1:]] == [items[0].url, items[0].url]
