"""How `kasho-ops dashboard` starts Streamlit: the hardening settings, the peer address it
trusts, and the private secrets.toml that carries the OIDC provider for st.login.

HARDENING is checked by tests/integration/test_dashboard_hardening.py against a running
server. Streamlit's `server.enableCORS` is named backwards: true turns CORS *protection* on
(no `Access-Control-Allow-Origin: *`, WebSocket connections only from the app's own origin),
which is what "CORS off" means for us.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
from pathlib import Path

from collectors.core.config import Config
from collectors.core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HARDENING: dict[str, str] = {
    "server.headless": "true",
    "server.enableXsrfProtection": "true",
    "server.enableCORS": "true",  # CORS protection on: no cross-origin reads or WebSockets
    "server.enableStaticServing": "false",
    "server.enableAgentApi": "false",  # no HTTP/MCP route that drives the app
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "server.allowRunOnSave": "false",
    "global.developmentMode": "false",
    "client.showErrorDetails": "none",  # app.py shows details to admins only
    "client.showErrorLinks": "false",  # no links that send an error's text to search engines
    "client.toolbarMode": "viewer",
    "browser.gatherUsageStats": "false",
}
# Streamlit runs a full garbage collection after every script run by default: with the
# cached frames and figures every session shares, that collection cost more CPU than the
# page itself (py-spy on the Overview: 29 % of the process's GIL time against 20 % for the
# script). Python's own generational collector still runs.
TUNING: dict[str, str] = {
    "runner.postScriptGC": "false",
}
# Hostnames a browser may use to reach a loopback dashboard: a page on another site cannot
# rebind its own name to 127.0.0.1 and talk to it.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def streamlit_argv(config: Config, port: int, secrets_file: Path | None) -> list[str]:
    argv = [sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "dashboard" / "app.py"),
            "--server.address", config.dashboard.address, "--server.port", str(port)]
    for option, value in {**HARDENING, **TUNING}.items():
        argv += [f"--{option}", value]
    if config.auth.mode == "none":
        for host in LOOPBACK_HOSTS:
            argv += ["--server.allowedHosts", host]
    if secrets_file is not None:
        argv += ["--secrets.files", str(secrets_file)]
    return argv


def streamlit_env(config: Config) -> dict[str, str]:
    env = {**os.environ, "KASHO_OPS_CONFIG": str(Path(config.source or "").resolve())}
    # uvicorn would otherwise take X-Forwarded-For from loopback peers as the client address;
    # proxy mode must see the real TCP peer to decide whether to trust the user header.
    env["FORWARDED_ALLOW_IPS"] = ""
    return env


def auth_secrets_toml(config: Config) -> str | None:
    """The [auth] section st.login reads, built from [auth.oidc] (None unless mode is oidc)."""
    oidc = config.auth.oidc
    if config.auth.mode != "oidc" or oidc is None:
        return None
    if oidc.unset or oidc.client_secret is None:
        raise ConfigError(f"[auth.oidc] names {', '.join(oidc.unset)}, not set for the "
                          "dashboard: export the OIDC secrets and start it again")
    cookie = oidc.cookie_secret.reveal() if oidc.cookie_secret else secrets.token_urlsafe(48)
    values = {
        "redirect_uri": oidc.redirect_uri,
        "cookie_secret": cookie,
        "client_id": oidc.client_id,
        "client_secret": oidc.client_secret.reveal(),
        "server_metadata_url": oidc.server_metadata_url,
    }
    lines = ["[auth]", *(f"{key} = {json.dumps(value)}" for key, value in values.items()),
             "", "[auth.client_kwargs]", f"scope = {json.dumps(oidc.scopes)}",
             'prompt = "login"', ""]
    return "\n".join(lines)


def write_auth_secrets(config: Config) -> Path | None:
    """Write the secrets to a fresh private directory (0700, file 0600), never the repo."""
    text = auth_secrets_toml(config)
    if text is None:
        return None
    directory = Path(tempfile.mkdtemp(prefix="kasho-ops-dashboard-"))
    path = directory / "secrets.toml"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    return path
