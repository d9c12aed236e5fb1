"""HTTP settings and sessions shared by the downloader and the listing APIs.

`requests` (blocking, one session per worker thread) is the client: bounded concurrency comes
from the downloader's scheduler, not from the client. Settings here change how things are fetched,
not what is kept, so they are left out of the stage fingerprint: a run can resume with more workers.
"""

from __future__ import annotations

import email.utils
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

import sdstylegan
from sdstylegan.collect.deadline import POOL_CLASSES

DEFAULT_USER_AGENT = (
    f"sdstylegan/{sdstylegan.__version__} (research image collection for Self-Distilled StyleGAN; "
    "python-requests)"
)


def known_keys(cls: type, node: Any, where: str) -> dict[str, Any]:
    """`node` as a plain dict, refusing keys that are not fields of the dataclass `cls` (config `where`)."""
    d = dict(node or {})
    unknown = set(d) - set(cls.__dataclass_fields__)
    if unknown:
        raise ValueError(
            f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}"
        )
    return d


@dataclass
class TransportConfig:
    """How URLs are fetched (config `collect.transport`)."""

    workers: int = 32  # downloads in flight, all hosts together
    per_host: int = 4  # downloads in flight per host (politeness)
    host_interval: float = 0.0  # minimum seconds between two request starts on one host
    connect_timeout: float = 10.0  # seconds to connect
    read_timeout: float = 20.0  # seconds of silence while reading
    total_timeout: float = 60.0  # seconds for a whole download (slow-drip bodies)
    retries: int = 3  # extra attempts for timeouts, connection errors, 408, 429, 5xx
    backoff: float = 1.0  # first retry delay (s), doubled each attempt when no Retry-After
    max_retry_after: float = 300.0  # a longer Retry-After ends the URL as http_429 instead of waiting
    max_redirects: int = 5  # more → redirect_loop
    user_agent: str = DEFAULT_USER_AGENT
    progress: bool = True  # progress line on stderr (a log line every 10 s when not a terminal)
    retry_on_resume: tuple[str, ...] = ()  # statuses fetched again when a killed run resumes

    @classmethod
    def from_config(cls, node: Any) -> TransportConfig:
        d = known_keys(cls, node, "collect.transport")
        if d.get("user_agent") is None:  # the config's null: DEFAULT_USER_AGENT, which follows the version
            d.pop("user_agent", None)
        if "retry_on_resume" in d:
            d["retry_on_resume"] = tuple(d["retry_on_resume"] or ())
        cfg = cls(**d)
        for name in ("workers", "per_host", "max_redirects"):
            if int(getattr(cfg, name)) < 1:
                raise ValueError(f"collect.transport.{name} must be ≥ 1, got {getattr(cfg, name)}")
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if float(getattr(cfg, name)) <= 0:
                raise ValueError(f"collect.transport.{name} must be > 0 seconds, got {getattr(cfg, name)}")
        if int(cfg.retries) < 0 or float(cfg.backoff) < 0 or float(cfg.host_interval) < 0:
            raise ValueError("collect.transport.retries, backoff and host_interval must be ≥ 0")
        return cfg


def new_session(cfg: TransportConfig, retry: Retry | int = 0) -> requests.Session:
    """A session with our user agent, a redirect cap, and `retry` (default none: the download scheduler
    retries; listing APIs pass a urllib3 `Retry`)."""
    s = requests.Session()
    s.headers["User-Agent"] = cfg.user_agent
    s.headers["Accept"] = "image/webp,image/png,image/jpeg,image/*;q=0.8,*/*;q=0.5"  # formats Pillow decodes
    s.max_redirects = int(cfg.max_redirects)
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=max(4, int(cfg.per_host)), max_retries=retry)
    # connections that report their sockets, so `deadline.Deadline` can end a download on time
    adapter.poolmanager.pool_classes_by_scheme = dict(POOL_CLASSES)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


class ThreadSessions:
    """One `requests.Session` per thread (a Session is not documented as thread-safe)."""

    def __init__(self, cfg: TransportConfig):
        self.cfg = cfg
        self._local = threading.local()
        self._all: list[requests.Session] = []
        self._lock = threading.Lock()

    def get(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = new_session(self.cfg)
            self._local.session = s
            with self._lock:
                self._all.append(s)
        return s

    def close(self) -> None:
        with self._lock:
            for s in self._all:
                s.close()
            self._all.clear()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
