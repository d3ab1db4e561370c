"""The security parts of the config: [auth] (modes, roles, OIDC, proxy), the store's read and
audit roles, and [security]; each mistake refused in one line that says how to fix it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collectors.core.config import Config, parse_config
from collectors.core.errors import ConfigError

STORE = {"dsn": "host=127.0.0.1 dbname=kasho_ops user=kasho_ops"}
ROLES = {"admin": ["group:kasho-dba"], "viewer": ["vera@kasho.example"]}
OIDC = {"server_metadata_url": "https://idp.example/.well-known/openid-configuration",
        "client_id": "kasho-ops", "client_secret_env": "OIDC_SECRET",
        "redirect_uri": "https://ops.example/oauth2callback"}
PROXY = {"trusted_addresses": ["127.0.2.5", "127.0.17.0/24"]}


def config(auth: dict[str, Any] | None = None, env: dict[str, str] | None = None,
           **raw: Any) -> Config:
    document: dict[str, Any] = {"store": STORE, **raw}
    if auth is not None:
        document["auth"] = auth
    return parse_config(document, environ=env or {}, known_groups=set())


def refused(pattern: str, auth: dict[str, Any] | None = None,
            env: dict[str, str] | None = None, **raw: Any) -> None:
    with pytest.raises(ConfigError, match=pattern):
        config(auth, env, **raw)


def test_the_default_is_mode_none_with_viewers() -> None:
    auth = config().auth
    assert (auth.mode, auth.none_role, auth.oidc, auth.proxy) == ("none", "viewer", None, None)
    assert config({"none_role": "operator"}).auth.none_role == "operator"


def test_mode_none_only_on_loopback() -> None:
    for address in ("127.0.0.1", "::1", "localhost"):
        assert config(dashboard={"address": address}).auth.mode == "none"
    refused(r'auth\.mode = "none" .* allowed only on loopback, not 0\.0\.0\.0',
            env={"KASHO_OPS_DASHBOARD_ADDRESS": "0.0.0.0"})


@pytest.mark.parametrize(("auth", "pattern"), [
    ({"mode": "ldap"}, r"auth\.mode must be one of none, proxy, oidc \(got 'ldap'\)"),
    ({"none_role": "root"}, r"auth\.none_role must be one of viewer, operator, admin"),
    ({"mode": "proxy", "proxy": PROXY}, r"needs \[auth\.roles\]: list who is"),
    ({"roles": "ada"}, r"\[auth\.roles\] must be a table"),
    ({"roles": {"superuser": ["ada@kasho.example"]}},
     r"unknown key 'superuser' in \[auth\.roles\]"),
    ({"roles": {"admin": "ada@kasho.example"}}, r"auth\.roles\.admin must be a list"),
    ({"roles": {"admin": [""]}}, r"auth\.roles\.admin must be a list"),
    ({"mode": "oidc", "roles": ROLES}, r'needs an \[auth\.oidc\] table'),
    ({"mode": "proxy", "roles": ROLES}, r"needs \[auth\.proxy\] trusted_addresses"),
    ({"mode": "proxy", "roles": ROLES, "proxy": {"trusted_addresses": "127.0.2.5"}},
     r"trusted_addresses must be a list"),
    ({"mode": "proxy", "roles": ROLES, "proxy": {"trusted_addresses": ["proxy.internal"]}},
     r"'proxy\.internal' is not an IP address or network"),
    ({"mode": "proxy", "roles": ROLES, "proxy": {**PROXY, "user_header": "X User"}},
     r"auth\.proxy\.user_header must be an HTTP header name"),
    ({"mode": "proxy", "roles": ROLES, "proxy": {**PROXY, "secret": "x"}},
     r"unknown key 'secret' in \[auth\.proxy\]"),
])
def test_auth_mistakes_are_refused(auth: dict[str, Any], pattern: str) -> None:
    refused(pattern, auth)


def test_proxy_settings() -> None:
    proxy = config({"mode": "proxy", "roles": ROLES, "proxy": {
        **PROXY, "user_header": "X-Auth-Request-Email"}}).auth.proxy
    assert proxy is not None
    assert proxy.trusted_addresses == ("127.0.2.5", "127.0.17.0/24")
    assert (proxy.user_header, proxy.groups_header) == ("X-Auth-Request-Email",
                                                        "X-Forwarded-Groups")


def test_roles_are_read_as_written() -> None:
    members = config({"mode": "proxy", "roles": ROLES, "proxy": PROXY}).auth.members
    assert members == {"viewer": ("vera@kasho.example",), "operator": (),
                       "admin": ("group:kasho-dba",)}


@pytest.mark.parametrize(("change", "pattern"), [
    ({"client_id": ""}, r"auth\.oidc\.client_id is missing"),
    ({"server_metadata_url": "idp.example/x"}, r"server_metadata_url must be an absolute"),
    ({"redirect_uri": "https://ops.example/"}, r"redirect_uri must be the dashboard's URL "
                                               r"ending in /oauth2callback"),
    ({"client_secret_env": None}, r"needs client_secret_env .* or client_secret_file; "
                                  r"secrets never go in the config file"),
    ({"client_secret": "hunter2"}, r"unknown key 'client_secret' in \[auth\.oidc\]"),
])
def test_oidc_mistakes_are_refused(change: dict[str, Any], pattern: str) -> None:
    oidc = {k: v for k, v in {**OIDC, **change}.items() if v is not None}
    refused(pattern, {"mode": "oidc", "roles": ROLES, "oidc": oidc},
            env={"OIDC_SECRET": "s3cret"})


def test_oidc_secret_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "client-secret"
    secret.write_text("from-a-file\n")
    oidc = {k: v for k, v in OIDC.items() if k != "client_secret_env"}
    settings = config({"mode": "oidc", "roles": ROLES,
                       "oidc": {**oidc, "client_secret_file": str(secret),
                                "groups_claim": "roles"}}).auth.oidc
    assert settings is not None and settings.client_secret is not None
    assert settings.client_secret.reveal() == "from-a-file"
    assert "from-a-file" not in repr(settings)
    assert settings.groups_claim == "roles"
    refused(r"client_secret_file .*: cannot read", {"mode": "oidc", "roles": ROLES, "oidc": {
        **oidc, "client_secret_file": str(tmp_path / "missing")}})


def test_the_store_roles_and_their_environment_overrides() -> None:
    store = config(store={**STORE, "read_dsn": "host=127.0.0.1 dbname=kasho_ops user=dash",
                          "audit_dsn": "host=127.0.0.1 dbname=kasho_ops user=audit"}).store
    assert store.dashboard_dsn.reveal().endswith("user=dash")
    assert store.audit_writer_dsn.reveal().endswith("user=audit")
    seen = store.for_dashboard()
    assert seen.dsn.reveal().endswith("user=dash")  # every page reads through the read role
    assert seen.audit_writer_dsn.reveal().endswith("user=audit")
    env = {"KASHO_OPS_STORE_READ_DSN": "host=db dbname=kasho_ops user=env_dash password=x",
           "KASHO_OPS_STORE_AUDIT_DSN": "host=db dbname=kasho_ops user=env_audit"}
    overridden = config(env=env, store={**STORE, "read_dsn": "host=127.0.0.1 user=dash"}).store
    assert overridden.dashboard_dsn.reveal().endswith("user=env_dash password=x")
    assert overridden.audit_writer_dsn.reveal().endswith("user=env_audit")
    assert "password=x" not in repr(overridden)


def test_without_store_roles_everything_uses_the_store_dsn() -> None:
    store = config().store
    assert store.dashboard_dsn == store.audit_writer_dsn == store.dsn
    assert store.for_dashboard().dsn == store.dsn


def test_a_bad_store_role_dsn_is_refused() -> None:
    refused(r"store\.read_dsn", store={**STORE, "read_dsn": "host=127.0.0.1 nonsense"})


def test_encryption_at_rest_is_declared_in_words() -> None:
    assert config(security={"encryption_at_rest": "LUKS on the data volume"}).security \
        .encryption_at_rest == "LUKS on the data volume"
    assert config().security.encryption_at_rest is None
    refused(r"security\.encryption_at_rest must say how", security={"encryption_at_rest": " "})
    refused(r"security\.encryption_at_rest must say how", security={"encryption_at_rest": True})
    refused(r"unknown key 'tde' in \[security\]", security={"tde": True})
