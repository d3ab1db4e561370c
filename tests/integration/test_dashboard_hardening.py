"""Streamlit's hardening, read back from a running server started by `kasho-ops dashboard`
(issue 11 §2): what each setting does is checked from the outside, the way a browser or an
attacker's page meets it, and the process's own command line is read for the settings that
only show on a failure (error details).

Each check was seen to fail with the setting flipped (plain `streamlit run` with XSRF and
CORS protection off and static serving on answers 400, `Access-Control-Allow-Origin: *` and
the SVG)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.NewSession_pb2 import Config as SessionConfig
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from collectors.dashboard_server import HARDENING, LOOPBACK_HOSTS
from tests.e2e.conftest import running_dashboard
from tests.integration.collector_setup import write_config_file
from tests.pg import free_port
from tests.shown import shown

EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A dashboard in mode none (loopback) whose store is down: hardening does not need one.
    Yields its base URL and the pid of the Streamlit process."""
    directory = tmp_path_factory.mktemp("hardening")
    unreachable = f"host=127.0.0.1 port={free_port()} dbname=x user=y connect_timeout=2"
    config = write_config_file(directory / "kasho-ops.toml", unreachable,
                               {"kasho-primary": unreachable})
    with running_dashboard(config, directory / "dashboard.log") as url:
        yield url, pid_listening_on(int(url.rsplit(":", 1)[1]))


