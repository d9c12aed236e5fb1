"""Concurrent, polite downloader: bounded concurrency overall and per host, retries with backoff.

A scheduler in the calling thread hands work to a thread pool only when the host has a free slot
(`per_host`) and is not paused; 429/503 with Retry-After pause the whole host for that long, other
retryable failures (timeouts, 5xx, cut bodies) back off exponentially for that URL alone. Workers
fetch, decode (Pillow, decompression-bomb limit) and store; the outcome of each URL is handed back
to the caller's thread, which is therefore the only writer of the journal.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdstylegan.collect.fetch import check_url, fetch_bytes, host_key
from sdstylegan.collect.items import CollectItem
from sdstylegan.collect.outcomes import INTERNAL_ERROR, LOCAL_READ_ERROR, TOO_LARGE, Outcome
from sdstylegan.collect.store import ContentStore, resize_longer_side, sniff_extension
from sdstylegan.collect.transport import ThreadSessions, TransportConfig, known_keys
from sdstylegan.data.images import DEFAULT_MAX_PIXELS, ImageProblem, load_image_bytes


@dataclass
class ContentPolicy:
    """What is kept (config `collect.content`; part of the stage fingerprint)."""

    max_bytes: int = 25_000_000  # larger bodies → too_large, without reading them whole
    min_size: int = 64  # shorter side below this → too_small
    max_pixels: int = DEFAULT_MAX_PIXELS  # decompression-bomb limit → too_large
    resize_longer_side: int | None = None  # shrink on the way in (Lanczos); None keeps the bytes as sent

    @classmethod
    def from_config(cls, node: Any) -> ContentPolicy:
        p = cls(**known_keys(cls, node, "collect.content"))
        if int(p.max_bytes) < 1 or int(p.min_size) < 1 or int(p.max_pixels) < 1:
            raise ValueError("collect.content.max_bytes, min_size and max_pixels must be ≥ 1")
        if p.resize_longer_side is not None and int(p.resize_longer_side) < int(p.min_size):
            raise ValueError(
                f"collect.content.resize_longer_side={p.resize_longer_side} is below min_size={p.min_size}"
            )
        return p


@dataclass
class Task:
    """One item in the scheduler, with its retry state."""

    index: int
    item: CollectItem
    attempt: int = 0
    first_failure: str | None = None
    host: str = field(default="")


def read_local(local: dict[str, Any], max_bytes: int) -> bytes | Outcome:
    """Bytes of an img2dataset file, or of a tar member at (offset, size)."""
    try:
        size = local.get("size")
        if size is not None and int(size) > max_bytes:
            return Outcome(TOO_LARGE, f"{size} bytes > max_bytes {max_bytes}")
        with open(local["path"], "rb") as f:
            if "offset" in local:
                f.seek(int(local["offset"]))
                return f.read(int(size))
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            return Outcome(TOO_LARGE, f"file longer than max_bytes {max_bytes}")
        return data
    except (OSError, KeyError, ValueError) as e:
        return Outcome(LOCAL_READ_ERROR, f"{type(e).__name__}: {e}")


def process_item(
    item: CollectItem, sessions: ThreadSessions, policy: ContentPolicy, store: ContentStore
) -> Outcome:
    """Fetch (or read) one item, validate it as an image, store it by content hash."""
    if item.local is not None:
        got = read_local(item.local, int(policy.max_bytes))
        info: dict[str, Any] = {}
    else:
        fetched = fetch_bytes(sessions.get(), item.url, sessions.cfg, int(policy.max_bytes))
        if isinstance(fetched, Outcome):
            return fetched
        got, info = fetched.data, fetched.info
    if isinstance(got, Outcome):
        return got
    info["bytes"] = len(got)
    res = load_image_bytes(got, min_size=int(policy.min_size), max_pixels=int(policy.max_pixels))
    if isinstance(res, ImageProblem):
        # The body arrived whole (fetch_bytes returns only complete bodies): fetching it again gives the same
        # bytes, so a `truncated` file here is not retried like a connection cut short.
        return Outcome(res.reason, res.detail, sha256=res.sha256, info=info, final=True)
    if res.orientation != 1:  # released boxes are moved with the EXIF rotation (collect.stage._record)
        info["exif_orientation"] = res.orientation
    ext = sniff_extension(got)
    data, size, source_size = got, list(res.orig_size), None
    if policy.resize_longer_side:
        small = resize_longer_side(res.image, int(policy.resize_longer_side), ext)
        if small is not None:
            data, ext, new_size = small
            source_size, size = size, list(new_size)
            info["stored_bytes"] = len(data)
    if item.local is not None and "offset" not in item.local and source_size is None:
        # an img2dataset file kept as is: referenced where it lies (absolute path), not copied
        rel = str(Path(item.local["path"]).resolve())
    else:
        rel = store.put(res.sha256, ext, data)
    return Outcome(
        "ok", "", sha256=res.sha256, orig_path=rel, orig_size=size, source_size=source_size, info=info
    )


@dataclass
class _Host:
    queue: deque = field(default_factory=deque)
    in_flight: int = 0
    not_before: float = 0.0


def download(
    tasks: Iterable[Task],
    sessions: ThreadSessions,
    policy: ContentPolicy,
    store: ContentStore,
    on_result: Callable[[Task, Outcome], None],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Run every task to a final outcome; `on_result` is called once per task, in this thread."""
    cfg = sessions.cfg
    hosts: dict[str, _Host] = {}
    active: dict[str, _Host] = {}  # hosts with queued tasks, so a list of many hosts stays cheap to scan
    for t in tasks:
        bad = None if t.item.local is not None else check_url(t.item.url)
        if bad is not None:  # ends without a request
            on_result(t, bad)
            continue
        t.host = "local" if t.item.local is not None else host_key(t.item.url)
        hosts.setdefault(t.host, _Host()).queue.append(t)
        active[t.host] = hosts[t.host]
    delayed: list[tuple[float, int, Task]] = []  # (ready time, tie-breaker, task) for per-URL backoff
    seq = itertools.count()
    finished: queue.SimpleQueue = queue.SimpleQueue()  # (task, future) as workers finish
    running = [0]
    workers = int(cfg.workers)

    def start(t: Task) -> None:
        fut = pool.submit(process_item, t.item, sessions, policy, store)
        fut.add_done_callback(lambda f, t=t: finished.put((t, f)))
        running[0] += 1

    with ThreadPoolExecutor(workers, thread_name_prefix="collect") as pool:
        try:
            while True:
                now = time.monotonic()
                while delayed and delayed[0][0] <= now:
                    _, _, t = heapq.heappop(delayed)
                    hosts[t.host].queue.appendleft(t)
                    active[t.host] = hosts[t.host]
                _submit_ready(active, running[0], workers, cfg, now, start)
                if not running[0] and not delayed and not active:
                    break
                # Next moment something may start: a backoff ending or a paused host resuming.
                wake = [d[0] for d in delayed[:1]] + [
                    h.not_before for h in active.values() if h.not_before > now
                ]
                timeout = max(0.0, min(wake) - now) if wake else None
                if not running[0]:
                    sleep(min(timeout if timeout is not None else 0.05, 1.0))
                    continue
                try:
                    done = [finished.get(timeout=timeout)]
                except queue.Empty:
                    continue
                while True:  # take everything else that is ready in one go
                    try:
                        done.append(finished.get_nowait())
                    except queue.Empty:
                        break
                for t, fut in done:
                    running[0] -= 1
                    hosts[t.host].in_flight -= 1
                    try:
                        out = fut.result()
                    except Exception as e:
                        # a bug or an exotic decoder error: this URL fails, the run goes on
                        out = Outcome(INTERNAL_ERROR, f"{type(e).__name__}: {e}")
                    _handle(t, out, hosts, active, delayed, seq, cfg, on_result)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _submit_ready(
    active: dict[str, _Host],
    running: int,
    workers: int,
    cfg: TransportConfig,
    now: float,
    start: Callable[[Task], None],
) -> None:
    """Start tasks round-robin over hosts while global and per-host slots are free."""
    progress = True
    while progress and running < workers:
        progress = False
        for key, h in list(active.items()):
            if running >= workers:
                return
            if h.in_flight < cfg.per_host and h.not_before <= now:
                t = h.queue.popleft()
                if not h.queue:
                    del active[key]
                t.attempt += 1
                h.in_flight += 1
                running += 1
                if cfg.host_interval > 0:
                    h.not_before = now + float(cfg.host_interval)
                start(t)
                progress = True


