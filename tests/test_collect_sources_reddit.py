"""Reddit listings (recorded-style JSON written for the tests) served from 127.0.0.1: paging, galleries, filters."""

from __future__ import annotations

import json

import pytest
from loopback import LoopbackServer, Route

from sdstylegan.collect.sources.api import ApiClient, SourceError
from sdstylegan.collect.sources.reddit import RedditSource, post_images
from sdstylegan.collect.transport import TransportConfig


def post(pid: str, **kw) -> dict:
    d = {
        "kind": "t3",
        "data": {
            "name": f"t3_{pid}",
            "id": pid,
            "subreddit": "yerbamate",
            "author": "gaucho",
            "title": f"my mate {pid}",
            "permalink": f"/r/yerbamate/comments/{pid}/x/",
            "over_18": False,
            "is_video": False,
            **kw,
        },
    }
    return d


PAGE1 = {
    "kind": "Listing",
    "data": {
        "after": "t3_p4",
        "children": [
            post("p1", url="https://i.redd.it/abc123.jpg", post_hint="image", domain="i.redd.it"),
            post(
                "p2",
                is_self=True,
                url="https://www.reddit.com/r/yerbamate/comments/p2/x/",
                selftext="which yerba?",
            ),
            post(
                "p3",
                is_gallery=True,
                url="https://www.reddit.com/gallery/p3",
                gallery_data={
                    "items": [
                        {"media_id": "g1", "id": 1, "caption": "calabaza"},
                        {"media_id": "g2", "id": 2},
                        {"media_id": "g3", "id": 3},
                        {"media_id": "g4", "id": 4},
                    ]
                },
                media_metadata={
                    "g1": {
                        "status": "valid",
                        "e": "Image",
                        "m": "image/jpg",
                        "s": {"u": "https://preview.redd.it/g1.jpg?width=3000&s=a", "x": 3000, "y": 2000},
                    },
                    "g2": {
                        "status": "valid",
                        "e": "Image",
                        "m": "image/png",
                        "s": {"u": "https://preview.redd.it/g2.png?s=b", "x": 800, "y": 800},
                    },
                    "g3": {
                        "status": "valid",
                        "e": "AnimatedImage",
                        "m": "image/gif",
                        "s": {"gif": "https://i.redd.it/g3.gif"},
                    },
                    "g4": {"status": "failed"},
                },
            ),
            post("p4", url="https://v.redd.it/vid", is_video=True, post_hint="hosted:video"),
        ],
    },
}
PAGE2 = {
    "kind": "Listing",
    "data": {
        "after": None,
        "children": [
            post(
                "p5", url="https://i.imgur.com/xyz.png?a=1&amp;b=2"
            ),  # escaped ampersand, image suffix, no hint
            post("p6", url="https://i.redd.it/nsfw.jpg", post_hint="image", over_18=True),
            post(
                "p7",
                url="https://www.reddit.com/r/yerbamate/comments/p0/",
                crosspost_parent_list=[
                    {"url": "https://i.redd.it/parent.webp", "post_hint": "image", "is_video": False}
                ],
            ),
            post("p8", url="https://example.com/article.html", post_hint="link"),
        ],
    },
}


@pytest.fixture
def reddit():
    seen = []

    def answer(path, query):
        seen.append((path, query))
        if path != "/r/yerbamate/top.json":
            return Route(
                b'{"message": "Not Found", "error": 404}', status=404, content_type="application/json"
            )
        page = PAGE2 if query.get("after") == ["t3_p4"] else PAGE1
        return Route(json.dumps(page).encode(), content_type="application/json")

    with LoopbackServer(fallback=answer) as srv:
        yield srv, seen


def api() -> ApiClient:
    return ApiClient(TransportConfig(retries=1, backoff=0.01, read_timeout=2), min_interval=0)


def test_listing_pages_galleries_and_filters(reddit):
    srv, seen = reddit
    items = list(RedditSource(["r/yerbamate"], api_base=srv.base, media_base="https://img.test").items(api()))
    assert [i.url for i in items] == [
        "https://i.redd.it/abc123.jpg",
        "https://img.test/g1.jpg",
        "https://img.test/g2.png",
        "https://i.imgur.com/xyz.png?a=1&b=2",
        "https://i.redd.it/parent.webp",
    ]
    assert all(i.origin == "reddit" for i in items)
    assert items[1].meta["caption"] == "calabaza" and items[1].meta["gallery_index"] == 0
    assert items[0].meta["permalink"] == "https://www.reddit.com/r/yerbamate/comments/p1/x/"
    assert items[4].meta["reddit_id"] == "t3_p7"  # a crosspost: media of the parent, credit to the post
    # two pages, asked the way Reddit documents: limit, raw_json, t for top, then after=
    assert len(seen) == 2 and seen[0][1]["t"] == ["all"] and seen[0][1]["raw_json"] == ["1"]
    assert "after" not in seen[0][1] and seen[1][1]["after"] == ["t3_p4"]


def test_max_items_stops_listing_early(reddit):
    srv, seen = reddit
    items = list(RedditSource(["yerbamate"], api_base=srv.base, max_items=2).items(api()))
    assert len(items) == 2 and len(seen) == 1


def test_max_items_zero_lists_nothing_and_negative_is_refused(reddit):
    srv, seen = reddit
    assert list(RedditSource(["yerbamate"], api_base=srv.base, max_items=0).items(api())) == []
    assert seen == []  # not even the first page was asked for
    with pytest.raises(ValueError, match="max_items=-1"):
        RedditSource(["yerbamate"], api_base=srv.base, max_items=-1)


def test_nsfw_only_when_asked():
    p = post("n", url="https://i.redd.it/n.jpg", post_hint="image", over_18=True)["data"]
    assert post_images(p) == [] and post_images(p, include_nsfw=True)[0][0] == "https://i.redd.it/n.jpg"


def test_search_and_errors(reddit):
    srv, seen = reddit
    with pytest.raises(SourceError, match="HTTP 404"):
        list(RedditSource(["nosuchsub"], api_base=srv.base).items(api()))
    with pytest.raises(SourceError):
        list(RedditSource(["argentina"], query="mate", sort="relevance", api_base=srv.base).items(api()))
    assert seen[-1][0] == "/r/argentina/search.json" and seen[-1][1]["q"] == ["mate"]
    assert seen[-1][1]["restrict_sr"] == ["1"]
    with pytest.raises(ValueError, match="subreddit"):
        RedditSource([])
    with pytest.raises(ValueError, match="sort"):
        RedditSource(["x"], sort="best-ever")
