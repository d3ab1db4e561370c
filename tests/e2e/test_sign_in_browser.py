"""Sign-in for real (issue 11 §1): a local OIDC provider (oidc-provider-mock) on loopback,
the login flow driven in Chromium for each role, and what each role may see and do: the
pages in the navigation, the Audit page for admins only, and on the Activity page the
cancel and terminate buttons the server draws for a selected session (operators cancel,
admins also terminate, viewers get no actions). Reloads keep one sign-in row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dashboard.navigation import pages_for
from demo.cluster import LocalCluster
from tests.e2e.conftest import ARTIFACTS, SEEDED_TARGET, running_dashboard
from tests.e2e.sign_in import (
    CLIENT_SECRET_ENV,
    ROLE_OF,
    USERS,
    navigation_text,
    oidc_config,
    oidc_provider,
    wait_for_text,
)
from tests.e2e.sign_in import sign_in as browser_sign_in
from tests.integration.collector_setup import monitor_dsn, write_config_file
from tests.pg import HeldSession

pytestmark = [pytest.mark.e2e, pytest.mark.single_major]
SESSIONS_HEADER_PX = 35
SESSIONS_ROW_PX = 35


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with oidc_provider(tmp_path_factory.mktemp("oidc") / "provider.log") as url:
        yield url


@pytest.fixture
def busy_session(pg_cluster: LocalCluster) -> Iterator[HeldSession]:
    """A client session running a query on the target, for the Activity page to list."""
    session = HeldSession(pg_cluster.dsn(), "billing-worker")
    session.execute_in_background("SELECT pg_sleep(600)")
    yield session
    session.close()


@pytest.fixture
def oidc_dashboard(issuer: str, seeded_store: str, pg_cluster: LocalCluster,
                   tmp_path: Path) -> Iterator[str]:
    config = write_config_file(
        tmp_path / "kasho-ops.toml", seeded_store, {SEEDED_TARGET: monitor_dsn(pg_cluster)},
        "\n[dashboard]\nactions_enabled = true\n" + oidc_config(issuer))
    with running_dashboard(config, tmp_path / "dashboard.log",
                           {CLIENT_SECRET_ENV: "test-client-secret"}) as url:
        yield url


def sign_ins(store_dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(store_dsn) as conn:
        return conn.execute("SELECT identity, role, mode, outcome FROM kasho_ops.sign_ins "
                            "ORDER BY id").fetchall()


def select_first_session(page: Any) -> None:
    """Click the row marker of the sessions table's first row (the table is a canvas)."""
    table = page.locator("[data-testid=stDataFrame]").first
    table.locator("[role=gridcell]").first.wait_for(state="attached", timeout=60_000)
    box = table.bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + SESSIONS_HEADER_PX + SESSIONS_ROW_PX / 2)


def test_no_page_is_reachable_before_sign_in(chromium_page: Any, oidc_dashboard: str) -> None:
    for path in ("overview", "activity", "audit", "security", "queries"):
        chromium_page.goto(f"{oidc_dashboard}/{path}")
        chromium_page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        body = chromium_page.inner_text("body")
        assert "Data freshness" not in body and "Sessions" not in body
        assert chromium_page.locator("[data-testid=stSidebarNav]").count() == 0
        assert chromium_page.locator("[data-testid=stDataFrame]").count() == 0


@pytest.mark.parametrize("subject", ["vera", "otto", "ada"])
def test_each_role_signs_in_and_sees_what_it_may(chromium_page: Any, oidc_dashboard: str,
                                                 seeded_store: str, busy_session: HeldSession,
                                                 subject: str) -> None:
    page = chromium_page
    role, email = ROLE_OF[subject], USERS[subject]["email"]
    browser_sign_in(page, oidc_dashboard, subject)
    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.get_by_text(f"{email} · {role}", exact=True).wait_for(timeout=30_000)
    nav = navigation_text(page)
    assert ("Audit" in nav) is (role == "admin")
    assert "Overview" in nav and "Security" in nav
    for _ in range(2):  # a reload is a new Streamlit session of the same sign-in
        page.reload()
        sidebar.get_by_text(f"{email} · {role}", exact=True).wait_for(timeout=60_000)
    assert [row for row in sign_ins(seeded_store) if row[0] == email] == [
        (email, role, "oidc", "signed_in")]

    page.goto(f"{oidc_dashboard}/activity")
    page.get_by_role("heading", name="Sessions", exact=True).wait_for(timeout=60_000)
    page.locator("[data-testid=stCheckbox]", has_text="Pause").click()
    if role == "viewer":
        page.get_by_text("Click a column header to sort. Oldest transactions first;").wait_for(
            timeout=30_000)
        assert page.get_by_role("heading", name="Cancel or terminate").count() == 0
    else:
        page.get_by_role("heading", name="Cancel or terminate").wait_for(timeout=30_000)
        wait_for_text(page, f"Acting as {email} ({role}")
        select_first_session(page)
        page.get_by_text(f"Selected: pid {busy_session.pid}").wait_for(timeout=30_000)
        page.get_by_role("button", name="Cancel query…").wait_for(timeout=30_000)
        assert page.get_by_role("button", name="Terminate backend…").count() == (
            1 if role == "admin" else 0)

    page.goto(f"{oidc_dashboard}/audit")
    if role == "admin":
        page.get_by_role("heading", name="Audit").wait_for(timeout=60_000)
        page.locator("[data-testid=stDataFrame]").wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "audit-page.png"), full_page=True)
    else:
        # Not among the role's pages, so the router lands on the role's first page instead.
        first = pages_for(role)[0].title
        page.get_by_role("heading", name=first, exact=True).wait_for(timeout=60_000)
        assert page.get_by_role("heading", name="Audit").count() == 0
        assert "Who (contains)" not in page.inner_text("body")  # the audit trail's filters


def test_a_stranger_is_refused_and_recorded(chromium_page: Any, oidc_dashboard: str,
                                            seeded_store: str) -> None:
    page = chromium_page
    page.goto(f"{oidc_dashboard}/overview")
    page.get_by_role("button", name="Sign in").click(timeout=60_000)
    page.get_by_role("button", name="mallory", exact=True).click(timeout=60_000)
    wait_for_text(page, "No access: mallory@elsewhere.example has no role here")
    assert page.locator("[data-testid=stSidebarNav]").count() == 0
    page.reload()
    wait_for_text(page, "No access: mallory@elsewhere.example has no role here")
    assert page.locator("[data-testid=stSidebarNav]").count() == 0
    assert page.get_by_role("heading", name="Overview").count() == 0
    assert sign_ins(seeded_store) == [("mallory@elsewhere.example", None, "oidc", "denied")]