def pid_listening_on(port: int) -> int:
    """The pid of the process whose command line names this port (the exec'd Streamlit)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(argv) and str(port).encode() in argv:
            return int(proc.name)
    raise AssertionError(f"no streamlit process on port {port}")


def get(url: str, headers: dict[str, str] | None = None,
        method: str = "GET") -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def websocket_status(port: int, host: str, origin: str | None) -> int:
    """The status a WebSocket handshake to /_stcore/stream gets with these headers (101 is
    accepted), sent byte for byte so the Host header is exactly the one given."""
    request = ("GET /_stcore/stream HTTP/1.1\r\n"
               f"Host: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               + (f"Origin: {origin}\r\n" if origin else "") + "\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        status_line = sock.recv(1024).split(b"\r\n", 1)[0].decode()
    return int(status_line.split()[1])


def test_xsrf_protection_is_on(dashboard: tuple[str, int]) -> None:
    url, _ = dashboard
    status, headers, _ = get(f"{url}/_stcore/health")
    assert status == 200
    assert any(c.startswith("_streamlit_xsrf=") for c in headers.get_all("set-cookie") or [])
    # A state-changing request without the token the page holds: refused (400 without XSRF).
    status, _, _ = get(f"{url}/_stcore/upload_file/session/file", method="PUT")
    assert status == 403


def test_cross_origin_reads_and_websockets_are_refused(dashboard: tuple[str, int]) -> None:
    url, _ = dashboard
    port = int(url.rsplit(":", 1)[1])
    status, headers, _ = get(f"{url}/_stcore/health", {"Origin": EVIL})
    assert status == 200 and headers.get("Access-Control-Allow-Origin") is None
    assert websocket_status(port, f"127.0.0.1:{port}", EVIL) == 403
    assert websocket_status(port, f"127.0.0.1:{port}", f"http://127.0.0.1:{port}") == 101


def test_static_files_are_not_served(dashboard: tuple[str, int]) -> None:
    url, _ = dashboard
    assert (Path(__file__).parents[2] / "dashboard" / "static" / "logo.svg").exists()
    _, headers, body = get(f"{url}/app/static/logo.svg")
    # The app's page answers every unknown path; the file itself never comes back.
    assert headers.get("Content-Type", "").startswith("text/html")
    assert b"<svg" not in body


def test_mode_none_answers_only_to_loopback_host_names(dashboard: tuple[str, int]) -> None:
    url, _ = dashboard
    port = int(url.rsplit(":", 1)[1])
    for host in ("evil.example", "192.0.2.7", "kasho-ops.internal"):  # DNS rebinding
        assert websocket_status(port, f"{host}:{port}", None) == 403, host
    for host in ("127.0.0.1", "localhost", "[::1]"):
        assert websocket_status(port, f"{host}:{port}", None) == 101, host
    assert set(LOOPBACK_HOSTS) == {"localhost", "127.0.0.1", "::1"}


def test_the_agent_api_is_off(dashboard: tuple[str, int]) -> None:
    url, _ = dashboard
    _, _, description = get(f"{url}/_stcore/agent/openapi.json")
    assert b"the API is switched off" in description
    status, _, _ = get(f"{url}/_stcore/agent/interact", {"Content-Type": "application/json"},
                       method="POST")
    assert status == 403


def test_session_settings_the_browser_receives(dashboard: tuple[str, int]) -> None:
    url, _ = dashboard
    config = new_session_config(url)
    assert config.toolbar_mode == SessionConfig.ToolbarMode.VIEWER
    assert not config.allow_run_on_save
    assert not config.gather_usage_stats
    assert config.show_error_links == SessionConfig.ShowErrorLinks.SHOW_ERROR_LINKS_FALSE


def new_session_config(url: str) -> Any:
    """The NewSession config the server sends a browser that opens the app."""
    with connect(url.replace("http://", "ws://") + "/_stcore/stream", open_timeout=10,
                 origin=url) as ws:
        request = BackMsg()
        request.rerun_script.query_string = ""
        ws.send(request.SerializeToString())
        for _ in range(50):
            message = ForwardMsg()
            message.ParseFromString(ws.recv(timeout=30))
            if message.WhichOneof("type") == "new_session":
                return message.new_session.config
    raise AssertionError("the server sent no new_session")


def test_error_details_and_every_setting_are_in_force(dashboard: tuple[str, int]) -> None:
    """Error details only show on a failure, so the running process's own arguments are read
    (command-line options override every config file and environment variable)."""
    _, pid = dashboard
    argv = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    given = {argv[i][2:]: argv[i + 1] for i in range(len(argv) - 1)
             if argv[i].startswith("--") and not argv[i + 1].startswith("--")}
    for option, value in HARDENING.items():
        assert given.get(option) == value, option
    assert given["client.showErrorDetails"] == "none"
    assert HARDENING["server.enableXsrfProtection"] == "true"


def test_a_websocket_from_another_site_gets_no_session(dashboard: tuple[str, int]) -> None:
    url, _ = dashboard
    with pytest.raises(InvalidStatus) as refused:
        connect(url.replace("http://", "ws://") + "/_stcore/stream", open_timeout=10,
                origin=EVIL)
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_a_failing_page_shows_its_details_to_admins_only(
        role: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """app.py catches what a page raises: admins see the exception, everyone else one line
    (Streamlit's own display of errors outside pages is off: client.showErrorDetails)."""
    from streamlit.testing.v1 import AppTest

    from dashboard.core import freshness
    from dashboard.core import store as dashboard_store

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom: host=db.internal password=hunter2")

    # The Overview's first call, before any store read (the store here is unreachable).
    monkeypatch.setattr(freshness, "effective_intervals", broken)
    # The On call page at the root reads the unreachable store first: a shorter wait for a
    # pooled session gives its error line sooner.
    monkeypatch.setattr(dashboard_store, "CONNECT_TIMEOUT_SECONDS", 1)
    unreachable = f"host=127.0.0.1 port={free_port()} dbname=x user=y connect_timeout=2"
    config = write_config_file(tmp_path / "kasho-ops.toml", unreachable,
                               {"kasho-primary": unreachable},
                               f'\n[auth]\nnone_role = "{role}"\n')
    monkeypatch.setenv("KASHO_OPS_CONFIG", str(config))
    at = AppTest.from_file(Path(__file__).parents[2] / "dashboard" / "app.py",
                           default_timeout=60)
    at.query_params["target"] = "kasho-primary"
    at.run()
    at.switch_page("features/overview/page.py").run()
    if role == "admin":
        assert [shown(e.value) for e in at.error] == [
            "This page failed: RuntimeError: boom: host=db.internal password=***"]
        (trace,) = [c.value for c in at.code]
        assert "Traceback" in trace and "in broken" in trace and "hunter2" not in trace
    else:
        assert not at.exception
        assert [e.value for e in at.error] == [
            "This page failed to draw; the details are in the dashboard's log (and shown to "
            "admins)."]
        assert not at.code
    assert "page overview failed" in caplog.text and "in broken" in caplog.text
    assert "hunter2" not in caplog.text
