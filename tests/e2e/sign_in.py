"""Helpers for the sign-in browser tests: a local OIDC provider process and the sign-in flow
driven through its authorization page."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.pg import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLIENT_SECRET_ENV = "KASHO_TEST_OIDC_CLIENT_SECRET"
# subject -> ID-token claims; roles come from [auth.roles] in oidc_config below.
USERS: dict[str, dict[str, Any]] = {
    "ada": {"email": "ada@kasho.example", "groups": ["kasho-dba"]},
    "otto": {"email": "otto@kasho.example", "groups": ["kasho-oncall"]},
    "vera": {"email": "vera@kasho.example", "groups": ["finance"]},
    "mallory": {"email": "mallory@elsewhere.example", "groups": ["contractors"]},
}
ROLE_OF = {"ada": "admin", "otto": "operator", "vera": "viewer"}


@contextmanager
def oidc_provider(log: Path) -> Iterator[str]:
    """oidc-provider-mock on a free loopback port; yields its issuer URL."""
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.oidc_provider", str(port), json.dumps(USERS)],
            cwd=PROJECT_ROOT, stdout=output, stderr=subprocess.STDOUT)
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration",
                                            timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"OIDC provider did not start: {log.read_text()}") from None
                time.sleep(0.2)
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)


def oidc_config(issuer: str) -> str:
    """The [auth] part of a config for the provider above."""
    return f"""
[auth]
mode = "oidc"

[auth.roles]
admin = ["group:kasho-dba"]
operator = ["group:kasho-oncall"]
viewer = ["vera@kasho.example"]

[auth.oidc]
server_metadata_url = "{issuer}/.well-known/openid-configuration"
client_id = "kasho-ops-dashboard"
client_secret_env = "{CLIENT_SECRET_ENV}"
redirect_uri = "http://127.0.0.1:{{port}}/oauth2callback"
"""


def navigation_text(page: Any) -> str:
    """Every page name in the sidebar navigation: Streamlit shows the first ten of a long list
    and a "View N more" button, so a page missing from the collapsed list proves nothing."""
    nav = page.locator("[data-testid=stSidebarNav]")
    nav.wait_for(timeout=60_000)
    more = nav.locator("[data-testid=stSidebarNavViewButton]")
    if more.count() and more.inner_text().startswith("View ") and \
            more.inner_text() != "View less":
        more.click()
        more.get_by_text("View less").wait_for(timeout=30_000)
    return str(nav.inner_text())


def wait_for_text(page: Any, text: str, timeout_ms: int = 60_000) -> None:
    """Wait until the page shows `text`, as a reader sees it: markdown the dashboard escaped
    (dashboard/core/plain.py md) carries invisible word joiners before an '@'."""
    page.wait_for_function(
        "text => !!document.body"  # between two documents of a redirect there is none
        " && document.body.innerText.replaceAll('\\u2060', '').includes(text)",
        arg=text, timeout=timeout_ms)


def sign_in(page: Any, base_url: str, subject: str, path: str = "overview") -> None:
    """Open the dashboard, press Sign in, choose `subject` on the provider's page, and wait
    until the dashboard shows who is signed in (or says there is no access)."""
    page.goto(f"{base_url}/{path}")
    page.get_by_role("button", name="Sign in").click(timeout=60_000)
    page.get_by_role("button", name=subject, exact=True).click(timeout=60_000)
    page.wait_for_url(f"{base_url}/**", timeout=60_000)
    expected = USERS[subject]["email"]
    page.get_by_text(expected).first.wait_for(timeout=60_000)
