"""The loopback test server itself: counts requests, fails first N times, cuts bodies as told."""

from __future__ import annotations

import http.client

import requests
from loopback import LoopbackServer, Route


def test_fail_times_and_counts():
    with LoopbackServer(
        {"/x": Route(b"img", fail_times=2, fail_status=503, fail_headers={"Retry-After": "7"})}
    ) as srv:
        r1, r2, r3 = (requests.get(srv.url("/x"), timeout=2) for _ in range(3))
        assert (r1.status_code, r1.headers["Retry-After"], r3.status_code, r3.content) == (
            503,
            "7",
            200,
            b"img",
        )
        assert srv.hits["/x"] == 3 and requests.get(srv.url("/nope"), timeout=2).status_code == 404


def test_truncated_body_closes_early():
    with LoopbackServer({"/t": Route(b"0123456789", truncate_to=4)}) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.httpd.server_address[1], timeout=2)
        conn.request("GET", "/t")
        resp = conn.getresponse()
        assert resp.getheader("Content-Length") == "10"
        try:
            data = resp.read()
        except http.client.IncompleteRead as e:
            data = e.partial
        assert data == b"0123"
