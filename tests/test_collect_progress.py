"""Progress line and summary table: the numbers shown are the numbers counted."""

from __future__ import annotations

import io
from collections import Counter

from sdstylegan.collect.progress import Progress, summary_table


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_counts_and_rate():
    stream = Tty()
    with Progress(10, Counter({"ok": 2, "http_404": 1}), stream=stream) as p:
        for s in ["ok", "ok", "duplicate", "timeout"]:
            p.update(s)
        line = p.line()
    assert "7/10" in line and "ok 4" in line and "dup 1" in line and "failed 2" in line and "img/s" in line
    assert p.new_ok == 2 and p.rate() > 0
    assert stream.getvalue().startswith("\rcollect") and stream.getvalue().endswith("\n")


def test_disabled_progress_writes_nothing():
    stream = Tty()
    with Progress(3, stream=stream, enabled=False) as p:
        p.update("ok")
    assert stream.getvalue() == "" and p.done == 1


def test_summary_table():
    text = summary_table(Counter({"http_404": 1, "ok": 6, "timeout": 3}), seconds=2.0, new_ok=6)
    lines = text.splitlines()
    assert lines[2].split() == ["ok", "6", "60.0%"] and lines[3].split() == ["timeout", "3", "30.0%"]
    assert lines[-2].split() == ["total", "10", "100.0%"] and "3.0 img/s" in lines[-1]


def test_eta_unknown_before_any_progress():
    with Progress(5, stream=Tty(), enabled=False) as p:
        assert p.line().endswith("eta ?")
