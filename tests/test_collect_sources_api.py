"""The listing-API client: retries honouring Retry-After, spacing between calls, clear errors without secrets."""

from __future__ import annotations

import pytest
from loopback import LoopbackServer, Route

from sdstylegan.collect.sources import Source
from sdstylegan.collect.sources.api import ApiClient, SourceError
from sdstylegan.collect.sources.flickr import FlickrSource
from sdstylegan.collect.sources.img2dataset import Img2DatasetSource
from sdstylegan.collect.sources.reddit import RedditSource
from sdstylegan.collect.sources.url_list import SdipJsonSource, UrlListSource
from sdstylegan.collect.sources.wikimedia import WikimediaSource
from sdstylegan.collect.transport import TransportConfig


def test_retry_after_then_json():
    routes = {
        "/api": Route(
            b'{"ok": 1}',
            content_type="application/json",
            fail_times=1,
            fail_status=429,
            fail_headers={"Retry-After": "1"},
        )
    }
    with LoopbackServer(routes) as srv:
        client = ApiClient(TransportConfig(retries=2, backoff=0.01), min_interval=0)
        assert client.get_json(srv.url("/api"), {"q": "mate"}) == {"ok": 1}
        t = [t for t, _ in srv.log]
        assert srv.hits["/api"] == 2 and t[1] - t[0] >= 0.95 and client.calls == 2
        assert "sdstylegan/" in client.session.headers["User-Agent"]


def test_spacing_and_failures():
    routes = {
        "/a": Route(b"[]", content_type="application/json"),
        "/html": Route(b"<html>", content_type="text/html"),
        "/down": Route(b"", status=503),
    }
    with LoopbackServer(routes) as srv:
        client = ApiClient(TransportConfig(retries=1, backoff=0.01), min_interval=0.2)
        client.get_json(srv.url("/a"))
        client.get_json(srv.url("/a"))
        t = [t for t, _ in srv.log]
        assert t[1] - t[0] >= 0.19
        with pytest.raises(SourceError, match="not JSON"):
            client.get_json(srv.url("/html"))
        with pytest.raises(SourceError, match=r"/down: HTTP 503 after 2 attempts") as e:
            client.get_json(srv.url("/down"), {"api_key": "secret123"})
        assert "secret123" not in str(e.value)
    with pytest.raises(SourceError, match="ConnectionError"):
        ApiClient(TransportConfig(retries=0, connect_timeout=1), min_interval=0).get_json(srv.url("/a"))


def test_a_longer_retry_after_than_allowed_fails_at_once_and_backoff_doubles():
    routes = {
        "/busy": Route(b"", status=429, headers={"Retry-After": "3600"}),
        "/flaky": Route(b"{}", content_type="application/json", fail_times=2, fail_status=502),
    }
    with LoopbackServer(routes) as srv:
        client = ApiClient(TransportConfig(retries=3, backoff=0.2, max_retry_after=60), min_interval=0)
        with pytest.raises(SourceError, match=r"HTTP 429 asks to wait 3600 s .*after 1 attempts"):
            client.get_json(srv.url("/busy"))
        assert srv.hits["/busy"] == 1  # no hour-long sleep, no second request
        assert client.get_json(srv.url("/flaky")) == {}
        t = [t for t, path in srv.log if path.startswith("/flaky")]
        # first retry after `backoff` s, the second after twice that (not urllib3's immediate first retry)
        assert len(t) == 3 and t[1] - t[0] >= 0.19 and t[2] - t[1] >= 0.39
        assert client.calls == 1 + 3


def test_sources_share_one_interface(tmp_path):
    (tmp_path / "u.txt").write_text("http://a/b.jpg\n")
    built = [
        RedditSource(["x"]),
        WikimediaSource(search=["mate"]),
        FlickrSource(["mate"]),
        UrlListSource(str(tmp_path / "u.txt")),
        SdipJsonSource(str(tmp_path / "s.json")),
        Img2DatasetSource(str(tmp_path)),
    ]
    assert all(isinstance(s, Source) for s in built)
    assert len({s.name for s in built}) == len(built)
    assert not isinstance(object(), Source)
