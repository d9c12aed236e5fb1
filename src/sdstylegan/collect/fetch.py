"""Fetch one URL into memory: http/https only, capped size, deadline, every failure named.

The body is streamed so that the size cap holds even when the server lies about (or omits)
Content-Length. `total_timeout` is a wall-clock deadline for the whole request — connect, redirects,
headers, body — enforced by `deadline.Deadline`, which shuts the socket down when time is up, so a
server that drips bytes forever costs at most total_timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ReadTimeoutError

from sdstylegan.collect.deadline import Deadline
from sdstylegan.collect.outcomes import (
    BAD_SCHEME,
    BAD_URL,
    CONNECTION_ERROR,
    REDIRECT_LOOP,
    REQUEST_ERROR,
    TIMEOUT,
    TOO_LARGE,
    TRUNCATED,
    Outcome,
    http_status_reason,
)
from sdstylegan.collect.transport import TransportConfig, parse_retry_after

ALLOWED_SCHEMES = ("http", "https")
CHUNK = 1 << 16


def check_url(url: str) -> Outcome | None:
    """None when `url` may be fetched; otherwise the outcome that ends it without a request."""
    try:
        parts = urlsplit(url.strip())
    except ValueError as e:
        return Outcome(BAD_URL, f"unparsable URL: {e}")
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return Outcome(BAD_SCHEME, f"scheme {parts.scheme or '(none)'!r} is not http/https")
    if not parts.hostname:
        return Outcome(BAD_URL, "URL has no host")
    return None


def host_key(url: str) -> str:
    """The unit of per-host politeness: lower-cased host[:port]."""
    try:
        return urlsplit(url.strip()).netloc.lower() or "?"
    except ValueError:
        return "?"


@dataclass
class Fetched:
    """A complete body and how it came (HTTP status, final URL after redirects, redirect count)."""

    data: bytes
    info: dict[str, Any]


def fetch_bytes(
    session: requests.Session,
    url: str,
    cfg: TransportConfig,
    max_bytes: int,
) -> Fetched | Outcome:
    """GET `url` (following ≤ cfg.max_redirects redirects); the body, or the Outcome saying why not."""
    bad = check_url(url)
    if bad is not None:
        return bad
    with Deadline(float(cfg.total_timeout)) as deadline:
        try:
            return _get(session, url, cfg, max_bytes, deadline)
        except Exception as e:
            # the deadline shut the socket down: whatever the client raised then is a timeout
            if deadline.expired:
                return _late(cfg)
            return _outcome_of(e, cfg)


def _late(cfg: TransportConfig, info: dict[str, Any] | None = None) -> Outcome:
    return Outcome(
        TIMEOUT, f"download not finished within total_timeout {cfg.total_timeout} s", info=info or {}
    )


def _get(
    session: requests.Session, url: str, cfg: TransportConfig, max_bytes: int, deadline: Deadline
) -> Fetched | Outcome:
    # The read timeout never exceeds the total: a single silent read cannot outlast the deadline either.
    read_timeout = min(float(cfg.read_timeout), float(cfg.total_timeout))
    with session.get(
        url.strip(), stream=True, allow_redirects=True, timeout=(float(cfg.connect_timeout), read_timeout)
    ) as r:
        deadline.add(getattr(getattr(r.raw, "connection", None), "sock", None))  # a pool of another kind
        info = {"http_status": r.status_code, "final_url": r.url, "redirects": len(r.history)}
        if r.status_code != 200:
            reason = http_status_reason(r.status_code)
            retry_after = (
                parse_retry_after(r.headers.get("Retry-After")) if r.status_code in (429, 503) else None
            )
            return Outcome(
                reason, f"HTTP {r.status_code} {r.reason or ''}".strip(), retry_after=retry_after, info=info
            )
        length = r.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            return Outcome(TOO_LARGE, f"Content-Length {length} > max_bytes {max_bytes}", info=info)
        chunks, size = [], 0
        for chunk in r.iter_content(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                return Outcome(TOO_LARGE, f"body longer than max_bytes {max_bytes}", info=info)
            if deadline.expired:
                return _late(cfg, info)
            chunks.append(chunk)
        if deadline.expired:  # the socket was shut down between reads: what arrived may be cut short
            return _late(cfg, info)
        return Fetched(b"".join(chunks), info)


def _outcome_of(e: Exception, cfg: TransportConfig) -> Outcome:
    """The outcome for an exception of the HTTP client (not a deadline); anything else is re-raised."""
    if isinstance(e, requests.TooManyRedirects):
        return Outcome(REDIRECT_LOOP, f"more than {cfg.max_redirects} redirects ({e})")
    if isinstance(e, requests.exceptions.InvalidSchema):
        return Outcome(BAD_SCHEME, f"redirected to a scheme other than http/https ({e})")
    if isinstance(e, (requests.exceptions.MissingSchema, requests.exceptions.InvalidURL)):
        return Outcome(BAD_URL, str(e))
    if isinstance(e, requests.Timeout):
        return Outcome(TIMEOUT, f"{type(e).__name__}: no answer within the connect/read timeout")
    if isinstance(e, requests.exceptions.ChunkedEncodingError):
        # urllib3 enforces Content-Length: a body cut short surfaces here.
        return Outcome(TRUNCATED, f"body ended early ({e})")
    if isinstance(e, requests.exceptions.ContentDecodingError):
        return Outcome(TRUNCATED, f"content-encoding broken ({e})")
    if isinstance(e, requests.ConnectionError):
        if e.args and isinstance(e.args[0], ReadTimeoutError):  # requests wraps body read timeouts this way
            return Outcome(
                TIMEOUT, f"no bytes within read_timeout {cfg.read_timeout} s while reading the body"
            )
        return Outcome(CONNECTION_ERROR, f"{type(e).__name__}: {e}")
    if isinstance(e, requests.RequestException):
        return Outcome(REQUEST_ERROR, f"{type(e).__name__}: {e}")
    raise e
