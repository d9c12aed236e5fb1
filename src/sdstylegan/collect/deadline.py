"""A wall-clock deadline for one HTTP request, whatever the server does.

Socket timeouts bound each `recv`, not a download: a server that sends one byte every few seconds —
in the headers or the body, with or without Content-Length — passes every read timeout and holds a
worker forever, and a check between body chunks only runs when a whole chunk has arrived. Here the
connections of a session record their socket for the thread using them; `Deadline` arms a timer that
shuts those sockets down when the time is up, which wakes a blocked read at once, and the fetch then
reports a timeout. Sessions built by `transport.new_session` use these connection classes.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()  # .deadline: the Deadline of the fetch running in this thread


def _record(sock: Any) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.add(sock)


class _Recording:
    """Mixin: remember the socket a request of this thread uses (new or kept-alive connection)."""

    def connect(self) -> None:
        super().connect()
        _record(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _record(self.sock)
        super().request(*args, **kwargs)
        _record(self.sock)


class DeadlineHTTPConnection(_Recording, HTTPConnection):
    pass


class DeadlineHTTPSConnection(_Recording, HTTPSConnection):
    pass


class DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = DeadlineHTTPConnection


class DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = DeadlineHTTPSConnection


POOL_CLASSES = {"http": DeadlineHTTPConnectionPool, "https": DeadlineHTTPSConnectionPool}


class Deadline:
    """`with Deadline(seconds) as d: ...fetch...`; afterwards `d.expired` says whether time ran out."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.expired = False
        self.ended = False  # the request finished: a timer that fires now must leave its sockets alone
        self.sockets: list[Any] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True

    def add(self, sock: Any) -> None:
        """Watch `sock`; shut it down at once if the time is already up."""
        with self._lock:
            if sock is not None and sock not in self.sockets:
                self.sockets.append(sock)
            late = self.expired
        if late:
            self._shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            if self.ended:  # cancel() cannot stop a timer already past its wait: the sockets are pooled again
                return
            self.expired = True
            sockets = list(self.sockets)
        for s in sockets:
            self._shutdown(s)

    @staticmethod
    def _shutdown(sock: Any) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes a recv blocked in the fetching thread
        except OSError:
            pass  # already closed

    def __enter__(self) -> Deadline:
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            self.ended = True
            self.sockets.clear()
        _current.deadline = None
