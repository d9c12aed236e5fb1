"""Transport settings: Retry-After parsing (seconds and HTTP dates), config validation, sessions."""

from __future__ import annotations

import email.utils
import threading

import pytest

from sdstylegan.collect.transport import ThreadSessions, TransportConfig, new_session, parse_retry_after


def test_parse_retry_after():
    assert parse_retry_after("120") == 120.0 and parse_retry_after(" 0 ") == 0.0
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30.0, abs=1.0)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


def test_from_config_validates():
    cfg = TransportConfig.from_config({"workers": 3, "retry_on_resume": ["timeout"]})
    assert cfg.workers == 3 and cfg.retry_on_resume == ("timeout",)
    with pytest.raises(ValueError, match="unknown key"):
        TransportConfig.from_config({"worker": 3})
    with pytest.raises(ValueError, match="per_host must be ≥ 1"):
        TransportConfig.from_config({"per_host": 0})
    with pytest.raises(ValueError, match="read_timeout"):
        TransportConfig.from_config({"read_timeout": 0})


def test_sessions_per_thread_with_user_agent():
    cfg = TransportConfig(user_agent="sdstylegan-test/1", max_redirects=2)
    s = new_session(cfg)
    assert s.headers["User-Agent"] == "sdstylegan-test/1" and s.max_redirects == 2
    pool = ThreadSessions(cfg)
    mine = pool.get()
    other = []
    t = threading.Thread(target=lambda: other.append(pool.get()))
    t.start()
    t.join()
    assert pool.get() is mine and other[0] is not mine
    pool.close()
