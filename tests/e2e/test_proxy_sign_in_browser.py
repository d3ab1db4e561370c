"""Proxy mode for real (issue 11 §1): a real `kasho-ops dashboard` in `[auth] mode = "proxy"`
trusting 127.0.0.2 only, an authenticating reverse proxy started here on loopback that
connects from 127.0.0.2 and sets the user header, and Chromium on both paths: through the
proxy the user is signed in with the role [auth.roles] gives; straight to the dashboard
with the same headers (and a forged X-Forwarded-For) nobody is; a proxy at an address the
config does not trust is refused too. Every outcome is in kasho_ops.sign_ins, once per
browser sign-in however often the page is reloaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from demo.cluster import LocalCluster
from tests.e2e.auth_proxy import SignedInUser, auth_proxy
from tests.e2e.conftest import running_dashboard
from tests.e2e.sign_in import navigation_text
from tests.integration.collector_setup import monitor_dsn, write_config_file
from tests.pg import create_database, drop_database

pytestmark = [pytest.mark.e2e, pytest.mark.single_major]
TRUSTED_PROXY = "127.0.0.2"
UNTRUSTED_PROXY = "127.0.0.3"
PROXY_CONFIG = f"""
[auth]
mode = "proxy"

[auth.roles]
admin = ["group:kasho-dba"]
operator = ["otto@kasho.example"]
viewer = ["vera@kasho.example"]

[auth.proxy]
trusted_addresses = ["{TRUSTED_PROXY}"]
"""
OTTO = SignedInUser("otto@kasho.example")
ADA = SignedInUser("ada@kasho.example", ("staff", "kasho-dba"))


@pytest.fixture(scope="module")
def store(pg_cluster: LocalCluster) -> Iterator[str]:
    from collectors.migrate import MigrationRunner

    name = create_database(pg_cluster.dsn(), "store")
    dsn = pg_cluster.dsn(name)
    MigrationRunner(dsn, "monitoring").up()
    yield dsn
    drop_database(pg_cluster.dsn(), name)


@pytest.fixture(scope="module")
def dashboard(store: str, pg_cluster: LocalCluster,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    directory = tmp_path_factory.mktemp("proxy")
    config = write_config_file(directory / "kasho-ops.toml", store,
                               {"kasho-primary": monitor_dsn(pg_cluster)}, PROXY_CONFIG)
    with running_dashboard(config, directory / "dashboard.log") as url:
        yield url, int(url.rsplit(":", 1)[1])


def sign_ins(store: str, identity: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(store) as conn:
        return conn.execute("SELECT role, mode, peer_address, outcome FROM kasho_ops.sign_ins "
                            "WHERE identity = %s ORDER BY id", [identity]).fetchall()


def identity_shown(page: Any, text: str) -> None:
    page.locator("[data-testid=stSidebar]").get_by_text(text, exact=True).wait_for(
        timeout=60_000)


def test_through_the_trusted_proxy_each_user_gets_their_role(
        chromium_page: Any, dashboard: tuple[str, int], store: str) -> None:
    _, port = dashboard
    page = chromium_page
    with auth_proxy(port, TRUSTED_PROXY, OTTO) as proxy:
        page.goto(f"{proxy.url}/overview")
        identity_shown(page, "otto@kasho.example · operator")
        page.get_by_role("heading", name="Overview").wait_for(timeout=60_000)
        nav = navigation_text(page)
        assert "Audit" not in nav and "Overview" in nav
        for _ in range(2):  # reloads are new Streamlit sessions, not new sign-ins
            page.reload()
            identity_shown(page, "otto@kasho.example · operator")
    with auth_proxy(port, TRUSTED_PROXY, ADA) as proxy:  # the role from the groups header
        page.goto(f"{proxy.url}/audit")
        identity_shown(page, "ada@kasho.example · admin")
        page.get_by_role("heading", name="Audit").wait_for(timeout=60_000)
    assert sign_ins(store, OTTO.email) == [("operator", "proxy", TRUSTED_PROXY, "signed_in")]
    assert sign_ins(store, ADA.email) == [("admin", "proxy", TRUSTED_PROXY, "signed_in")]


def test_straight_to_the_dashboard_the_same_headers_are_refused(
        chromium_page: Any, dashboard: tuple[str, int], store: str) -> None:
    url, _ = dashboard
    page = chromium_page
    forged = "mallory-as-ada@kasho.example"
    page.set_extra_http_headers({"X-Forwarded-Email": forged,
                                 "X-Forwarded-Groups": "kasho-dba",
                                 "X-Forwarded-For": TRUSTED_PROXY})
    for path in ("overview", "audit", "activity"):
        page.goto(f"{url}/{path}")
        page.get_by_text("No access: this connection comes from 127.0.0.1, not from a "
                         "trusted proxy").wait_for(timeout=60_000)
        assert page.locator("[data-testid=stSidebarNav]").count() == 0
        assert page.get_by_role("heading", name="Overview").count() == 0
        assert page.get_by_role("heading", name="Audit").count() == 0
    # The header reached the app (the refusal names who was claimed) from the real peer.
    assert sign_ins(store, forged) == [(None, "proxy", "127.0.0.1", "denied")]


def test_a_proxy_the_config_does_not_trust_is_refused(
        chromium_page: Any, dashboard: tuple[str, int], store: str) -> None:
    _, port = dashboard
    vera = SignedInUser("vera@kasho.example")
    with auth_proxy(port, UNTRUSTED_PROXY, vera) as proxy:
        chromium_page.goto(f"{proxy.url}/overview")
        chromium_page.get_by_text(f"No access: this connection comes from {UNTRUSTED_PROXY}, "
                                  "not from a trusted proxy").wait_for(timeout=60_000)
        assert chromium_page.locator("[data-testid=stSidebarNav]").count() == 0
    assert sign_ins(store, vera.email) == [(None, "proxy", UNTRUSTED_PROXY, "denied")]


def test_the_proxy_helper_sets_only_its_own_identity(tmp_path: Path) -> None:
    """The helper drops a client's identity headers (as oauth2-proxy does), so the first
    test's identity can only have come from the proxy."""
    import socket
    import threading

    received: list[bytes] = []
    upstream = socket.create_server(("127.0.0.1", 0))
    port = upstream.getsockname()[1]

    def answer() -> None:
        connection, _ = upstream.accept()
        with connection:
            received.append(connection.recv(65536))
            connection.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")

    server = threading.Thread(target=answer, daemon=True)
    server.start()
    with auth_proxy(port, TRUSTED_PROXY, OTTO) as proxy, \
            socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-Email: ada@kasho.example\r\n"
                       b"x-forwarded-groups: kasho-dba\r\n\r\n")
        assert client.recv(1024).startswith(b"HTTP/1.1 204")
    server.join(timeout=10)
    upstream.close()
    head = received[0].decode().lower()
    assert "x-forwarded-email: otto@kasho.example" in head
    assert "ada@" not in head and "kasho-dba" not in head
