"""The dashboard's OIDC secrets: read from the environment, needed only where the dashboard runs."""

from __future__ import annotations

import pytest

from collectors.core.config import parse_config
from collectors.core.errors import ConfigError
from collectors.dashboard_server import auth_secrets_toml

OIDC = {
    "mode": "oidc",
    "roles": {"admin": ["dba@kasho.example"]},
    "oidc": {"server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
             "client_id": "kasho-ops", "client_secret_env": "OIDC_SECRET",
             "cookie_secret_env": "COOKIE_SECRET",
             "redirect_uri": "http://127.0.0.1:8501/oauth2callback"},
}
RAW = {"store": {"dsn": "host=127.0.0.1 dbname=store"}, "auth": OIDC}


def test_the_collector_reads_an_oidc_config_without_the_dashboards_secrets() -> None:
    config = parse_config(RAW, environ={})
    assert config.auth.oidc is not None
    assert config.auth.oidc.unset == ("OIDC_SECRET", "COOKIE_SECRET")
    with pytest.raises(ConfigError, match="OIDC_SECRET, COOKIE_SECRET, not set for the dashboard"):
        auth_secrets_toml(config)


def test_the_dashboard_writes_both_secrets_when_they_are_set() -> None:
    config = parse_config(RAW, environ={"OIDC_SECRET": "s3cr3t-client", "COOKIE_SECRET": "c00kie"})
    text = auth_secrets_toml(config)
    assert text is not None
    assert 'client_secret = "s3cr3t-client"' in text and 'cookie_secret = "c00kie"' in text


def test_an_oidc_config_without_a_client_secret_source_is_refused() -> None:
    oidc = {**OIDC, "oidc": {k: v for k, v in OIDC["oidc"].items()  # type: ignore[attr-defined]
                             if k != "client_secret_env"}}
    with pytest.raises(ConfigError, match="client_secret_env"):
        parse_config({**RAW, "auth": oidc}, environ={})
