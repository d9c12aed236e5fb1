"""Wikimedia Commons: files of categories or of full-text searches, licence and author per image.

MediaWiki API (`action=query`, `formatversion=2`) with a generator — `categorymembers` for
`Category:…` (files only) or `search` in the File namespace (6) — and `prop=imageinfo` with
`extmetadata` for `LicenseShortName`, `LicenseUrl`, `Artist`, `Credit`. Paged with `continue`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

from sdstylegan.collect.items import CollectItem
from sdstylegan.collect.sources.api import ApiClient, SourceError, capped, check_max_items

DEFAULT_MIMES = ("image/jpeg", "image/png", "image/webp")
_TAG = re.compile(r"<[^>]+>")


def strip_html(text: str | None) -> str | None:
    """Commons' Artist/Credit fields are HTML snippets: keep the readable text."""
    if text is None:
        return None
    return " ".join(html.unescape(_TAG.sub(" ", str(text))).split()) or None


class WikimediaSource:
    """Images of Commons `categories` and/or `search` queries, at most `max_items` in all."""

    name = "wikimedia"

    def __init__(
        self,
        categories: list[str] | None = None,
        search: list[str] | None = None,
        max_items: int = 1000,
        thumb_width: int | None = None,  # download a scaled rendition this wide instead of the original
        mimes: list[str] | tuple[str, ...] = DEFAULT_MIMES,
        page_size: int = 50,
        api_url: str = "https://commons.wikimedia.org/w/api.php",
    ):
        self.categories = [c if c.startswith("Category:") else f"Category:{c}" for c in (categories or [])]
        self.search = list(search or [])
        if not self.categories and not self.search:
            raise ValueError("WikimediaSource needs categories=[...] and/or search=[...]")
        self.max_items, self.thumb_width = check_max_items(self.name, max_items), thumb_width
        self.mimes, self.page_size, self.api_url = tuple(mimes), int(page_size), api_url

    def items(self, api: ApiClient) -> Iterator[CollectItem]:
        return capped(self._listing(api), self.max_items)

    def _listing(self, api: ApiClient) -> Iterator[CollectItem]:
        queries = [
            {"generator": "categorymembers", "gcmtitle": c, "gcmtype": "file", "gcmlimit": self.page_size}
            for c in self.categories
        ]
        queries += [
            {"generator": "search", "gsrsearch": q, "gsrnamespace": 6, "gsrlimit": self.page_size}
            for q in self.search
        ]
        for query in queries:
            for page in self._pages(api, query):
                item = page_item(page, self.mimes, self.thumb_width is not None)
                if item is not None:
                    yield item

    def _pages(self, api: ApiClient, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        params = {
            "action": "query",
            "format": "json",
            "formatversion": 2,
            "prop": "imageinfo",
            "iiprop": "url|size|mime|extmetadata|sha1",
            "iiextmetadatafilter": "LicenseShortName|LicenseUrl|Artist|Credit|UsageTerms",
            **query,
        }
        if self.thumb_width:
            params["iiurlwidth"] = int(self.thumb_width)
        cont: dict[str, Any] = {}
        while True:
            data = api.get_json(self.api_url, {**params, **cont})
            if not isinstance(data, dict):
                raise SourceError(f"wikimedia {query}: answer is not a JSON object")
            if "error" in data:
                err = data["error"]
                raise SourceError(f"wikimedia {query}: API error {err.get('code')}: {err.get('info')}")
            pages = (data.get("query") or {}).get("pages") or []
            if isinstance(pages, dict):  # formatversion=1 answers
                pages = list(pages.values())
            # search results carry their rank in `index`; category members come sorted by title
            yield from sorted(pages, key=lambda p: (p.get("index", 0), p.get("title", "")))
            cont = data.get("continue") or {}
            if not cont:
                return


def page_item(
    page: dict[str, Any], mimes: tuple[str, ...] = DEFAULT_MIMES, use_thumb: bool = False
) -> CollectItem | None:
    """The item for one File page, or None when it has no usable image (SVG, video, PDF, missing)."""
    infos = page.get("imageinfo") or []
    if not infos:
        return None
    ii = infos[0]
    if ii.get("mime") not in mimes or not ii.get("url"):
        return None
    ext = ii.get("extmetadata") or {}

    def field(name: str) -> str | None:
        v = ext.get(name)
        return v.get("value") if isinstance(v, dict) else None

    meta = {
        "title": page.get("title"),
        "page_url": ii.get("descriptionurl"),
        "licence": strip_html(field("LicenseShortName")) or strip_html(field("UsageTerms")),
        "licence_url": field("LicenseUrl"),
        "author": strip_html(field("Artist")),
        "credit": strip_html(field("Credit")),
        "commons_sha1": ii.get("sha1"),
        "commons_size": [ii["width"], ii["height"]] if "width" in ii and "height" in ii else None,
    }
    url = ii.get("thumburl") if use_thumb and ii.get("thumburl") else ii["url"]
    return CollectItem(url=url, origin="wikimedia", meta={k: v for k, v in meta.items() if v is not None})
