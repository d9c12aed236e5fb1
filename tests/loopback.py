"""A scripted HTTP server on 127.0.0.1 for the collect tests and benchmark (no internet needed).

Each path answers as its `Route` says — an image, an error with headers, a redirect, a slow or cut
body — and every request is counted, so tests can assert what was fetched and how often.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Route:
    """How one path answers."""

    body: bytes = b""
    status: int = 200
    content_type: str = "image/jpeg"
    headers: dict[str, str] = field(default_factory=dict)
    redirect_to: str | None = None  # answer 302 with this Location
    delay: float = 0.0  # seconds before the status line
    drip: float = 0.0  # seconds between 1 KiB chunks of the body
    truncate_to: int | None = None  # send only this many bytes, then close (Content-Length stays full)
    fail_times: int = 0  # the first N requests answer `fail_status` + `fail_headers` instead
    fail_status: int = 503
    fail_headers: dict[str, str] = field(default_factory=dict)


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up early (timeouts, size caps) are expected here: no tracebacks on stderr."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


RouteFn = Callable[[str, dict[str, list[str]]], Route | None]


class LoopbackServer:
    """`with LoopbackServer(routes) as srv: srv.url("/a.jpg")`; `srv.hits[path]` counts requests."""

    def __init__(self, routes: dict[str, Route] | None = None, fallback: RouteFn | None = None):
        self.routes: dict[str, Route] = dict(routes or {})
        self.fallback = fallback
        self.hits: Counter = Counter()
        self.log: list[tuple[float, str]] = []  # (monotonic time, path) of every request
        self.active = 0  # requests being answered now
        self.peak_active = 0  # the most answered at once
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like real servers
            # TCP_NODELAY, as real servers set: otherwise the body segment after the headers waits for the
            # client's delayed ACK (~40 ms per response on a kept-alive connection).
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                with server.lock:
                    server.hits[parts.path] += 1
                    server.log.append((time.monotonic(), parts.path))
                    n = server.hits[parts.path]
                    server.active += 1
                    server.peak_active = max(server.peak_active, server.active)
                try:
                    route = server.routes.get(parts.path)
                    if route is None and server.fallback is not None:
                        route = server.fallback(parts.path, parse_qs(parts.query))
                    if route is None:
                        route = Route(b"not found", status=404, content_type="text/plain")
                    server._answer(self, route, n)
                finally:
                    with server.lock:
                        server.active -= 1

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 128
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, route: Route, n: int) -> None:
        if route.delay:
            time.sleep(route.delay)
        if n <= route.fail_times:
            body = b"try again later"
            h.send_response(route.fail_status)
            for k, v in route.fail_headers.items():
                h.send_header(k, v)
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        if route.redirect_to is not None:
            h.send_response(302)
            h.send_header("Location", route.redirect_to)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        h.send_response(route.status)
        for k, v in route.headers.items():
            h.send_header(k, v)
        h.send_header("Content-Type", route.content_type)
        h.send_header("Content-Length", str(len(route.body)))
        h.end_headers()
        body = route.body if route.truncate_to is None else route.body[: route.truncate_to]
        try:
            if route.drip:
                for i in range(0, len(body), 1024):
                    h.wfile.write(body[i : i + 1024])
                    h.wfile.flush()
                    time.sleep(route.drip)
            else:
                h.wfile.write(body)
            if route.truncate_to is not None:
                h.wfile.flush()
                h.close_connection = True
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout, size cap)
            h.close_connection = True

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
