"""The on-call home in Chromium: it is the first page, shows the firing alert first with its
link, every target on one line and the timeline of what changed; its snapshot button writes
one self-contained HTML file that opens offline in Chromium.

Leaves test-artifacts/oncall.png and test-artifacts/oncall-snapshot.png.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    ARTIFACTS,
    EMPTY_TARGET,
    SEEDED_TARGET,
    running_dashboard,
    seed_realistic_store,
    wait_for_charts,
)
from tests.e2e.layout import layout_problems
from tests.e2e.oncall_seed import HOSTILE_APPLICATION, seed_incident
from tests.integration.collector_setup import write_config_file

pytestmark = [pytest.mark.e2e, pytest.mark.single_major]
LOAD_TIMEOUT_MS = 60_000


@pytest.fixture
def incident_url(fresh_store: str, tmp_path: Path) -> Iterator[str]:
    now = datetime.now(UTC)
    seed_realistic_store(fresh_store, SEEDED_TARGET, now)
    seed_incident(fresh_store, SEEDED_TARGET, now)
    config = write_config_file(
        tmp_path / "kasho-ops.toml", fresh_store,
        {SEEDED_TARGET: "host=127.0.0.1 dbname=kasho user=kasho_ops_monitor",
         EMPTY_TARGET: "host=127.0.0.1 dbname=kasho user=kasho_ops_monitor"},
        extra='\n[auth]\nmode = "none"\nnone_role = "operator"\n')
    with running_dashboard(config, tmp_path / "dashboard.log") as base_url:
        yield base_url


def grid_text(page: Any, expected: str) -> str:
    """The visible cells of every table (the grids' accessible twin), once `expected` shows."""
    deadline = time.monotonic() + LOAD_TIMEOUT_MS / 1000
    while True:
        text = " | ".join(page.locator("[data-testid=stDataFrame] [role=gridcell]")
                          .all_inner_texts())
        if expected in text or time.monotonic() > deadline:
            return text
        time.sleep(0.5)


def test_home_shows_the_firing_alert_targets_and_what_changed_and_writes_a_snapshot(
        chromium_page: Any, incident_url: str, tmp_path: Path) -> None:
    page = chromium_page
    page.goto(f"{incident_url}/?target={SEEDED_TARGET}&range=6h")
    page.wait_for_url(re.compile(rf"/oncall\?target={SEEDED_TARGET}&range=6h$"),
                      timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="On call")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_text("1 alert(s) firing, 1 critical.")).to_be_visible(
        timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Incident snapshot")).to_be_visible(
        timeout=LOAD_TIMEOUT_MS)
    wait_for_charts(page, 1)
    # Firing first, then the targets, then what changed.
    headings = page.locator("h3").all_inner_texts()
    assert headings[:3] == ["Firing", "Targets", "What changed"], headings
    assert layout_problems(page) == []
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1600, "height": height + 40})
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "oncall.png"), full_page=True)
    cells = grid_text(page, "Sessions blocked by a lock")
    assert "Sessions blocked by a lock" in cells and "3 min 5 s" in cells, cells
    assert "/locks?target=kasho-primary" in cells or "open the page" in cells, cells
    assert "up" in cells and "primary" in cells and "no data" in cells and "problem" in cells
    assert "kasho-replica | no data | — | none | — | —" in cells, cells
    # The timeline: restart, configuration change with its setting, reset, migration, gap.
    for kind in ("restart", "configuration", "statistics reset", "schema migration",
                 "collector gap", "alert fired"):
        assert kind in cells, (kind, cells)
    assert "work_mem: 4096 kB -> 65536 kB" in cells
    assert "Kasho schema version 5 -> 6" in cells
    # The hostile application name is text in a canvas cell, never an element.
    assert page.locator("img[src=x]").count() == 0
    expect(page.get_by_text("Acknowledge or silence an alert")).to_be_visible()

    page.get_by_role("button", name="Prepare the snapshot").click()
    download_button = page.get_by_role("button", name=re.compile("Download kasho-ops-snapshot"))
    expect(download_button).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    with page.expect_download(timeout=LOAD_TIMEOUT_MS) as pending:
        download_button.click()
    snapshot = tmp_path / pending.value.suggested_filename
    pending.value.save_as(snapshot)
    document = snapshot.read_text()
    assert document.startswith("<!DOCTYPE html>")
    script_tags = re.findall(r"<script\b[^>]*>", document)
    assert script_tags and not [t for t in script_tags if "src=" in t]  # self-contained
    assert HOSTILE_APPLICATION not in document
    assert "&lt;img src=x onerror=alert(1)&gt;migrate" in document
    assert "Sessions blocked by a lock" in document and "Kasho schema version 5 -&gt; 6" in \
        document

    viewer = page.context.browser.new_page(viewport={"width": 1400, "height": 1000})
    viewer.goto(snapshot.as_uri())
    wait_for_charts(viewer, 4)  # the snapshot's four charts
    expect(viewer.get_by_role("heading", name=f"Incident snapshot: {SEEDED_TARGET}")) \
        .to_be_visible()
    assert viewer.locator("img[src=x]").count() == 0
    viewer.screenshot(path=str(ARTIFACTS / "oncall-snapshot.png"), full_page=True)
