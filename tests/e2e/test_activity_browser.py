"""The Connections, Activity and Locks pages in Chromium, served by a real `kasho-ops
dashboard`: hours of history in the store plus a real lock chain on the live server, and a
terminate through the confirmation dialog. Leaves connections.png, activity.png,
activity-confirm.png and locks.png in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import expect

from demo.cluster import LocalCluster
from tests.e2e.activity_history import seed_activity_history
from tests.e2e.conftest import (
    ARTIFACTS,
    running_dashboard,
    seed_realistic_store,
    wait_for_charts,
)
from tests.integration.activity_setup import lock_chain, wait_for_session
from tests.integration.collector_setup import make_config, monitor_dsn, open_collector
from tests.pg import HeldSession

pytestmark = [pytest.mark.e2e, pytest.mark.single_major]  # the browser reads the store
LOAD_TIMEOUT_MS = 60_000
TARGET = "local"


@dataclass
class LiveDashboard:
    url: str
    store_dsn: str
    chain_pids: tuple[int, int, int]
    victim: HeldSession


def ensure_roles(cluster: LocalCluster) -> None:
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        for role, grants in (("kasho_app", None),
                             ("kasho_ops_actions", "pg_signal_backend, pg_read_all_stats")):
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                conn.execute(f"CREATE ROLE {role} LOGIN")
                if grants:
                    conn.execute(f"GRANT {grants} TO {role}")


@pytest.fixture
def live_dashboard(pg_cluster: LocalCluster, fresh_database: str, fresh_store: str,
                   tmp_path: Path) -> Iterator[LiveDashboard]:
    ensure_roles(pg_cluster)
    now = datetime.now(UTC)
    seed_realistic_store(fresh_store, TARGET, now)
    seed_activity_history(fresh_store, TARGET, now)
    target_dsn = monitor_dsn(pg_cluster, fresh_database)
    victim = HeldSession(pg_cluster.dsn(fresh_database, "kasho_app"), "billing-worker")
    victim.execute_in_background("SELECT pg_sleep(300) /* invoice 'INV-2024-0042' */")
    wait_for_session(pg_cluster.dsn(), victim.pid, state="active")
    config = tmp_path / "kasho-ops.toml"
    config.write_text(f'[store]\ndsn = "{fresh_store}"\n\n[dashboard]\nactions_enabled = true\n'
                      '\n[auth]\nnone_role = "admin"\n'
                      f'\n[[targets]]\nname = "{TARGET}"\ndsn = "{target_dsn}"\n'
                      f'actions_dsn = "{pg_cluster.dsn(fresh_database, "kasho_ops_actions")}"\n')
    with lock_chain(pg_cluster, fresh_database) as chain:
        collector = open_collector(make_config(fresh_store, {TARGET: target_dsn}))
        try:
            for group in collector.groups:
                if group.name != "query_stats":
                    collector.collect(group, collector.config.targets[0])
        finally:
            collector.close()
            collector.store.close()
        with running_dashboard(config, tmp_path / "dashboard.log") as url:
            yield LiveDashboard(url, fresh_store, (chain.a.pid, chain.b.pid, chain.c.pid),
                                victim)
            victim.close()


def screenshot(page: Any, name: str, charts: int = 0) -> None:
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": page.viewport_size["width"], "height": height + 40})
    if charts:
        wait_for_charts(page, charts)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def chart_titles(page: Any) -> list[str]:
    return page.locator(".js-plotly-plot .gtitle").evaluate_all(
        "titles => titles.map(t => t.textContent)")


def select_row(page: Any, pid: int) -> None:
    """Click the row marker of the sessions table's row for `pid` (the grid is a canvas: the
    row is found in its accessible twin, the click lands on the canvas)."""
    grid = page.get_by_test_id("stDataFrame").nth(1)  # after the who-blocks-whom tree
    grid.scroll_into_view_if_needed()
    shown: list[int] = []
    for _ in range(60):  # the grid's accessible twin fills in after the grid draws
        pids = grid.locator("[role=row]").evaluate_all(
            "rows => rows.slice(1).map(r => r.querySelector('[role=gridcell]')?.textContent)")
        shown = [int(p) for p in pids if p and p.strip().isdigit()]
        if pid in shown:
            break
        page.wait_for_timeout(500)
    row = shown.index(pid)
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 14, box["y"] + 35 + 35 * row + 17)


def test_activity_page_refreshes_pauses_and_terminates_through_the_dialog(
        live_dashboard: LiveDashboard, chromium_page: Any) -> None:
    page, victim = chromium_page, live_dashboard.victim
    page.goto(f"{live_dashboard.url}/activity?target={TARGET}")
    expect(page.get_by_role("heading", name="Who blocks whom")).to_be_visible(
        timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_text("refreshing every 5 s")).to_be_visible()
    waiting = page.get_by_test_id("stMetric").filter(has_text="Waiting on a lock")
    expect(waiting).to_contain_text("2")
    page.get_by_text("Pause", exact=True).click()
    expect(page.get_by_text("· paused")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    screenshot(page, "activity.png")

    page.set_viewport_size({"width": 1600, "height": 1000})
    expect(page.get_by_label("Backend pid")).to_have_count(0)  # picked, never typed
    select_row(page, victim.pid)  # still paused: the list holds still while choosing
    expect(page.get_by_text(f"Selected: pid {victim.pid} · kasho_app · billing-worker")
           ).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    page.get_by_text("Pause", exact=True).click()  # live again: the dialog must survive it
    expect(page.get_by_text("refreshing every 5 s")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_text(f"Selected: pid {victim.pid}")).to_be_visible()
    page.get_by_role("button", name="Terminate backend…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Terminate pid {victim.pid} on {TARGET}?",
                                   timeout=LOAD_TIMEOUT_MS)
    expect(dialog).to_contain_text("billing-worker")
    as_of = page.get_by_text("As of ").first.text_content()
    page.wait_for_function(
        "seen => [...document.querySelectorAll('[data-testid=stCaptionContainer]')]"
        ".some(c => c.textContent.startsWith('As of ') && c.textContent !== seen)",
        arg=as_of, timeout=LOAD_TIMEOUT_MS)  # the live view refreshed behind the dialog
    expect(dialog).to_contain_text(f"Terminate pid {victim.pid} on {TARGET}?")
    page.screenshot(path=str(ARTIFACTS / "activity-confirm.png"))
    dialog.get_by_role("button", name="Yes, terminate").click()
    expect(page.get_by_text(f"pid {victim.pid} on {TARGET}: backend terminated")).to_be_visible(
        timeout=LOAD_TIMEOUT_MS)
    with psycopg.connect(live_dashboard.store_dsn) as conn:
        assert conn.execute("SELECT actor, pid, action, outcome, query FROM "
                            "kasho_ops.dba_actions").fetchall() == [
            ("anonymous (auth mode none, loopback)", victim.pid, "terminate", "signalled",
             "SELECT pg_sleep(?) /* invoice '?' */")]


def test_connections_and_locks_pages_draw_their_charts(
        live_dashboard: LiveDashboard, chromium_page: Any) -> None:
    page = chromium_page
    page.goto(f"{live_dashboard.url}/connections?target={TARGET}&range=24h")
    wait_for_charts(page, 3)
    assert chart_titles(page) == ["Connections against the usable limit", "Connections by state",
                                  "Oldest query, transaction and idle transaction"]
    expect(page.get_by_test_id("stMetric")).to_have_count(4)
    screenshot(page, "connections.png", charts=3)

    page.set_viewport_size({"width": 1600, "height": 1000})
    page.goto(f"{live_dashboard.url}/locks?target={TARGET}&range=24h")
    expect(page.get_by_role("heading", name="Lock waits in the range")).to_be_visible(
        timeout=LOAD_TIMEOUT_MS)
    wait_for_charts(page, 3)
    assert chart_titles(page) == ["Lock waits", "Average active sessions by wait event type",
                                  "Deadlocks and recovery conflicts"]
    screenshot(page, "locks.png", charts=3)
