"""Sign-in for real (issue 11 §1): a local OIDC provider (oidc-provider-mock) on loopback,
the login flow driven in Chromium for each role, and what each role may see and do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from demo.cluster import LocalCluster
from tests.e2e.conftest import ARTIFACTS, SEEDED_TARGET, running_dashboard
from tests.e2e.sign_in import CLIENT_SECRET_ENV, ROLE_OF, USERS, oidc_config, oidc_provider
from tests.e2e.sign_in import sign_in as browser_sign_in
from tests.integration.collector_setup import monitor_dsn, write_config_file

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with oidc_provider(tmp_path_factory.mktemp("oidc") / "provider.log") as url:
        yield url


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


def test_no_page_is_reachable_before_sign_in(chromium_page: Any, oidc_dashboard: str) -> None:
    for path in ("overview", "activity", "audit", "security"):
        chromium_page.goto(f"{oidc_dashboard}/{path}")
        chromium_page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        body = chromium_page.inner_text("body")
        assert "Data freshness" not in body and "Sessions" not in body
        assert chromium_page.locator("[data-testid=stSidebarNav]").count() == 0


@pytest.mark.parametrize("subject", ["vera", "otto", "ada"])
def test_each_role_signs_in_and_sees_what_it_may(chromium_page: Any, oidc_dashboard: str,
                                                 seeded_store: str, subject: str) -> None:
    role = ROLE_OF[subject]
    browser_sign_in(chromium_page, oidc_dashboard, subject)
    sidebar = chromium_page.locator("[data-testid=stSidebar]")
    sidebar.get_by_text(f"{USERS[subject]['email']} · {role}", exact=True).wait_for(
        timeout=30_000)
    nav = chromium_page.locator("[data-testid=stSidebarNav]").inner_text()
    assert ("Audit" in nav) is (role == "admin")
    assert "Overview" in nav

    chromium_page.goto(f"{oidc_dashboard}/activity")
    chromium_page.get_by_role("heading", name="Activity now").wait_for(timeout=60_000)
    chromium_page.get_by_role("heading", name="Sessions").wait_for(timeout=60_000)
    cancel = chromium_page.get_by_role("button", name="Cancel query…")
    terminate = chromium_page.get_by_role("button", name="Terminate backend…")
    if role == "viewer":
        assert chromium_page.get_by_text("Cancel or terminate").count() == 0
    else:
        cancel.wait_for(timeout=30_000)
    assert terminate.count() == (1 if role == "admin" else 0)

    chromium_page.goto(f"{oidc_dashboard}/audit")
    if role == "admin":
        chromium_page.get_by_role("heading", name="Audit").wait_for(timeout=60_000)
        chromium_page.locator("[data-testid=stDataFrame]").wait_for(timeout=30_000)
        chromium_page.screenshot(path=str(ARTIFACTS / "audit-page.png"), full_page=True)
    else:
        chromium_page.get_by_role("heading", name="Overview").wait_for(timeout=60_000)
        assert chromium_page.get_by_role("heading", name="Audit").count() == 0
    assert (USERS[subject]["email"], role, "oidc", "signed_in") in sign_ins(seeded_store)


def test_a_stranger_is_refused_and_recorded(chromium_page: Any, oidc_dashboard: str,
                                            seeded_store: str) -> None:
    chromium_page.goto(f"{oidc_dashboard}/overview")
    chromium_page.get_by_role("button", name="Sign in").click(timeout=60_000)
    chromium_page.get_by_role("button", name="mallory", exact=True).click(timeout=60_000)
    chromium_page.get_by_text("No access: mallory@elsewhere.example has no role here").wait_for(
        timeout=60_000)
    assert chromium_page.locator("[data-testid=stSidebarNav]").count() == 0
    assert ("mallory@elsewhere.example", None, "oidc", "denied") in sign_ins(seeded_store)
