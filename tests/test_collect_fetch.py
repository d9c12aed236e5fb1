"""URL checks and single fetches against 127.0.0.1 (the full outcome catalog is in test_collect_downloader)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from loopback import LoopbackServer, Route

from sdstylegan.collect.fetch import Fetched, check_url, fetch_bytes, host_key
from sdstylegan.collect.outcomes import Outcome
from sdstylegan.collect.transport import TransportConfig, new_session


def test_check_url_and_host_key():
    assert check_url("https://a.b/c.jpg") is None and check_url(" http://a.b/c.jpg ") is None
    assert check_url("ftp://a.b/c.jpg").status == "bad_scheme"
    assert check_url("javascript:alert(1)").status == "bad_scheme"
    assert check_url("a.b/c.jpg").status == "bad_scheme"
    assert check_url("http:///c.jpg").status == "bad_url"
    assert check_url("http://[::1/x").status == "bad_url"
    assert host_key("https://Upload.Wikimedia.org:443/x") == "upload.wikimedia.org:443"


def test_fetch_bytes_body_info_and_cap():
    body = bytes(range(256)) * 40
    routes = {"/b": Route(body), "/r": Route(redirect_to="/b"), "/gone": Route(b"", status=410)}
    with LoopbackServer(routes) as srv:
        cfg = TransportConfig(read_timeout=2)
        s = new_session(cfg)
        got = fetch_bytes(s, srv.url("/r"), cfg, max_bytes=len(body))
        assert isinstance(got, Fetched) and got.data == body
        assert got.info == {"http_status": 200, "final_url": srv.url("/b"), "redirects": 1}
        capped = fetch_bytes(s, srv.url("/b"), cfg, max_bytes=len(body) - 1)
        assert isinstance(capped, Outcome) and capped.status == "too_large"
        gone = fetch_bytes(s, srv.url("/gone"), cfg, max_bytes=10)
        assert gone.status == "http_410" and not gone.retryable
    refused = fetch_bytes(s, srv.url("/b"), cfg, max_bytes=10)  # server stopped: nothing listens
    assert refused.status == "connection_error" and refused.retryable


class DripServer:
    """A raw HTTP server on 127.0.0.1 that sends one byte every `interval` s, in the headers or the body,
    for at most `limit` s (it stops by itself); `length` adds a Content-Length header."""

    def __init__(
        self, where: str = "body", length: int | None = None, interval: float = 0.2, limit: float = 30.0
    ):
        self.where, self.length, self.interval, self.limit = where, length, interval, limit
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/drip.jpg"
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self.sock.settimeout(self.limit)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        end = time.monotonic() + self.limit
        head = "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n"
        if self.length is not None:
            head += f"Content-Length: {self.length}\r\n"
        try:
            conn.recv(65536)
            if self.where == "headers":
                for ch in (head + "X-Slow: " + "a" * 10_000).encode():
                    conn.sendall(bytes([ch]))
                    time.sleep(self.interval)
                    if time.monotonic() > end:
                        break
            else:
                conn.sendall((head + "\r\n").encode())
                while time.monotonic() < end:
                    conn.sendall(b"\xff")
                    time.sleep(self.interval)
        except OSError:  # the client hung up: what the tests want
            pass
        finally:
            conn.close()

    def __enter__(self) -> DripServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


@pytest.mark.parametrize("where,length", [("body", None), ("body", 10**6), ("body", 5000), ("headers", None)])
def test_total_timeout_is_a_wall_clock_deadline(where, length):
    # Each byte arrives well within read_timeout, so only a real deadline can stop these: a body that drips
    # forever (with or without Content-Length), one that drips below the size cap, headers that drip.
    cfg = TransportConfig(read_timeout=5, total_timeout=1.5)
    with DripServer(where, length) as srv:
        t0 = time.monotonic()
        got = fetch_bytes(new_session(cfg), srv.url, cfg, max_bytes=10**7)
        took = time.monotonic() - t0
    assert isinstance(got, Outcome) and got.status == "timeout" and "total_timeout" in got.detail
    assert took < 1.5 + 1.0, took


def test_total_timeout_covers_a_chain_of_slow_redirects():
    # every hop answers within read_timeout, but five hops and the image take 3 s: the deadline holds across
    # redirects (new connections or kept-alive ones), not only from the first body byte on.
    routes = {f"/r{i}": Route(redirect_to=f"/r{i + 1}", delay=0.5) for i in range(5)}
    routes["/r5"] = Route(bytes(100), delay=0.5)
    cfg = TransportConfig(read_timeout=5, total_timeout=1.5)
    with LoopbackServer(routes) as srv:
        t0 = time.monotonic()
        got = fetch_bytes(new_session(cfg), srv.url("/r0"), cfg, max_bytes=10**6)
        took = time.monotonic() - t0
    assert isinstance(got, Outcome) and got.status == "timeout", got
    assert took < 1.5 + 0.6, took
