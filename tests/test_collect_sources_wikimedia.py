"""Wikimedia Commons API answers (recorded-style JSON written for the tests) from 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from loopback import LoopbackServer, Route

from sdstylegan.collect.sources.api import ApiClient, SourceError
from sdstylegan.collect.sources.wikimedia import WikimediaSource, strip_html
from sdstylegan.collect.transport import TransportConfig


def page(title: str, index: int | None = None, mime: str = "image/jpeg", **ext) -> dict:
    name = title.removeprefix("File:").replace(" ", "_")
    p = {
        "pageid": abs(hash(title)) % 10**6,
        "ns": 6,
        "title": title,
        "imagerepository": "local",
        "imageinfo": [
            {
                "url": f"https://upload.wikimedia.org/wikipedia/commons/a/ab/{name}",
                "thumburl": f"https://upload.wikimedia.org/wikipedia/commons/thumb/a/ab/{name}/640px-{name}",
                "descriptionurl": f"https://commons.wikimedia.org/wiki/{title.replace(' ', '_')}",
                "width": 4000,
                "height": 3000,
                "mime": mime,
                "sha1": "0" * 40,
                "extmetadata": {k: {"value": v, "source": "commons-desc-page"} for k, v in ext.items()},
            }
        ],
    }
    if index is not None:
        p["index"] = index
    return p


CAT1 = {
    "batchcomplete": True,
    "continue": {"gcmcontinue": "file|4d415445|123", "continue": "gcmcontinue||"},
    "query": {
        "pages": [
            page(
                "File:Mate gourd.jpg",
                LicenseShortName="CC BY-SA 4.0",
                LicenseUrl="https://creativecommons.org/licenses/by-sa/4.0",
                Artist='<a href="//commons.wikimedia.org/wiki/User:Ana" title="User:Ana">Ana P&eacute;rez</a>',
            ),
            page("File:Mate diagram.svg", mime="image/svg+xml", LicenseShortName="Public domain"),
        ]
    },
}
CAT2 = {
    "batchcomplete": True,
    "query": {
        "pages": [
            page("File:Bombilla.png", mime="image/png", LicenseShortName="CC0", Artist="Unknown author"),
            {"pageid": 9, "ns": 6, "title": "File:Missing.jpg", "missing": True},
        ]
    },
}
SEARCH = {
    "query": {
        "pages": [
            page("File:B.webp", 2, mime="image/webp", LicenseShortName="CC BY 4.0"),
            page("File:A.jpg", 1, LicenseShortName="CC BY 2.0"),
        ]
    }
}


@pytest.fixture
def commons():
    seen = []

    def answer(path, q):
        seen.append(q)
        if q.get("generator") == ["search"]:
            body = SEARCH
        elif q.get("gcmtitle") == ["Category:Nope"]:
            body = {"error": {"code": "badvalue", "info": "Unrecognized value for parameter"}}
        else:
            body = CAT2 if q.get("gcmcontinue") == ["file|4d415445|123"] else CAT1
        return Route(json.dumps(body).encode(), content_type="application/json")

    with LoopbackServer(fallback=answer) as srv:
        yield srv, seen


def api() -> ApiClient:
    return ApiClient(TransportConfig(retries=0, read_timeout=2), min_interval=0)


def test_category_pages_licence_and_author(commons):
    srv, seen = commons
    items = list(WikimediaSource(categories=["Mate (beverage)"], api_url=srv.url("/w/api.php")).items(api()))
    assert [i.url.rsplit("/", 1)[1] for i in items] == [
        "Mate_gourd.jpg",
        "Bombilla.png",
    ]  # svg and missing skipped
    m = items[0].meta
    assert m["licence"] == "CC BY-SA 4.0" and m["author"] == "Ana Pérez"
    assert m["licence_url"].endswith("by-sa/4.0") and m["page_url"].endswith("File:Mate_gourd.jpg")
    assert items[1].meta["licence"] == "CC0" and items[0].origin == "wikimedia"
    assert seen[0]["gcmtitle"] == ["Category:Mate (beverage)"] and seen[0]["gcmtype"] == ["file"]
    assert "extmetadata" in seen[0]["iiprop"][0] and seen[0]["formatversion"] == ["2"]
    assert seen[1]["gcmcontinue"] == ["file|4d415445|123"] and seen[1]["continue"] == ["gcmcontinue||"]


def test_search_in_rank_order_with_thumbnails(commons):
    srv, seen = commons
    src = WikimediaSource(search=["yerba mate"], thumb_width=640, api_url=srv.url("/w/api.php"))
    items = list(src.items(api()))
    assert [i.meta["title"] for i in items] == ["File:A.jpg", "File:B.webp"]
    assert items[0].url.endswith("/640px-A.jpg") and seen[0]["iiurlwidth"] == ["640"]
    assert seen[0]["gsrnamespace"] == ["6"]


def test_api_error_and_bad_arguments(commons):
    srv, _ = commons
    with pytest.raises(SourceError, match="badvalue"):
        list(WikimediaSource(categories=["Nope"], api_url=srv.url("/w/api.php")).items(api()))
    with pytest.raises(ValueError, match="categories"):
        WikimediaSource()


def test_strip_html():
    assert strip_html('<span class="x">J. <b>Doe</b></span>&amp; co') == "J. Doe & co"
    assert strip_html(None) is None
