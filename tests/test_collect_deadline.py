"""Deadline: a socket blocked in recv is woken when the time is up; sessions' connections report their sockets."""

from __future__ import annotations

import socket
import time

from sdstylegan.collect.deadline import Deadline, DeadlineHTTPConnectionPool
from sdstylegan.collect.transport import TransportConfig, new_session


def test_blocked_recv_is_woken_at_the_deadline():
    a, b = socket.socketpair()
    try:
        t0 = time.monotonic()
        with Deadline(0.3) as d:
            d.add(a)
            got = a.recv(10)  # nothing is ever sent: would block forever without the deadline
        assert got == b"" and d.expired and time.monotonic() - t0 < 2.0
    finally:
        a.close()
        b.close()


def test_no_effect_when_the_work_ends_in_time():
    a, b = socket.socketpair()
    try:
        with Deadline(0.5) as d:
            d.add(a)
            b.sendall(b"hi")
            assert a.recv(10) == b"hi"
        time.sleep(0.7)  # the timer was cancelled on exit: the socket still works
        b.sendall(b"again")
        assert a.recv(10) == b"again" and not d.expired
    finally:
        a.close()
        b.close()


def test_sessions_use_the_recording_pools():
    s = new_session(TransportConfig())
    assert s.get_adapter("http://x/").poolmanager.pool_classes_by_scheme["http"] is DeadlineHTTPConnectionPool


def test_a_late_socket_is_shut_at_once():
    a, b = socket.socketpair()
    try:
        with Deadline(0.05) as d:
            time.sleep(0.2)
            d.add(a)  # added after expiry
            assert a.recv(10) == b""
    finally:
        a.close()
        b.close()


def test_a_timer_firing_after_the_request_ended_leaves_its_sockets_alone():
    # at the very edge of the deadline the timer thread can be past its wait when the fetch ends: cancel()
    # cannot stop it, and the kept-alive socket, back in the pool, must not be shut under the next request
    a, b = socket.socketpair()
    try:
        with Deadline(10) as d:
            d.add(a)
        d._expire()  # what the late timer thread runs
        b.sendall(b"x")
        assert a.recv(10) == b"x" and not d.expired
    finally:
        a.close()
        b.close()
