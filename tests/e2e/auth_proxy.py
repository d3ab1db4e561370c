"""An authenticating reverse proxy for the proxy-mode tests, the part of oauth2-proxy that
matters to the dashboard: it listens on loopback, connects to the dashboard from a source
address of its own (127.0.0.2 and the like: every 127.x address is loopback on Linux), drops
identity headers a client sent, sets the signed-in user's (and groups) headers and
X-Forwarded-For, and passes WebSocket upgrades through.

Plain HTTP requests are forwarded one per connection (`Connection: close`), so every request
passes through the header rewriting; an upgraded connection is piped both ways.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from tests.pg import free_port

STRIPPED = {"x-forwarded-email", "x-forwarded-groups", "x-forwarded-user",
            "x-forwarded-for", "connection", "proxy-connection"}


@dataclass(frozen=True)
class SignedInUser:
    email: str
    groups: tuple[str, ...] = ()


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _pipe(source: socket.socket, target: socket.socket) -> None:
    with suppress(OSError):
        while chunk := source.recv(65536):
            target.sendall(chunk)
    with suppress(OSError):
        target.shutdown(socket.SHUT_WR)


class AuthProxy:
    def __init__(self, upstream_port: int, source_address: str, user: SignedInUser) -> None:
        self.upstream_port = upstream_port
        self.source_address = source_address
        self.user = user
        self.port = free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                client, address = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client, address[0]),
                             daemon=True).start()

    def _handle(self, client: socket.socket, client_address: str) -> None:
        with client:
            head, rest = _read_head(client)
            if not head:
                return
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            headers = [line for line in header_lines
                       if line.split(":", 1)[0].strip().lower() not in STRIPPED]
            upgrade = any(line.lower().startswith("upgrade:") for line in header_lines)
            headers += [f"X-Forwarded-Email: {self.user.email}",
                        f"X-Forwarded-For: {client_address}",
                        "Connection: Upgrade" if upgrade else "Connection: close"]
            if self.user.groups:
                headers.append(f"X-Forwarded-Groups: {','.join(self.user.groups)}")
            forwarded = "\r\n".join([request_line, *headers]).encode("latin-1") + b"\r\n\r\n"
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port),
                                                    timeout=30,
                                                    source_address=(self.source_address, 0))
            except OSError:
                return
            with upstream:
                upstream.settimeout(None)
                client.settimeout(None)
                upstream.sendall(forwarded + rest)
                back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
                back.start()
                _pipe(client, upstream)
                back.join(timeout=30)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()
        self.thread.join(timeout=5)


@contextmanager
def auth_proxy(upstream_port: int, source_address: str, user: SignedInUser) -> Iterator[AuthProxy]:
    """A running AuthProxy in front of the dashboard on `upstream_port`."""
    proxy = AuthProxy(upstream_port, source_address, user)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
