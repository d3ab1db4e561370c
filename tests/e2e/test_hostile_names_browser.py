"""Names from a monitored server are text in the browser, on every page (issue 11 §2): real
databases named `[x](http://evil.example)` and `![](http://evil.example/x.png)`, a role named
as an HTML image and an application named as a markdown link, collected from a real cluster
into the store; every page of the dashboard is opened in Chromium and no request goes to the
evil host, and no link or image pointing there is ever created."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest

from demo.cluster import LocalCluster
from tests.e2e.conftest import ARTIFACTS, running_dashboard
from tests.integration.collector_setup import monitor_dsn, open_collector, write_config_file

# Every page once, on a loaded CI machine: more than the default 300 s may be needed.
pytestmark = [pytest.mark.e2e, pytest.mark.single_major, pytest.mark.timeout(600)]

EVIL_HOST = "evil.example"
DATABASES = ("[x](http://evil.example)", "![](http://evil.example/x.png)")
ROLE = '<img src="http://evil.example/r.png">'
APPLICATION = "[app](http://evil.example/app)"
GROUPS = ["database_size", "connections", "connection_limits", "database_stats",
          "session_ages", "wait_events", "query_stats"]
TARGET = "kasho-primary"


@pytest.fixture
def hostile_cluster(pg_cluster: LocalCluster) -> Iterator[psycopg.Connection[Any]]:
    """The hostile databases and role, and a session of that role in the first database with
    the hostile application name, idle in a transaction (so every activity view has it)."""
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as admin:
        for name in DATABASES:
            admin.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(
                psycopg.sql.Identifier(name)))
        admin.execute(psycopg.sql.SQL("CREATE ROLE {} LOGIN").format(
            psycopg.sql.Identifier(ROLE)))
        try:
            with psycopg.connect(pg_cluster.dsn(), dbname=DATABASES[0], user=ROLE,
                                 application_name=APPLICATION) as session:
                session.execute("SELECT /* ![](http://evil.example/q.png) */ 1")
                yield session
        finally:
            for name in DATABASES:
                admin.execute(psycopg.sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
                    psycopg.sql.Identifier(name)))
            admin.execute(psycopg.sql.SQL("DROP ROLE {}").format(psycopg.sql.Identifier(ROLE)))


def collect_once(config_path: Path) -> None:
    from collectors.core.config import load_config

    config = load_config(config_path)
    collector = open_collector(config, GROUPS)
    try:
        for group in collector.groups:
            record = collector.collect(group, config.targets[0])
            assert record.error is None, (group.name, record.error)
    finally:
        collector.close()
        collector.store.close()


def test_hostile_names_are_text_on_every_page(chromium_page: Any, pg_cluster: LocalCluster,
                                              fresh_store: str, tmp_path: Path,
                                              hostile_cluster: psycopg.Connection[Any]) -> None:
    from dashboard.navigation import PAGES

    config = write_config_file(tmp_path / "kasho-ops.toml", fresh_store,
                               {TARGET: monitor_dsn(pg_cluster)},
                               extra='\n[auth]\nmode = "none"\nnone_role = "admin"\n')
    collect_once(config)
    page = chromium_page
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(urlparse(request.url).hostname or ""))
    with running_dashboard(config, tmp_path / "dashboard.log") as base_url:
        page.goto(f"{base_url}/overview")
        # The database names as the Overview's database-size chart names them: text.
        for name in DATABASES:
            page.get_by_text(name, exact=True).first.wait_for(timeout=90_000)
        page.screenshot(path=str(ARTIFACTS / "hostile-names-overview.png"), full_page=True)
        for spec in PAGES:
            page.goto(f"{base_url}/{spec.url_path}")
            page.locator("h1").first.wait_for(timeout=90_000)
            page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(
                timeout=90_000)
            links = page.locator(f"a[href*='{EVIL_HOST}'], img[src*='{EVIL_HOST}'], "
                                 f"image[href*='{EVIL_HOST}'], [style*='{EVIL_HOST}']")
            assert links.count() == 0, spec.url_path
            assert EVIL_HOST not in hosts, spec.url_path
        # The application name as the Connections table's cell holds it: plain text (the
        # grid is a canvas; its accessible twin carries the cell text).
        page.goto(f"{base_url}/connections")
        page.locator("[role=gridcell]", has_text=APPLICATION).first.wait_for(
            state="attached", timeout=90_000)
    assert hosts and EVIL_HOST not in hosts
