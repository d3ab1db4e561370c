"""The Backups and Replication pages in Chromium, served by a real `kasho-ops dashboard` over
a store holding a week of backups and seven hours of archiving and replication.

Leaves test-artifacts/backups.png, replication.png and replication-standby.png.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.e2e.backups_history import PRIMARY, STANDBY, seed_backups_store
from tests.e2e.conftest import ARTIFACTS, running_dashboard, wait_for_charts
from tests.e2e.layout import layout_problems
from tests.e2e.test_overview_browser import LOAD_TIMEOUT_MS
from tests.integration.collector_setup import write_config_file

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def backups_dashboard(module_store: str, tmp_path_factory: pytest.TempPathFactory
                      ) -> Iterator[str]:
    """One dashboard for the module's tests: they only read the store."""
    tmp_path = tmp_path_factory.mktemp("backups")
    seed_backups_store(module_store, datetime.now(UTC))
    config = write_config_file(
        tmp_path / "kasho-ops.toml", module_store,
        {PRIMARY: "host=127.0.0.1 dbname=kasho user=kasho_ops_monitor",
         STANDBY: "host=127.0.0.1 dbname=kasho user=kasho_ops_monitor"})
    # The primary has a pgBackRest stanza; the standby none (its page says so).
    config.write_text(config.read_text().replace(
        f'name = "{PRIMARY}"', f'name = "{PRIMARY}"\npgbackrest_stanza = "main"'))
    with running_dashboard(config, tmp_path / "dashboard.log") as base_url:
        yield base_url


def screenshot(page: Any, name: str, charts: int) -> None:
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": page.viewport_size["width"], "height": height + 40})
    wait_for_charts(page, charts)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def chart_titles(page: Any, expected: list[str] | None = None) -> list[str]:
    """The charts' titles in page order; with `expected`, once they are those (a page draws
    its charts one after the other)."""
    if expected is not None:
        # On a timeout the caller's assert shows what was drawn instead.
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(
                "expected => JSON.stringify([...document.querySelectorAll("
                "'.js-plotly-plot .gtitle')].map(t => t.textContent)) === "
                "JSON.stringify(expected)", arg=expected, timeout=LOAD_TIMEOUT_MS)
    return page.locator(".js-plotly-plot .gtitle").evaluate_all(
        "titles => titles.map(t => t.textContent)")


def test_backups_page_shows_backups_window_archiving_retention_and_drills(
        chromium_page: Any, backups_dashboard: str) -> None:
    page = chromium_page
    page.goto(f"{backups_dashboard}/backups?target={PRIMARY}&range=6h")
    wait_for_charts(page, 3)
    titles = ["Backups and the restorable window (green)",
              "WAL files archived and failed attempts", "Archive backlog"]
    assert chart_titles(page, titles) == titles
    expect(page.get_by_text("Backups, archiving and restore drills: every check passes."
                            )).to_be_visible()
    metrics = page.get_by_test_id("stMetric")
    expect(metrics).to_have_count(5)
    expect(metrics.filter(has_text="Restorable window")).to_contain_text("d")
    expect(metrics.filter(has_text="Last restore drill")).to_contain_text("passed")
    expect(page.get_by_text("repository encryption: aes-256-cbc", exact=False)).to_be_visible()
    expect(page.get_by_role("heading", name="Retention")).to_be_visible()
    expect(page.get_by_role("heading", name="Restore drills")).to_be_visible()
    # All checks (in the expander), backups, archiving settings, retention, store retention,
    # drills.
    expect(page.get_by_test_id("stDataFrame")).to_have_count(6, timeout=LOAD_TIMEOUT_MS)
    assert layout_problems(page) == [], "backups"
    screenshot(page, "backups.png", 3)


def test_replication_page_on_the_primary_and_on_its_standby(
        chromium_page: Any, backups_dashboard: str) -> None:
    page = chromium_page
    page.goto(f"{backups_dashboard}/replication?target={PRIMARY}&range=6h")
    wait_for_charts(page, 3)
    titles = ["Replay lag per standby", "Replay lag per standby (time)",
              "WAL retained per replication slot (dotted: inactive)"]
    assert chart_titles(page, titles) == titles
    expect(page.get_by_text(re.compile(r"^Inactive slot old_analytics keeps 6\.\d GB of WAL"))
           ).to_be_visible()
    expect(page.get_by_text("Slot WAL retention: inactive slot old_analytics keeps",
                            exact=False)).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Standbys streaming")
           ).to_contain_text("2")
    assert layout_problems(page) == [], "replication on the primary"
    screenshot(page, "replication.png", 3)

    page.set_viewport_size({"width": 1600, "height": 1000})
    page.goto(f"{backups_dashboard}/replication?target={STANDBY}&range=6h")
    expect(page.get_by_text("This target is a standby (in recovery): it streams from "
                            "127.0.2.10:5432 through slot replica1_slot", exact=False)
           ).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    wait_for_charts(page, 1)
    assert chart_titles(page, ["Replay on this standby"]) == ["Replay on this standby"]
    assert layout_problems(page) == [], "replication on the standby"
    screenshot(page, "replication-standby.png", 1)
