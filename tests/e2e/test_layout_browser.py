"""Every page is readable in Chromium at 1600 x 1000: no legend over a title, an axis or the
plot, no legend entry cut, no clipped control, tables that fit their column, whole-number
ticks on counts. Screenshots of every page land in test-artifacts/layout-<page>.png."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.active_sessions_history import seed_active_sessions
from tests.e2e.activity_history import seed_activity_history
from tests.e2e.conftest import ARTIFACTS, SEEDED_TARGET, seeded_dashboard, wait_for_charts
from tests.e2e.layout import LAYOUT_PROBLEMS, SETTLE_MS, TABLES_FIT
from tests.query_history import KASHO_STATEMENTS, seed_query_history, tail_statements

pytestmark = pytest.mark.e2e
LOAD_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def dashboard_url(module_seeded_store: str, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[str]:
    """One dashboard for the module over a store with every page's history: the tests only
    read it."""
    now = datetime.now(UTC)
    seed_activity_history(module_seeded_store, SEEDED_TARGET, now)
    seed_query_history(module_seeded_store, SEEDED_TARGET, now, timedelta(hours=7),
                       [*KASHO_STATEMENTS, *tail_statements(30)])
    seed_active_sessions(module_seeded_store, SEEDED_TARGET, now, timedelta(hours=7))
    with seeded_dashboard(module_seeded_store, tmp_path_factory.mktemp("layout")) as url:
        yield url


def load(page: Any, url: str, charts: int) -> None:
    page.goto(url)
    page.wait_for_selector("[data-testid=stApp]")
    wait_for_charts(page, charts)
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget]')",
                           timeout=LOAD_TIMEOUT_MS)
    page.wait_for_timeout(SETTLE_MS)


def screenshot(page: Any, name: str) -> None:
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1600, "height": min(height + 40, 8000)})
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))
    page.set_viewport_size({"width": 1600, "height": 1000})


# Charts drawn in the last 6 hours and the last 15 minutes: the database size stopped 40
# minutes ago, the seeded deadlocks are older than 15 minutes.
@pytest.mark.parametrize(("path", "charts"), [
    ("overview", {"6h": 5, "15m": 4}),
    ("queries", {"6h": 1, "15m": 1}),
    ("connections", {"6h": 3, "15m": 3}),
    ("locks", {"6h": 3, "15m": 2}),
])
def test_pages_have_no_overlap_no_cut_legend_no_clipped_control(
        dashboard_url: str, chromium_page: Any, path: str, charts: dict[str, int]) -> None:
    page = chromium_page
    for range_key in ("6h", "15m"):
        load(page, f"{dashboard_url}/{path}?target={SEEDED_TARGET}&range={range_key}&own=1",
             charts[range_key])
        assert page.evaluate(LAYOUT_PROBLEMS, TABLES_FIT) == [], f"{path} on {range_key}"
        if range_key == "6h":
            screenshot(page, f"layout-{path}.png")


# A 1440-px laptop window: Overview's statements table sits in half the page, Activity's in
# two fifths of it.
@pytest.mark.parametrize(("path", "charts"), [("overview", 5), ("activity", 1)])
def test_statement_tables_fit_a_1440_px_window(dashboard_url: str, chromium_page: Any,
                                                path: str, charts: int) -> None:
    page = chromium_page
    page.set_viewport_size({"width": 1440, "height": 1000})
    try:
        load(page, f"{dashboard_url}/{path}?target={SEEDED_TARGET}&range=6h", charts)
        assert page.evaluate(LAYOUT_PROBLEMS, TABLES_FIT) == [], path
    finally:
        page.set_viewport_size({"width": 1600, "height": 1000})


def test_count_axes_tick_on_whole_numbers(dashboard_url: str, chromium_page: Any) -> None:
    page = chromium_page
    load(page, f"{dashboard_url}/connections?target={SEEDED_TARGET}&range=6h", 3)
    ticks = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .filter(p => /^Connections/.test((p.querySelector('.gtitle') || {}).textContent))
        .map(p => [...p.querySelectorAll('.ytick text')].map(t => t.textContent))""")
    assert ticks and all(ticks)
    for labels in ticks:
        assert all(label.replace(",", "").isdigit() for label in labels), labels


def test_the_own_activity_switch_is_one_click_and_stays_in_the_url(
        dashboard_url: str, chromium_page: Any) -> None:
    page = chromium_page
    load(page, f"{dashboard_url}/overview?target={SEEDED_TARGET}&range=6h", 5)
    assert "own=1" not in page.url
    page.get_by_text("Show Kasho Ops' own activity", exact=True).click()
    page.wait_for_function("() => location.search.includes('own=1')", timeout=LOAD_TIMEOUT_MS)
    page.get_by_role("link", name="Queries").click()
    page.wait_for_function("() => location.pathname.endsWith('/queries')",
                           timeout=LOAD_TIMEOUT_MS)
    page.wait_for_timeout(2000)
    assert page.get_by_role("switch", name="Show Kasho Ops' own activity").is_checked()
