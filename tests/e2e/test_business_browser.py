"""The Business page and the correlation view in Chromium, served by a real `kasho-ops
dashboard` process reading a store the collector filled from the seeded Kasho database.

Leaves full-page screenshots in test-artifacts/business.png and correlation.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from demo.cluster import LocalCluster
from tests.conftest import KashoDatabase
from tests.e2e.conftest import ARTIFACTS, running_dashboard, wait_for_charts
from tests.e2e.layout import LAYOUT_PROBLEMS, TABLES_PINNED, layout_problems
from tests.integration.business_setup import collect_business_and_health
from tests.integration.collector_setup import monitor_dsn, write_config_file

pytestmark = [pytest.mark.e2e, pytest.mark.single_major]  # the browser reads the store
LOAD_TIMEOUT_MS = 120_000  # the machine is shared: wait, then assert
CLICK_TIMEOUT_MS = 15_000
TARGET = "kasho"


@pytest.fixture
def business_dashboard(pg_cluster: LocalCluster, kasho_database: KashoDatabase,
                       fresh_store: str, tmp_path: Path) -> Iterator[str]:
    collect_business_and_health(fresh_store, monitor_dsn(pg_cluster),
                                kasho_database.business_dsn, kasho_database.admin_dsn)
    config = write_config_file(tmp_path / "kasho-ops.toml", fresh_store,
                               {TARGET: monitor_dsn(pg_cluster)},
                               business={TARGET: kasho_database.business_dsn})
    with running_dashboard(config, tmp_path / "dashboard.log") as base_url:
        yield base_url


def screenshot(page: Any, name: str, charts: int) -> None:
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": page.viewport_size["width"], "height": height + 40})
    wait_for_charts(page, charts)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_business_page_and_correlation_view_with_a_click_through_to_the_locks(
        chromium_page: Any, business_dashboard: str) -> None:
    page = chromium_page
    page.goto(f"{business_dashboard}/business?target={TARGET}&range=24h")
    wait_for_charts(page, 5)
    titles = page.locator(".js-plotly-plot .gtitle").evaluate_all(
        "titles => titles.map(t => t.textContent)")
    assert titles[:3] == ["Transactions per minute, by type", "Failure rate and failures",
                          "Amount per interval in USD, by type"]
    expect(page.get_by_test_id("stMetric")).to_have_count(3)
    heading = page.get_by_role("heading", name="Per currency in the range")
    heading.scroll_into_view_if_needed()
    table = page.get_by_test_id("stDataFrame").first
    table.scroll_into_view_if_needed()
    # The cells are drawn on a canvas; their accessible twins carry the text.
    for currency in ("USD", "EUR"):
        expect(table.locator("[role=gridcell]", has_text=currency).first).to_be_attached(
            timeout=LOAD_TIMEOUT_MS)
    # Another currency's amounts, picked in the segmented control.
    page.get_by_role("radio", name="EUR", exact=True).click()
    expect(page.locator(".js-plotly-plot .gtitle", has_text="Amount per interval in EUR")
           ).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    assert layout_problems(page) == []
    screenshot(page, "business.png", 5)

    page.set_viewport_size({"width": 1600, "height": 1000})
    page.goto(f"{business_dashboard}/correlation?target={TARGET}&range=24h")
    wait_for_charts(page, 1)
    panels = page.locator(".js-plotly-plot .annotation-text").all_text_contents()
    assert panels[0] == "Payments: transactions created per minute"
    assert "Database: commits per second" in panels
    assert page.evaluate(LAYOUT_PROBLEMS, TABLES_PINNED) == []
    screenshot(page, "correlation.png", 1)

    # A click on the commits panel opens the lock history in the hour around that point.
    page.set_viewport_size({"width": 1600, "height": 1200})
    commits = page.evaluate("() => document.querySelector('.js-plotly-plot').data"
                            ".findIndex(trace => trace.name === 'commits/s')")
    assert commits >= 0
    # Subplots draw their traces in figure order, so the n-th trace group is trace n. On a
    # loaded machine a click can land before plotly listens: try another point, with a deadline.
    points = page.locator(".js-plotly-plot .scatterlayer .trace").nth(commits).locator(
        ".points path")
    count = points.count()
    assert count >= 1
    # A click that lands navigates within seconds; one that does not would wait out a long
    # timeout (a CI run spent its 300 s test timeout here on 60-s waits).
    for attempt in range(8):
        page.mouse.move(0, 0)  # no hover label left over the next point
        points.nth(count - 1 - attempt % count).click(force=True)
        try:
            page.wait_for_url("**/locks?**", timeout=CLICK_TIMEOUT_MS)
            break
        except PlaywrightTimeout:
            continue
    assert "/locks?" in page.url, page.url
    query = parse_qs(urlparse(page.url).query)
    assert query["target"] == [TARGET] and query["range"] == ["1h"]
    assert query["end"][0].count(":") == 2
    expect(page.get_by_role("heading", name="Locks", exact=True)).to_be_visible()
    expect(page.get_by_text("Range ends at")).to_be_visible()
