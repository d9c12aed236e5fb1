"""Flickr search answers (recorded-style JSON written for the tests) from 127.0.0.1; the key never leaks."""

from __future__ import annotations

import json

import pytest
from loopback import LoopbackServer, Route

from sdstylegan.collect.sources.api import ApiClient, SourceError
from sdstylegan.collect.sources.flickr import FlickrSource, photo_item
from sdstylegan.collect.transport import TransportConfig

KEY = "k3y-not-to-be-printed"


def photo(pid: str, **sizes) -> dict:
    return {
        "id": pid,
        "owner": "12345@N00",
        "secret": "s",
        "server": "65535",
        "farm": 66,
        "title": f"mate {pid}",
        "ispublic": 1,
        "license": "4",
        "ownername": "Marta",
        **sizes,
    }


PAGES = {
    "1": {
        "photos": {
            "page": 1,
            "pages": 2,
            "perpage": 2,
            "total": 3,
            "photo": [
                photo(
                    "1",
                    url_l="https://live.staticflickr.com/65535/1_s_b.jpg",
                    url_o="https://live.staticflickr.com/65535/1_o.jpg",
                ),
                photo("2", url_c="https://live.staticflickr.com/65535/2_s_c.jpg"),
            ],
        },
        "stat": "ok",
    },
    "2": {"photos": {"page": 2, "pages": 2, "perpage": 2, "total": 3, "photo": [photo("3")]}, "stat": "ok"},
}


@pytest.fixture
def flickr():
    seen = []

    def answer(path, q):
        seen.append(q)
        if q.get("api_key") != [KEY]:
            body = {"stat": "fail", "code": 100, "message": "Invalid API Key (Key has invalid format)"}
        else:
            body = PAGES[q["page"][0]]
        return Route(json.dumps(body).encode(), content_type="application/json")

    with LoopbackServer(fallback=answer) as srv:
        yield srv, seen


def api() -> ApiClient:
    return ApiClient(TransportConfig(retries=0, read_timeout=2), min_interval=0)


def test_search_pages_sizes_and_licence(flickr, monkeypatch):
    srv, seen = flickr
    monkeypatch.setenv("FLICKR_TEST_KEY", KEY)
    items = list(
        FlickrSource(["yerba mate"], api_key_env="FLICKR_TEST_KEY", api_url=srv.url("/rest/")).items(api())
    )
    # photo 1: url_l preferred over url_o; photo 2: only url_c; photo 3: no size → skipped
    assert [i.url.rsplit("/", 1)[1] for i in items] == ["1_s_b.jpg", "2_s_c.jpg"]
    m = items[0].meta
    assert m["licence"] == "CC BY 2.0" and m["licence_id"] == "4" and m["author"] == "Marta"
    assert m["page_url"] == "https://www.flickr.com/photos/12345@N00/1"
    assert [q["page"] for q in seen] == [["1"], ["2"]] and seen[0]["method"] == ["flickr.photos.search"]
    assert "url_l" in seen[0]["extras"][0] and seen[0]["nojsoncallback"] == ["1"]
    assert all(KEY not in json.dumps(i.meta) + i.url for i in items)


def test_missing_and_rejected_key(flickr, monkeypatch):
    srv, _ = flickr
    monkeypatch.delenv("FLICKR_TEST_KEY", raising=False)
    with pytest.raises(SourceError, match="FLICKR_TEST_KEY"):
        list(FlickrSource(["mate"], api_key_env="FLICKR_TEST_KEY", api_url=srv.url("/rest/")).items(api()))
    monkeypatch.setenv("FLICKR_TEST_KEY", "wrong-key-123")
    with pytest.raises(SourceError, match="Invalid API Key") as e:
        list(FlickrSource(["mate"], api_key_env="FLICKR_TEST_KEY", api_url=srv.url("/rest/")).items(api()))
    assert "wrong-key-123" not in str(e.value)


def test_unknown_licence_id_is_kept():
    item = photo_item({"id": "9", "owner": "o", "license": "14", "url_l": "https://x/9.jpg"})
    assert item.meta["licence_id"] == "14" and "14" in item.meta["licence"]
