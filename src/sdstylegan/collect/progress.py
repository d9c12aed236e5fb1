"""Feedback while collecting: a one-line progress bar (images/s, failures) and a summary table."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import TextIO

from sdstylegan.collect.outcomes import DUPLICATE, DUPLICATE_URL, OK
from sdstylegan.utils.logging import get_logger

log = get_logger(__name__)


class Progress:
    """`collect  1200/2000  60%  ok 1100  dup 20  failed 80  312.4 img/s  eta 3 s`.

    Redrawn in place on a terminal (at most 10×/s); elsewhere logged every `log_every` seconds.
    """

    def __init__(
        self,
        total: int,
        done: Counter | None = None,
        stream: TextIO | None = None,
        enabled: bool = True,
        log_every: float = 10.0,
    ):
        self.total = total
        self.counts: Counter = Counter(done or {})
        self.start_done = sum(self.counts.values())
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.log_every = log_every
        self.t0 = time.monotonic()
        self._last = 0.0
        self._start_ok = self.counts[OK]

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def rate(self) -> float:
        """Images kept per second in this run (resumed work not counted)."""
        dt = time.monotonic() - self.t0
        return self.new_ok / dt if dt > 0 else 0.0

    @property
    def new_ok(self) -> int:
        return self.counts[OK] - self._start_ok

    def __enter__(self) -> Progress:
        self._start_ok = self.counts[OK]
        self.t0 = time.monotonic()
        return self

    def update(self, status: str) -> None:
        self.counts[status] += 1
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= (0.1 if self.tty else self.log_every):
            self._last = now
            self._draw()

    def line(self) -> str:
        ok, dup = self.counts[OK], self.counts[DUPLICATE] + self.counts[DUPLICATE_URL]
        failed = self.done - ok - dup
        pct = 100.0 * self.done / self.total if self.total else 100.0
        rate = self.rate()
        items_rate = (self.done - self.start_done) / max(time.monotonic() - self.t0, 1e-9)
        eta = f"{(self.total - self.done) / items_rate:.0f} s" if items_rate > 0 else "?"
        return (
            f"collect {self.done:>7}/{self.total}  {pct:5.1f}%  ok {ok}  dup {dup}  failed {failed}  "
            f"{rate:7.1f} img/s  eta {eta}"
        )

    def _draw(self) -> None:
        if self.tty:
            self.stream.write("\r" + self.line())
            self.stream.flush()
        else:
            log.info(self.line())

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._draw()
            if self.tty:
                self.stream.write("\n")
                self.stream.flush()


def summary_table(
    counts: Counter | dict[str, int], seconds: float | None = None, new_ok: int | None = None
) -> str:
    """Plain-text table: one row per outcome (most frequent first), share of all URLs, and the total."""
    total = sum(counts.values())
    rows = sorted(counts.items(), key=lambda kv: (kv[0] != OK, -kv[1], kv[0]))
    width = max([len("outcome"), *(len(k) for k in counts)])
    lines = [f"{'outcome':<{width}}  {'urls':>8}  {'share':>6}", f"{'-' * width}  {'-' * 8}  {'-' * 6}"]
    for k, v in rows:
        lines.append(f"{k:<{width}}  {v:>8}  {100.0 * v / max(total, 1):5.1f}%")
    lines.append(f"{'-' * width}  {'-' * 8}  {'-' * 6}")
    lines.append(f"{'total':<{width}}  {total:>8}  100.0%")
    if seconds is not None and new_ok is not None:
        lines.append(
            f"{new_ok} images downloaded in {seconds:.1f} s ({new_ok / max(seconds, 1e-9):.1f} img/s)"
        )
    return "\n".join(lines)
