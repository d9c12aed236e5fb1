"""JSON listing calls for Reddit, Wikimedia Commons and Flickr: polite, retried, clearly failing.

Calls are spaced by `min_interval` seconds (Reddit asks unauthenticated clients for about one call
per few seconds; Wikimedia asks for serial calls); connection errors and 429/5xx answers are retried by
urllib3's `Retry` honouring Retry-After (a longer wait than `max_retry_after` fails the call). Error messages name the endpoint but never the query string (it may hold an API key).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from urllib3.util.retry import Retry

from sdstylegan.collect.transport import TransportConfig, new_session

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


class ListingRetry(Retry):
    """urllib3's `Retry` with the project's backoff (first retry after `backoff_factor` s, then doubling, as
    the downloader does) and a cap: a Retry-After above `max_wait` s ends the call instead of waiting."""

    max_wait: float = 300.0

    def new(self, **kw: Any) -> ListingRetry:
        retry = super().new(**kw)
        retry.max_wait = self.max_wait
        return retry

    def get_backoff_time(self) -> float:
        n = len(self.history)
        return 0.0 if n == 0 else float(self.backoff_factor) * 2 ** (n - 1)

    def sleep_for_retry(self, response: Any) -> bool:
        wait = self.get_retry_after(response)
        if wait is not None and wait > self.max_wait:
            raise _RetryAfterTooLong(response.status, wait, len(self.history))  # history holds this answer
        return super().sleep_for_retry(response)


class _RetryAfterTooLong(Exception):
    def __init__(self, status: int, wait: float, attempts: int):
        super().__init__(status, wait, attempts)
        self.status, self.wait, self.attempts = status, wait, attempts


class ApiClient:
    """GET JSON with a user agent, spacing between calls, and urllib3 retries of errors, 429 and 5xx."""

    def __init__(self, cfg: TransportConfig, min_interval: float = 1.0, sleep: Any = time.sleep):
        self.cfg = cfg
        self.min_interval = float(min_interval)
        retry = ListingRetry(
            total=int(cfg.retries),
            backoff_factor=float(cfg.backoff),
            status_forcelist=[429, *range(500, 600)],
            allowed_methods=["GET"],
            raise_on_status=False,  # the last answer comes back, and its status names the failure
            respect_retry_after_header=True,
        )
        retry.max_wait = float(cfg.max_retry_after)
        self.session = new_session(cfg, retry=retry)
        self.session.headers["Accept"] = "application/json"
        self._sleep = sleep
        self._last = float("-inf")
        self.calls = 0  # HTTP requests made, retries included

    def get_json(self, url: str, params: dict[str, Any] | None = None) -> Any:
        """The decoded JSON body of `url?params`; SourceError when it cannot be had."""
        where = _endpoint(url)
        wait = self._last + self.min_interval - time.monotonic()
        if wait > 0:
            self._sleep(wait)
        self._last = time.monotonic()
        try:
            r = self.session.get(
                url,
                params=params,
                allow_redirects=True,
                timeout=(float(self.cfg.connect_timeout), float(self.cfg.read_timeout)),
            )
        except _RetryAfterTooLong as e:
            self.calls += e.attempts
            raise SourceError(
                f"{where}: HTTP {e.status} asks to wait {e.wait:.0f} s (more than "
                f"collect.transport.max_retry_after) after {e.attempts} attempts"
            ) from None
        except requests.RequestException as e:
            self.calls += int(self.cfg.retries) + 1
            raise SourceError(
                f"{where}: {type(e).__name__} after {int(self.cfg.retries) + 1} attempts"
            ) from None
        retries = getattr(r.raw, "retries", None)
        attempts = len(retries.history) + 1 if retries is not None else 1
        self.calls += attempts
        if r.status_code == 429 or r.status_code >= 500:
            raise SourceError(f"{where}: HTTP {r.status_code} after {attempts} attempts")
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
