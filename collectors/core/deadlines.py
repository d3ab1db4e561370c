"""Client-side deadlines on every round trip to a monitored server or to the store.

statement_timeout is enforced by the server. A server that is frozen (SIGSTOP, a paused VM, a
host whose kernel still acknowledges TCP while PostgreSQL is stuck) enforces nothing, and TCP
keepalives see nothing wrong either, because the kernel answers them. So the client keeps a
clock of its own. `answer_within(conn, seconds)` arms one shared watchdog thread; if the
deadline passes first, the watchdog shuts the connection's socket down, the blocked libpq call
returns at once ("server closed the connection"), and the caller gets `NoAnswer`: "no answer
from the server in N s". Connecting is bounded by libpq's connect_timeout, which psycopg
enforces over the whole startup exchange (`connect_within`); the TCP settings in `tcp_kwargs`
let the kernel drop connections whose peer vanished from the network.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg.conninfo

from collectors.core.errors import NoAnswer

# How much longer than the server's own statement_timeout the client waits: on a live server
# the server's limit always fires first, with its own error; ours only when it cannot.
DEADLINE_GRACE_SECONDS = 1.0
# libpq (and psycopg after it) treats a connect_timeout below 2 s as 2 s.
LIBPQ_MIN_CONNECT_TIMEOUT = 2
TCP_USER_TIMEOUT_MS = 10_000


def deadline_seconds(server_timeout_ms: int) -> float:
    """The client-side deadline of a round trip that the server bounds by `server_timeout_ms`."""
    return server_timeout_ms / 1000 + DEADLINE_GRACE_SECONDS


def effective_connect_timeout(seconds: int) -> int:
    return max(int(seconds), LIBPQ_MIN_CONNECT_TIMEOUT)


def tcp_kwargs(connect_timeout_seconds: int) -> dict[str, Any]:
    """libpq TCP settings: keepalives on an idle connection, and a limit on how long sent data
    may stay unacknowledged, so a peer that left the network is noticed by the kernel."""
    return {"connect_timeout": effective_connect_timeout(connect_timeout_seconds),
            "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": max(TCP_USER_TIMEOUT_MS, 1000 * connect_timeout_seconds)}


@dataclass(eq=False)
class Alarm:
    """One armed deadline. `fired` is set (under the watchdog's lock) when it abandoned the
    connection: the connection is then unusable, whatever the call it guarded returned."""

    due: float
    fd: int
    fired: bool = False
    done: bool = field(default=False, repr=False)


class Watchdog:
    """One daemon thread that shuts down the sockets of round trips past their deadline.

    Shutting the socket down, rather than closing the connection, is what makes this safe from
    another thread: the file descriptor stays valid until its owner closes the connection,
    and the owner disarms before it does (arming and firing share one lock)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Alarm]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, seconds: float) -> Alarm:
        alarm = Alarm(due=time.monotonic() + seconds, fd=fd)
        with self._cond:
            heapq.heappush(self._heap, (alarm.due, next(self._order), alarm))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="kasho-ops-deadlines",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
        return alarm

    def disarm(self, alarm: Alarm) -> None:
        with self._cond:
            alarm.done = True  # removed from the heap lazily, when it reaches the top

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                due, _, alarm = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                alarm.fired = True
                alarm.done = True
                _shut_down(alarm.fd)


def _shut_down(fd: int) -> None:
    with suppress(OSError):
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()  # closes the duplicate only


WATCHDOG = Watchdog()


@contextmanager
def answer_within(conn: psycopg.Connection[Any], seconds: float,
                  phase: str = "") -> Iterator[Alarm]:
    """Run the block's round trips on `conn` under a deadline of `seconds` in all.

    Raises NoAnswer if the deadline abandoned the connection. The yielded alarm tells the
    caller whether it fired anyway (a race at the very end): such a connection must not be
    reused."""
    alarm = WATCHDOG.arm(conn.pgconn.socket, seconds)
    try:
        yield alarm
    except psycopg.Error:
        WATCHDOG.disarm(alarm)
        if alarm.fired:
            raise NoAnswer(seconds, phase) from None
        raise
    finally:
        WATCHDOG.disarm(alarm)


def connect_within(conninfo: str = "", *, autocommit: bool = False,
                   connection_class: type[psycopg.Connection[Any]] = psycopg.Connection,
                   **params: Any) -> psycopg.Connection[Any]:
    """psycopg.connect with a required connect_timeout, whose expiry is reported as NoAnswer.

    The timeout covers the whole startup exchange (TCP, TLS, authentication), so a listener
    that accepts and never answers costs connect_timeout, not a held thread."""
    timeout = params.get("connect_timeout") or psycopg.conninfo.conninfo_to_dict(
        conninfo).get("connect_timeout")
    if timeout is None:
        raise ValueError("connect_within needs a connect_timeout")
    seconds = effective_connect_timeout(int(timeout))
    try:
        return connection_class.connect(conninfo, autocommit=autocommit, **params)
    except psycopg.errors.ConnectionTimeout:
        raise NoAnswer(seconds, "connecting") from None
