"""Fetch one URL into memory: http/https only, capped size, deadline, every failure named.

The body is streamed so that a size cap and a total deadline hold even when the server lies
about (or omits) Content-Length or drips bytes slowly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ReadTimeoutError

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
    deadline = time.monotonic() + float(cfg.total_timeout)
    try:
        with session.get(url.strip(), stream=True, allow_redirects=True,
                         timeout=(float(cfg.connect_timeout), float(cfg.read_timeout))) as r:
            info = {"http_status": r.status_code, "final_url": r.url, "redirects": len(r.history)}
            if r.status_code != 200:
                reason = http_status_reason(r.status_code)
                retry_after = parse_retry_after(r.headers.get("Retry-After")) if r.status_code in (429, 503) else None
                return Outcome(reason, f"HTTP {r.status_code} {r.reason or ''}".strip(), retry_after=retry_after, info=info)
            length = r.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                return Outcome(TOO_LARGE, f"Content-Length {length} > max_bytes {max_bytes}", info=info)
            chunks, size = [], 0
            for chunk in r.iter_content(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    return Outcome(TOO_LARGE, f"body longer than max_bytes {max_bytes}", info=info)
                if time.monotonic() > deadline:
                    return Outcome(TIMEOUT, f"download not finished within total_timeout {cfg.total_timeout} s", info=info)
                chunks.append(chunk)
            return Fetched(b"".join(chunks), info)
    except requests.TooManyRedirects as e:
        return Outcome(REDIRECT_LOOP, f"more than {cfg.max_redirects} redirects ({e})")
    except requests.exceptions.InvalidSchema as e:
        return Outcome(BAD_SCHEME, f"redirected to a scheme other than http/https ({e})")
    except (requests.exceptions.MissingSchema, requests.exceptions.InvalidURL) as e:
        return Outcome(BAD_URL, str(e))
    except requests.Timeout as e:
        return Outcome(TIMEOUT, f"{type(e).__name__}: no answer within the connect/read timeout")
    except requests.exceptions.ChunkedEncodingError as e:
        # urllib3 enforces Content-Length: a body cut short surfaces here.
        return Outcome(TRUNCATED, f"body ended early ({e})")
    except requests.exceptions.ContentDecodingError as e:
        return Outcome(TRUNCATED, f"content-encoding broken ({e})")
    except requests.ConnectionError as e:
        if e.args and isinstance(e.args[0], ReadTimeoutError):  # requests wraps body read timeouts this way
            return Outcome(TIMEOUT, f"no bytes within read_timeout {cfg.read_timeout} s while reading the body")
        return Outcome(CONNECTION_ERROR, f"{type(e).__name__}: {e}")
    except requests.RequestException as e:
        return Outcome(REQUEST_ERROR, f"{type(e).__name__}: {e}")
