"""The Storage, Maintenance and Indexes pages in Chromium, served by a real `kasho-ops
dashboard` over a store holding a real collection of a Kasho server with the slow-burning
problems and three days of history (tests/e2e/storage_scenario.py). Also runs the two
audited actions through the pages: hypopg advice and an exact bloat measurement. Leaves
storage.png, maintenance.png, maintenance-measure.png and indexes.png in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import running_dashboard, wait_for_charts
from tests.e2e.layout import layout_problems
from tests.e2e.storage_scenario import TARGET, StorageScenario, storage_scenario
from tests.e2e.test_activity_browser import LOAD_TIMEOUT_MS, chart_titles, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.single_major]  # the browser reads the store


@pytest.fixture
def scenario(fresh_store: str, tmp_path: Path) -> Iterator[StorageScenario]:
    with storage_scenario(fresh_store, tmp_path) as built:
        yield built


@pytest.fixture
def dashboard(scenario: StorageScenario, tmp_path: Path) -> Iterator[str]:
    with running_dashboard(scenario.config_path, tmp_path / "dashboard.log") as url:
        yield url


def grid_text(page: Any, waiting_for: str) -> str:
    """The text of every dataframe cell once one contains `waiting_for` (dataframes draw
    on a canvas; their accessible cells exist for rows in view, so the viewport first
    grows to the whole page)."""
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": page.viewport_size["width"], "height": height + 40})
    cells = page.locator("[data-testid=stDataFrame] [role=gridcell]")
    expect(cells.filter(has_text=waiting_for).first).to_be_attached(timeout=LOAD_TIMEOUT_MS)
    return " | ".join(cells.all_inner_texts())


def test_storage_maintenance_and_indexes_pages_with_a_problem_server(
        scenario: StorageScenario, dashboard: str, chromium_page: Any) -> None:
    page = chromium_page
    page.goto(f"{dashboard}/storage?target={TARGET}&range=7d")
    expect(page.get_by_role("heading", name="Disk-full forecast")).to_be_visible(
        timeout=LOAD_TIMEOUT_MS)
    wait_for_charts(page, 3)
    assert chart_titles(page) == ["Disk usage", "Largest tables", "Shared buffers by relation"]
    expect(page.get_by_text("Configured capacity · Full around")).to_be_visible()
    expect(page.get_by_text("Confidence: high").first).to_be_visible()  # 3.5 steady days
    expect(page.get_by_text("Per-table history is kept for")).to_be_visible()
    expect(page.get_by_text("Shared buffers by relation").first).to_be_visible()
    assert layout_problems(page) == [], "storage"
    assert "public.transactions" in grid_text(page, "public.transactions")
    screenshot(page, "storage.png", charts=3)

    page.set_viewport_size({"width": 1600, "height": 1000})
    page.goto(f"{dashboard}/maintenance?target={TARGET}&range=7d")
    expect(page.get_by_role("heading", name="What holds the xmin horizon back")).to_be_visible(
        timeout=LOAD_TIMEOUT_MS)
    wait_for_charts(page, 1)
    assert chart_titles(page) == ["Transaction ID age per database"]
    expect(page.locator(".js-plotly-plot")).to_have_count(
        4, timeout=LOAD_TIMEOUT_MS)  # a gauge per connectable database and the history
    assert layout_problems(page) == [], "maintenance"
    expect(page.get_by_test_id("stMetric").filter(has_text="Oldest XID age")).to_contain_text(
        "157.3 M")
    cells = grid_text(page, "month-end-report")  # the horizon holder, named
    assert "public.accounts" in cells and "autovacuum is off for this table" in cells
    assert "public.users" in cells  # overdue analyze
    screenshot(page, "maintenance.png", charts=1)

    page.set_viewport_size({"width": 1600, "height": 1000})
    # pick public.accounts (the seed's kasho_demo.accounts sorts first; the dialog says which)
    relation = page.get_by_role("combobox", name="Relation")
    relation.click()
    relation.fill("public.accounts")  # typing filters the options; the first is the exact one
    page.keyboard.press("Enter")
    expect(relation).to_have_value("public.accounts")
    page.get_by_role("button", name="Measure…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("pgstattuple on public.accounts in database kasho",
                                   timeout=LOAD_TIMEOUT_MS)
    dialog.get_by_role("button", name="Measure", exact=True).click()
    expect(page.get_by_text("Measured.")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_text("public.accounts: ")).to_contain_text("dead rows")
    page.screenshot(path=str(Path(__file__).resolve().parents[2] / "test-artifacts"
                             / "maintenance-measure.png"))
    with psycopg.connect(scenario.store_dsn) as conn:
        assert conn.execute("SELECT actor_role, relname, outcome, method FROM "
                            "kasho_ops.bloat_measurements").fetchall() == [
            ("admin", "accounts", "measured", "pgstattuple")]

    page.goto(f"{dashboard}/indexes?target={TARGET}&range=7d")
    expect(page.get_by_role("heading", name="Findings")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    cells = grid_text(page, "public.transactions_status_key")
    for expected in ("public.transactions_status_key", "public.accounts_user_id_copy",
                     "public.transactions_account_id_idx"):
        assert expected in cells, expected
    # the last kind of finding may be below the grid's fold: its filter counts it
    expect(page.get_by_test_id("stButtonGroup")).to_contain_text("may lack an index (1)")
    expect(page.get_by_text("DROP INDEX CONCURRENTLY public.transactions_status_key;")
           ).to_be_visible()
    # tables that may lack an index come first in the picker: transactions (the DDL says so)
    page.get_by_role("button", name="Check with hypopg").click()
    expect(page.get_by_text("An index would help.")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_text(
        "CREATE INDEX CONCURRENTLY ON public.transactions (amount);")).to_be_visible()
    assert layout_problems(page) == [], "indexes"
    screenshot(page, "indexes.png")
    with psycopg.connect(scenario.store_dsn) as conn:
        assert conn.execute("SELECT outcome, suggested_index FROM "
                            "kasho_ops.index_advice_runs").fetchall() == [
            ("advised", "CREATE INDEX CONCURRENTLY ON public.transactions (amount);")]
