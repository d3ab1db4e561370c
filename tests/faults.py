"""Faults for resilience tests, all on loopback: a frozen cluster and a listener that never answers.

`frozen(cluster)` stops the postmaster and every backend with SIGSTOP (the server then accepts
TCP in the kernel and answers nothing, and cannot enforce statement_timeout) and always sends
SIGCONT on the way out. `GatedProxy` is a TCP listener in front of a real server: open, it
forwards; closed, it accepts connections and never answers them (a blackhole), so a test can
take a target down and bring it back without restarting anything.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from demo.cluster import LocalCluster


def server_pids(cluster: LocalCluster) -> list[int]:
    """The postmaster and all its children (backends, auxiliary processes)."""
    postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True,
                              text=True, check=False).stdout.split()
    return [postmaster, *map(int, children)]


@contextmanager
def frozen(cluster: LocalCluster) -> Iterator[list[int]]:
    """The whole server stopped (SIGSTOP) for the block, resumed (SIGCONT) afterwards."""
    pids = server_pids(cluster)
    stopped: list[int] = []
    try:
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
        yield pids
    finally:
        # Also the children forked since (a backend for a connection accepted before the stop
        # cannot be forked by a stopped postmaster, but be sure).
        for pid in set(stopped) | set(_still_there(pids)):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def _still_there(pids: list[int]) -> list[int]:
    return [pid for pid in pids if os.path.exists(f"/proc/{pid}")]


class GatedProxy:
    """127.0.0.1:<port> in front of 127.0.0.1:<upstream_port>; `open` decides what it does
    with each new connection: forward it, or hold it and never answer (a blackhole)."""

    def __init__(self, upstream_port: int | None = None) -> None:
        self.upstream_port = upstream_port
        self.open = upstream_port is not None
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.accepted = 0
        self._start(self._accept_loop)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            ready, _, _ = select.select([self._listener], [], [], 0.2)
            if not ready:
                continue
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            if not self.open or self.upstream_port is None:
                self._held.append(client)  # read nothing, answer nothing
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            self._start(self._pipe, client, upstream)

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        pair = {client: upstream, upstream: client}
        try:
            while not self._stopping.is_set():
                ready, _, _ = select.select(list(pair), [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self._stopping.set()
        self._listener.close()
        for sock in self._held:
            sock.close()
        for thread in self._threads:
            thread.join(2)
