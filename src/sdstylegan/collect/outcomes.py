"""Outcome of one input URL: `ok` or the reason it was not kept, as written to the manifest's `status`.

Reasons from image validation (`not_image`, `truncated`, `too_small`, `too_large`, `empty`,
`unreadable`) come from `sdstylegan.data.images`; the transport reasons are defined here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sdstylegan.data.images import EMPTY, NOT_IMAGE, TOO_LARGE, TOO_SMALL, TRUNCATED, UNREADABLE
from sdstylegan.data.manifest import DUPLICATE, OK

DUPLICATE_URL = "duplicate_url"  # the same URL listed twice in the input
BAD_SCHEME = "bad_scheme"  # not http/https (also a redirect to another scheme)
BAD_URL = "bad_url"  # unparsable, no host
TIMEOUT = "timeout"  # connect/read timeout or the whole download past its deadline
CONNECTION_ERROR = "connection_error"
REDIRECT_LOOP = "redirect_loop"  # more redirects than transport.max_redirects
HTTP_5XX = "http_5xx"  # server errors, after retries
REQUEST_ERROR = "request_error"  # anything else the HTTP client reports
LOCAL_READ_ERROR = "local_read_error"  # img2dataset files that cannot be read
INTERNAL_ERROR = "internal_error"  # an unexpected exception while handling one URL (detail has it)

# Failures worth another try (with backoff) inside one run.
RETRYABLE = frozenset({TIMEOUT, CONNECTION_ERROR, HTTP_5XX, "http_429", "http_408", TRUNCATED})

__all__ = [
    "OK",
    "DUPLICATE",
    "DUPLICATE_URL",
    "BAD_SCHEME",
    "BAD_URL",
    "TIMEOUT",
    "CONNECTION_ERROR",
    "REDIRECT_LOOP",
    "HTTP_5XX",
    "REQUEST_ERROR",
    "LOCAL_READ_ERROR",
    "INTERNAL_ERROR",
    "RETRYABLE",
    "EMPTY",
    "NOT_IMAGE",
    "TOO_LARGE",
    "TOO_SMALL",
    "TRUNCATED",
    "UNREADABLE",
    "Outcome",
    "http_status_reason",
]


def http_status_reason(code: int) -> str:
    """`http_404`, `http_429`, … for client errors; all server errors share `http_5xx` (code in the detail)."""
    return HTTP_5XX if 500 <= code <= 599 else f"http_{code}"


@dataclass
class Outcome:
    """What happened to one URL (one attempt, or the final word once retries are spent)."""

    status: str
    detail: str = ""
    sha256: str | None = None
    orig_path: str | None = None  # relative to the manifest's folder; absolute for img2dataset files
    orig_size: list[int] | None = None  # [w, h] of the stored file, after EXIF orientation
    source_size: list[int] | None = None  # [w, h] before an optional resize on the way in
    retry_after: float | None = None  # seconds asked for by the server (Retry-After)
    info: dict[str, Any] = field(default_factory=dict)  # http status, final URL, bytes, attempts
    final: bool = False  # the answer of the file itself (a complete body that does not decode): never retried

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE and not self.final