def _handle(
    t: Task,
    out: Outcome,
    hosts: dict[str, _Host],
    active: dict[str, _Host],
    delayed: list,
    seq: Any,
    cfg: TransportConfig,
    on_result: Callable[[Task, Outcome], None],
) -> None:
    """Final outcome → callback; retryable failure with attempts left → back in the queue later."""
    out.info["attempts"] = t.attempt
    if out.retryable and t.attempt <= int(cfg.retries):
        if out.retry_after is not None:
            if out.retry_after > float(cfg.max_retry_after):
                out.detail += (
                    f"; Retry-After {out.retry_after:.0f} s > max_retry_after {cfg.max_retry_after} s"
                )
                on_result(t, out)
                return
            # The server asked the host to slow down: pause every URL of this host.
            host = hosts[t.host]
            host.not_before = max(host.not_before, time.monotonic() + out.retry_after)
            host.queue.appendleft(t)
            active[t.host] = host
        else:
            delay = float(cfg.backoff) * 2 ** (t.attempt - 1)
            heapq.heappush(delayed, (time.monotonic() + delay, next(seq), t))
        t.first_failure = t.first_failure or f"{out.status}: {out.detail}"
        return
    if t.first_failure and t.attempt > 1:
        out.info["first_failure"] = t.first_failure
    on_result(t, out)
