"""Reddit: image posts and galleries from the public JSON listings of one or more subreddits.

Listing: `GET {api_base}/r/<sub>/<sort>.json?limit=100&after=<fullname>&raw_json=1` (or
`/r/<sub>/search.json?q=…&restrict_sr=1` with a query), paged with `data.after`. A post gives
- one image when it links an image (`post_hint == "image"` or an image suffix, e.g. i.redd.it);
- every valid still image of a gallery (`is_gallery`, `gallery_data.items` order, originals at
  `{media_base}/<media_id>.<ext>` from `media_metadata[...].m`);
crossposts are followed to their parent; videos, NSFW (unless asked) and removed media are skipped.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from sdstylegan.collect.items import CollectItem
from sdstylegan.collect.sources.api import ApiClient, SourceError, capped, check_max_items

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
MIME_EXT = {"image/jpg": "jpg", "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
SORTS = ("hot", "new", "top", "rising", "controversial")


class RedditSource:
    """Images posted to `subreddits` (optionally matching `query`), at most `max_items` in all."""

    name = "reddit"

    def __init__(
        self,
        subreddits: list[str],
        query: str | None = None,  # search within each subreddit instead of a plain listing
        sort: str = "top",  # hot | new | top | rising | controversial (search: relevance, top, new, …)
        time_filter: str = "all",  # for top/controversial/search: hour, day, week, month, year, all
        max_items: int = 1000,  # images in all (a gallery counts each image)
        max_pages: int = 10,  # per subreddit (Reddit stops at about 1000 posts anyway)
        include_nsfw: bool = False,
        api_base: str = "https://www.reddit.com",
        media_base: str = "https://i.redd.it",
    ):
        if not subreddits:
            raise ValueError("RedditSource needs at least one subreddit, e.g. subreddits=[yerbamate]")
        if query is None and sort not in SORTS:
            raise ValueError(f"RedditSource sort={sort!r}: one of {SORTS}")
        self.subreddits = [s.removeprefix("r/").strip("/") for s in subreddits]
        self.query, self.sort, self.time_filter = query, sort, time_filter
        self.max_items, self.max_pages = check_max_items(self.name, max_items), int(max_pages)
        self.include_nsfw = include_nsfw
        self.api_base, self.media_base = api_base.rstrip("/"), media_base.rstrip("/")

    def items(self, api: ApiClient) -> Iterator[CollectItem]:
        return capped(self._listing(api), self.max_items)

    def _listing(self, api: ApiClient) -> Iterator[CollectItem]:
        for sub in self.subreddits:
            for post in self._posts(api, sub):
                for url, meta in post_images(post, self.media_base, self.include_nsfw):
                    yield CollectItem(url=url, origin=self.name, meta=meta)

    def _posts(self, api: ApiClient, sub: str) -> Iterator[dict[str, Any]]:
        if self.query:
            url = f"{self.api_base}/r/{sub}/search.json"
            base = {"q": self.query, "restrict_sr": 1, "sort": self.sort, "t": self.time_filter}
        else:
            url = f"{self.api_base}/r/{sub}/{self.sort}.json"
            base = {"t": self.time_filter} if self.sort in ("top", "controversial") else {}
        after = None
        for _ in range(self.max_pages):
            params = {**base, "limit": 100, "raw_json": 1}
            if after:
                params["after"] = after
            page = api.get_json(url, params)
            if not isinstance(page, dict) or not isinstance(page.get("data"), dict):
                raise SourceError(
                    f"reddit r/{sub}: not a listing (expected {{'kind': 'Listing', 'data': …}})"
                )
            for child in page["data"].get("children") or []:
                if (
                    isinstance(child, dict)
                    and child.get("kind") == "t3"
                    and isinstance(child.get("data"), dict)
                ):
                    yield child["data"]
            after = page["data"].get("after")
            if not after:
                return


def post_images(
    post: dict[str, Any], media_base: str = "https://i.redd.it", include_nsfw: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """(URL, meta) of each still image of one post (t3 `data`); [] for text, video, NSFW, removed."""
    if post.get("over_18") and not include_nsfw:
        return []
    meta = {
        "reddit_id": post.get("name") or post.get("id"),
        "subreddit": post.get("subreddit"),
        "title": post.get("title"),
        "author": post.get("author"),
        "permalink": f"https://www.reddit.com{post['permalink']}" if post.get("permalink") else None,
    }
    meta = {k: v for k, v in meta.items() if v is not None}
    media = post
    parents = post.get("crosspost_parent_list")
    if parents and isinstance(parents[0], dict):
        media = parents[0]
    if media.get("is_video") or post.get("removed_by_category"):
        return []
    if media.get("is_gallery"):
        out = []
        metadata = media.get("media_metadata") or {}
        items = (media.get("gallery_data") or {}).get("items") or []
        for i, entry in enumerate(items):
            mid = entry.get("media_id")
            md = metadata.get(mid) or {}
            ext = MIME_EXT.get(str(md.get("m", "")).lower())
            if md.get("status") != "valid" or md.get("e") != "Image" or ext is None:
                continue
            m = dict(meta, gallery_index=i)
            if entry.get("caption"):
                m["caption"] = entry["caption"]
            out.append((f"{media_base}/{mid}.{ext}", m))
        return out
    url = html.unescape(str(media.get("url_overridden_by_dest") or media.get("url") or ""))
    path = urlsplit(url).path.lower()
    if url and (media.get("post_hint") == "image" or path.endswith(IMAGE_SUFFIXES)):
        return [(url, meta)]
    return []
