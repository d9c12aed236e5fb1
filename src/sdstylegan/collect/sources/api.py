"""JSON listing calls for Reddit, Wikimedia Commons and Flickr: polite, retried, clearly failing.

Calls are spaced by `min_interval` seconds (Reddit asks unauthenticated clients for about one call
per few seconds; Wikimedia asks for serial calls), and 429/5xx answers are retried honouring
Retry-After. Error messages name the endpoint but never the query string (it may hold an API key).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from sdstylegan.collect.transport import TransportConfig, new_session, parse_retry_after

T = TypeVar("T")


def check_max_items(source: str, max_items: int) -> int:
    """`max_items` as an int >= 0 (0 lists nothing), or a ValueError naming the source."""
    n = int(max_items)
    if n < 0:
        raise ValueError(f"{source}: max_items={max_items} must be >= 0 (0 lists nothing)")
    return n


def capped(listing: Iterable[T], max_items: int) -> Iterator[T]:
    """The first `max_items` of a lazy listing; pages past the cap (all pages for 0) are never asked for."""
    return itertools.islice(listing, max_items)


class SourceError(RuntimeError):
    """A listing API could not be read (after retries) or answered with an error."""


class ApiClient:
    """GET JSON with a user agent, spacing between calls and retries."""

    def __init__(self, cfg: TransportConfig, min_interval: float = 1.0, sleep: Any = time.sleep):
        self.cfg = cfg
        self.min_interval = float(min_interval)
        self.session = new_session(cfg)
        self.session.headers["Accept"] = "application/json"
        self._sleep = sleep
        self._last = float("-inf")
        self.calls = 0

    def get_json(self, url: str, params: dict[str, Any] | None = None) -> Any:
        """The decoded JSON body of `url?params`; SourceError when it cannot be had."""
        where = _endpoint(url)
        attempt = 0
        while True:
            wait = self._last + self.min_interval - time.monotonic()
            if wait > 0:
                self._sleep(wait)
            self._last = time.monotonic()
            self.calls += 1
            attempt += 1
            delay = float(self.cfg.backoff) * 2 ** (attempt - 1)
            try:
                r = self.session.get(
                    url,
                    params=params,
                    allow_redirects=True,
                    timeout=(float(self.cfg.connect_timeout), float(self.cfg.read_timeout)),
                )
            except requests.RequestException as e:
                if attempt > int(self.cfg.retries):
                    raise SourceError(f"{where}: {type(e).__name__} after {attempt} attempts") from None
                self._sleep(delay)
                continue
            if r.status_code == 429 or r.status_code >= 500:
                retry_after = parse_retry_after(r.headers.get("Retry-After"))
                if attempt > int(self.cfg.retries) or (retry_after or 0) > float(self.cfg.max_retry_after):
                    raise SourceError(f"{where}: HTTP {r.status_code} after {attempt} attempts")
                self._sleep(retry_after if retry_after is not None else delay)
                continue
            if r.status_code != 200:
                raise SourceError(f"{where}: HTTP {r.status_code} {r.reason or ''}".strip())
            try:
                return r.json()
            except ValueError:
                raise SourceError(
                    f"{where}: answer is not JSON (Content-Type {r.headers.get('Content-Type')!r})"
                ) from None

    def close(self) -> None:
        self.session.close()


def _endpoint(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}{p.path}"
