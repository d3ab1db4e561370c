"""The Queries page in Chromium: from a spike in the load-shape chart to its statement in two
clicks, a pasted detail URL, and back.

Leaves screenshots in test-artifacts/queries.png and test-artifacts/queries-detail.png.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, SEEDED_TARGET, wait_for_charts
from tests.query_history import KASHO_STATEMENTS, seed_query_history, tail_statements

pytestmark = [pytest.mark.e2e, pytest.mark.single_major]  # the browser reads the store
LOAD_TIMEOUT_MS = 60_000
REPORT = next(s for s in KASHO_STATEMENTS if s.queryid == 7_005)  # most statement time
REPORT_NAME = "TopSpenders"  # its sqlc name: the title, the legend, the table lead with it


@pytest.fixture
def query_history(seeded_store: str) -> str:
    seed_query_history(seeded_store, SEEDED_TARGET, datetime.now(UTC), timedelta(days=2),
                       [*KASHO_STATEMENTS, *tail_statements(30)])
    return seeded_store


def screenshot(page: Any, name: str) -> None:
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": page.viewport_size["width"], "height": height + 40})
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def click_plot_point(page: Any, point: Any, label: str) -> None:
    """Click a plotly bar as a person does: plotly selects the point it computed the hover
    for, so hover first, wait until the hover label names the bar's trace, then click on
    the same spot."""
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    expect(page.locator(".js-plotly-plot .hoverlayer .hovertext")).to_contain_text(
        label, timeout=LOAD_TIMEOUT_MS)
    page.mouse.click(x, y)


def test_a_bar_segment_opens_its_statement_and_back(query_history: str, dashboard_url: str,
                                                    chromium_page: Any) -> None:
    page = chromium_page
    page.goto(f"{dashboard_url}/queries?target={SEEDED_TARGET}&range=24h")
    page.wait_for_selector(".js-plotly-plot .barlayer .trace path", timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Top statements by total time")).to_be_visible()
    expect(page.locator(".js-plotly-plot .legendtext").first).to_have_text(f"1. {REPORT_NAME}")
    expect(page.get_by_test_id("stDataFrame")).to_have_count(2)  # regressions, top statements
    screenshot(page, "queries.png")

    # The first trace is the statement with the most time; click one of its bars.
    click_plot_point(page, page.locator(".js-plotly-plot .barlayer .trace").first
                     .locator("path").nth(-3), f"1. {REPORT_NAME}")
    expect(page.get_by_role("heading", name=REPORT_NAME)).to_be_visible(
        timeout=LOAD_TIMEOUT_MS)
    assert re.search(rf"[?&]queryid={REPORT.queryid}&dbid={REPORT.dbid}&userid="
                     rf"{REPORT.userid}(&|$)", page.url), page.url
    # The text comes after the detail's store reads: wait for it as for a page load.
    expect(page.get_by_text("GROUP BY u.email")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_text(f"queryid {REPORT.queryid}")).to_be_visible()
    detail_url = page.url

    page.get_by_role("button", name="← All statements").click()
    expect(page.get_by_role("heading", name="Queries", exact=True)).to_be_visible(
        timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Top statements by total time")).to_be_visible()
    assert "queryid" not in page.url

    page.goto(detail_url)  # as pasted into an incident channel
    expect(page.get_by_role("heading", name=REPORT_NAME)).to_be_visible(
        timeout=LOAD_TIMEOUT_MS)
    wait_for_charts(page, 1)
    screenshot(page, "queries-detail.png")
