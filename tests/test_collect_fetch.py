"""URL checks and single fetches against 127.0.0.1 (the full outcome catalog is in test_collect_downloader)."""

from __future__ import annotations

from sdstylegan.collect.fetch import Fetched, check_url, fetch_bytes, host_key
from sdstylegan.collect.loopback import LoopbackServer, Route
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
