"""The Security page in Chromium, from security_* groups collected on the test cluster: every
area drawn, the checks judged, and a screenshot for the issue's closing note."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from demo.cluster import LocalCluster
from tests.e2e.conftest import ARTIFACTS, running_dashboard
from tests.e2e.layout import layout_problems
from tests.integration.collector_setup import (
    make_config,
    monitor_dsn,
    open_collector,
    write_config_file,
)

pytestmark = pytest.mark.e2e
GROUPS = ["security_settings", "security_roles", "security_hba", "security_access",
          "security_ssl"]


def test_security_page_shows_every_area_with_fixes(chromium_page: Any, pg_cluster: LocalCluster,
                                                   fresh_store: str, tmp_path: Path) -> None:
    target = monitor_dsn(pg_cluster)
    collector = open_collector(make_config(fresh_store, {"kasho-primary": target}), GROUPS)
    try:
        records = collector.run_once()
    finally:
        collector.close()
        collector.store.close()
    assert [r.error for r in records] == [None] * len(GROUPS)
    config = write_config_file(tmp_path / "kasho-ops.toml", fresh_store,
                               {"kasho-primary": target},
                               '\n[security]\nencryption_at_rest = "LUKS on the data volume"\n')
    with running_dashboard(config, tmp_path / "dashboard.log") as url:
        page = chromium_page
        page.goto(f"{url}/security?target=kasho-primary")
        for area in ("Access control", "Encryption", "Audit logging", "Data masking"):
            page.get_by_role("heading", name=area).wait_for(timeout=60_000)
        page.locator("[data-testid=stDataFrame]").nth(3).wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "security-page.png"), full_page=True)
        assert page.locator("[data-testid=stDataFrame]").count() == 4
        # Only the rows scrolled into view are in the grid's accessible twin, which the grid
        # fills after it draws: wait for each cell rather than read them once.
        cells = page.locator("[data-testid=stDataFrame] [role=gridcell]")
        for text in ("password_encryption = scram-sha-256",
                     "GRANT SELECT ON pg_hba_file_rules TO kasho_ops_monitor"):
            cells.filter(has_text=text).first.wait_for(state="attached", timeout=30_000)
        page.get_by_text("No sign-in (auth mode none)").first.wait_for(timeout=30_000)
        assert layout_problems(page) == []
        page.screenshot(path=str(ARTIFACTS / "security-page.png"), full_page=True)

        # A check's row opens it in full: its fix, cut at the table's column edge, whole below.
        grid = page.get_by_test_id("stDataFrame").first
        fix_column = grid.locator("[role=columnheader]", has_text="fix").get_attribute(
            "aria-colindex")
        fix = grid.locator(f'[role=row][aria-rowindex="2"] [aria-colindex="{fix_column}"]'
                           ).text_content()
        assert fix and len(fix) > 40, fix  # long enough to be cut in the table
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 14, box["y"] + 38 + 30)  # the first row's marker
        expect(page.get_by_test_id("stCode").filter(has_text=fix[:40])).to_be_visible(
            timeout=30_000)
        assert page.get_by_test_id("stCode").filter(has_text=fix[:40]).inner_text().strip() \
            == fix.strip()
        page.get_by_test_id("stCode").filter(has_text=fix[:40]).scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "security-detail.png"))
