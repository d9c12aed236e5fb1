"""Flickr: photos from `flickr.photos.search`, licence and owner per image; API key from the environment.

`GET {api_url}?method=flickr.photos.search&text=…&license=…&extras=license,owner_name,url_…&
format=json&nojsoncallback=1&page=N`; the answer is `{"stat": "ok", "photos": {"page", "pages",
"photo": [...]}}` or `{"stat": "fail", "code", "message"}`. The key is read from `api_key_env` when
listing starts and never written anywhere (not in configs, logs, manifests or error messages).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from sdstylegan.collect.items import CollectItem
from sdstylegan.collect.sources.api import ApiClient, SourceError, capped, check_max_items

# flickr.photos.licenses.getInfo (ids are stable; the id is recorded too, so a later id is not lost).
LICENCES = {
    "0": "All Rights Reserved",
    "1": "CC BY-NC-SA 2.0",
    "2": "CC BY-NC 2.0",
    "3": "CC BY-NC-ND 2.0",
    "4": "CC BY 2.0",
    "5": "CC BY-SA 2.0",
    "6": "CC BY-ND 2.0",
    "7": "No known copyright restrictions",
    "8": "United States Government Work",
    "9": "CC0 1.0",
    "10": "Public Domain Mark 1.0",
}


class FlickrSource:
    """Photos matching `text` (one search per entry), at most `max_items` in all."""

    name = "flickr"

    def __init__(
        self,
        text: list[str],
        licenses: str = "1,2,3,4,5,6,7,9,10",  # Flickr licence ids; default: openly licensed only
        sizes: list[str] | tuple[str, ...] = ("url_l", "url_c", "url_o"),  # first available size wins
        sort: str = "relevance",
        max_items: int = 1000,
        per_page: int = 100,
        api_key_env: str = "FLICKR_API_KEY",
        api_url: str = "https://api.flickr.com/services/rest/",
    ):
        self.text = [text] if isinstance(text, str) else list(text)
        if not self.text:
            raise ValueError("FlickrSource needs text=[...] search terms")
        self.licenses, self.sizes, self.sort = licenses, tuple(sizes), sort
        self.max_items, self.per_page = check_max_items(self.name, max_items), int(per_page)
        self.api_key_env, self.api_url = api_key_env, api_url

    def items(self, api: ApiClient) -> Iterator[CollectItem]:
        return capped(self._listing(api), self.max_items)

    def _listing(self, api: ApiClient) -> Iterator[CollectItem]:
        key = os.environ.get(self.api_key_env, "").strip()
        if not key:
            raise SourceError(
                f"flickr: set the environment variable {self.api_key_env} to a Flickr API key "
                "(https://www.flickr.com/services/apps/create/)"
            )
        for text in self.text:
            page, pages = 1, 1
            while page <= pages:
                params = {
                    "method": "flickr.photos.search",
                    "api_key": key,
                    "text": text,
                    "license": self.licenses,
                    "sort": self.sort,
                    "content_type": 1,
                    "media": "photos",
                    "extras": ",".join(["license", "owner_name", *self.sizes]),
                    "per_page": self.per_page,
                    "page": page,
                    "format": "json",
                    "nojsoncallback": 1,
                }
                data = api.get_json(self.api_url, params)
                if not isinstance(data, dict) or data.get("stat") != "ok":
                    code = data.get("code") if isinstance(data, dict) else None
                    msg = data.get("message") if isinstance(data, dict) else "not a JSON object"
                    raise SourceError(f"flickr search {text!r}: API error {code}: {msg}")
                photos = data.get("photos") or {}
                pages = int(photos.get("pages") or 0)
                for p in photos.get("photo") or []:
                    item = photo_item(p, self.sizes)
                    if item is not None:
                        yield item
                page += 1


def photo_item(p: dict[str, Any], sizes: tuple[str, ...] = ("url_l", "url_c", "url_o")) -> CollectItem | None:
    """The item for one search result, or None when none of `sizes` is offered."""
    url = next((p[s] for s in sizes if p.get(s)), None)
    if url is None:
        return None
    lic = str(p.get("license", ""))
    meta = {
        "flickr_id": p.get("id"),
        "title": p.get("title") or None,
        "author": p.get("ownername") or p.get("owner"),
        "licence": LICENCES.get(lic, f"flickr licence id {lic}") if lic else None,
        "licence_id": lic or None,
        "page_url": f"https://www.flickr.com/photos/{p['owner']}/{p['id']}"
        if p.get("owner") and p.get("id")
        else None,
    }
    return CollectItem(url=url, origin="flickr", meta={k: v for k, v in meta.items() if v is not None})
