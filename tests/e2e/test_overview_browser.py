"""The Overview in Chromium, served by a real `kasho-ops dashboard` process.

Leaves a full-page screenshot in test-artifacts/overview.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    ARTIFACTS,
    EMPTY_TARGET,
    SEEDED_TARGET,
    seeded_dashboard,
    wait_for_charts,
)

pytestmark = [pytest.mark.e2e, pytest.mark.single_major]  # the browser reads the store
LOAD_TIMEOUT_MS = 60_000
# The seeded store has no active-session samples: that panel says why instead of a chart.
CHART_TITLES = ["Connections by state", "Transactions per second", "Cache hit ratio",
                "Database growth in the last 6 hours"]


@pytest.fixture(scope="module")
def dashboard_url(module_seeded_store: str, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[str]:
    """One dashboard for the module's tests: they only read the store."""
    with seeded_dashboard(module_seeded_store, tmp_path_factory.mktemp("overview")) as url:
        yield url


def full_page_screenshot(page: Any, name: str) -> None:
    # Streamlit scrolls inside its main section, so grow the viewport to the content first.
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": page.viewport_size["width"], "height": height + 40})
    wait_for_charts(page, len(CHART_TITLES))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_overview_shows_charts_and_freshness(chromium_page: Any, dashboard_url: str) -> None:
    page = chromium_page
    page.goto(f"{dashboard_url}/overview?target={SEEDED_TARGET}&range=6h")
    wait_for_charts(page, len(CHART_TITLES))

    titles = page.locator(".js-plotly-plot .gtitle").evaluate_all(
        "titles => titles.map(t => t.textContent)")
    assert titles == CHART_TITLES
    assert page.locator(".js-plotly-plot").count() >= 2
    expect(page.get_by_role("heading", name="Data freshness")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    # database_size collection stopped 40 minutes ago: shown stale, in red.
    stale = page.get_by_text("database_size stale", exact=True)
    expect(stale).to_be_visible()
    red, green, blue = map(int, re.findall(r"\d+", stale.evaluate(
        "badge => getComputedStyle(badge).color"))[:3])
    assert red > 1.5 * green and red > 1.5 * blue, (red, green, blue)
    expect(page.get_by_test_id("stMetric")).to_have_count(5)
    expect(page.get_by_text("No active sessions yet: the active_sessions group has never "
                            "been collected")).to_be_visible()
    assert page.url == f"{dashboard_url}/overview?target={SEEDED_TARGET}&range=6h"
    full_page_screenshot(page, "overview.png")


def test_root_forwards_to_the_first_page_keeping_the_query_and_sidebar_updates_the_url(
        chromium_page: Any, dashboard_url: str) -> None:
    page = chromium_page
    page.goto(f"{dashboard_url}/?target={EMPTY_TARGET}&range=1h")
    page.wait_for_url(re.compile(rf"/oncall\?target={EMPTY_TARGET}&range=1h$"),
                      timeout=LOAD_TIMEOUT_MS)
    page.goto(f"{dashboard_url}/overview?target={EMPTY_TARGET}&range=1h")
    expect(page.get_by_text(f"No data yet for target {EMPTY_TARGET}")).to_be_visible(
        timeout=LOAD_TIMEOUT_MS)

    choose(page, "Target", SEEDED_TARGET)
    page.wait_for_url(re.compile(rf"target={SEEDED_TARGET}&range=1h$"),
                      timeout=LOAD_TIMEOUT_MS)
    wait_for_charts(page, len(CHART_TITLES))

    choose(page, "Time range", "Last 15 minutes")
    page.wait_for_url(re.compile(rf"target={SEEDED_TARGET}&range=15m$"),
                      timeout=LOAD_TIMEOUT_MS)
    # database_size stopped 40 minutes ago: its chart gives way to a note.
    note = page.get_by_text("No database size samples in the last 15 minutes: database_size "
                            "was last collected at")
    expect(note).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(page.locator(".js-plotly-plot")).to_have_count(3)

    page.reload()
    expect(page.get_by_role("combobox", name="Time range")).to_have_value(
        "Last 15 minutes", timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_role("combobox", name="Target")).to_have_value(SEEDED_TARGET)
    expect(note).to_be_visible(timeout=LOAD_TIMEOUT_MS)


def choose(page: Any, label: str, option: str) -> None:
    page.get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.get_by_role("option", name=option).click()
