"""Load and validate kasho-ops.toml, with environment overrides.

Every problem becomes one ConfigError line naming the key and the fix: every value is checked
for its type and its range (`LIMITS`), every DSN for what libpq would misread (a NUL byte, a
port out of range), and a file or password file that is not UTF-8 is an error, not a crash.
Secrets never leave this module as plain strings: DSNs and passwords are wrapped in `Secret`,
and a password written into a DSN in the file is accepted with a warning to move it.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg.conninfo

from collectors.alerts.settings import (
    ALERTS_KEYS,
    METRICS_KEYS,
    RULE_OVERRIDE_KEYS,
    WEBHOOK_KEYS,
    AlertSettings,
    MetricsSettings,
    parse_alert_settings,
    parse_metrics_settings,
)
from collectors.backups import settings as backup_settings
from collectors.core.access import ROLES, Role
from collectors.core.errors import ConfigError
from collectors.core.redact import Secret, redact

DEFAULT_CONFIG_FILE = "kasho-ops.toml"
CONFIG_ENV = "KASHO_OPS_CONFIG"
DASHBOARD_ADDRESS_ENV = "KASHO_OPS_DASHBOARD_ADDRESS"
TARGET_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """A monitored PostgreSQL server."""

    name: str
    dsn: Secret
    password: Secret | None = None
    actions_dsn: Secret | None = None  # a role with pg_signal_backend, for DBA actions only
    disk_capacity_bytes: int | None = None  # the data disk's size, for the disk-full forecast
    host_filesystem: bool = False  # the collector runs on the database host (statvfs)
    explain_dsn: Secret | None = None  # a role with the statements' table rights, EXPLAIN only
    kind: str = "postgres"  # or "pgbouncer": its admin console (collectors/core/target_kinds.py)
    fronts: str | None = None  # pgbouncer: the postgres target whose clients it pools
    pgbackrest: backup_settings.PgBackRestSource | None = None
    business_dsn: Secret | None = None  # a role with SELECT on Kasho's tables, business groups

    def business(self) -> Target | None:
        """This target as its business role sees it (no password of the monitoring role's)."""
        if self.business_dsn is None:
            return None
        return Target(name=self.name, dsn=self.business_dsn)

    def connect_kwargs(self) -> dict[str, Any]:
        """libpq parameters for this target (password only if configured explicitly)."""
        params: dict[str, Any] = psycopg.conninfo.conninfo_to_dict(self.dsn.reveal())
        if self.password:
            params["password"] = self.password.reveal()
        return params

    @property
    def display_dsn(self) -> str:
        return redact(self.dsn.reveal())


# Store tables that are not a metric group's but are partitioned by day too.
DERIVED_TABLES = ("collector_runs", "query_stats_hourly", "query_stats_daily",
                  "query_load_hourly")
# Days kept where [retention] does not say: per-interval statements are the bulk of the store
# and their rollups answer long ranges; everything else keeps [store] retention_days.
RETENTION_DEFAULTS: dict[str, int] = {
    "query_stats": 3,
    "query_stats_hourly": 90,
    "query_load_hourly": 90,
    "query_stats_daily": 730,
}


@dataclass(frozen=True)
class StoreSettings:
    dsn: Secret  # the collector's writing role (owns the kasho_ops schema)
    retention_days: int = 30
    read_dsn: Secret | None = None  # the dashboard's SELECT-only role; None: dsn
    audit_dsn: Secret | None = None  # INSERT on the audit tables only; None: dsn
    retention: dict[str, int] = field(default_factory=lambda: dict(RETENTION_DEFAULTS))

    def retention_for(self, table: str) -> int:
        """Days of daily partitions kept for a store table."""
        return self.retention.get(table, self.retention_days)

    @property
    def dashboard_dsn(self) -> Secret:
        """What the dashboard reads the store with."""
        return self.read_dsn or self.dsn

    def for_dashboard(self) -> StoreSettings:
        """The store as the dashboard sees it: `dsn` is the SELECT-only role (so every page's
        `store.dsn` reads through it) and audit rows keep their own writer."""
        return replace(self, dsn=self.dashboard_dsn, audit_dsn=self.audit_writer_dsn)

    @property
    def audit_writer_dsn(self) -> Secret:
        """What sign-ins and actions append their audit rows with."""
        return self.audit_dsn or self.dsn

    @property
    def display_dsn(self) -> str:
        return redact(self.dsn.reveal())


@dataclass(frozen=True)
class CollectorSettings:
    statement_timeout_ms: int = 5000
    lock_timeout_ms: int = 500
    connect_timeout_seconds: int = 5
    max_connections_per_target: int = 2
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 60.0
    intervals: dict[str, int] = field(default_factory=dict)
    top_tables: int = 50  # per ranking: per-table and per-index history is kept for these
    lease_seconds: float = 10.0  # collectors sharing targets: a dead one's are taken after this


@dataclass(frozen=True)
class DashboardSettings:
    address: str = "127.0.0.1"
    port: int = 8501
    stale_after_intervals: float = 3.0
    actions_enabled: bool = False


AUTH_MODES = ("none", "proxy", "oidc")


@dataclass(frozen=True)
class OidcSettings:
    """st.login's provider; the secrets are written to a private secrets.toml at start."""

    server_metadata_url: str
    client_id: str
    client_secret: Secret | None  # None only when its variable is unset (see `unset`)
    redirect_uri: str  # the dashboard's public URL + /oauth2callback ({port} allowed)
    cookie_secret: Secret | None = None  # None: a new random one per dashboard start
    groups_claim: str = "groups"
    scopes: str = "openid email profile"
    # Secret variables named here but not set in this process's environment: only the
    # dashboard needs them (and refuses to start without them); the collector and the
    # migrations read the same file without the dashboard's secrets.
    unset: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProxySettings:
    """An authenticating reverse proxy in front of the dashboard (oauth2-proxy, …)."""

    trusted_addresses: tuple[str, ...]  # IP addresses or networks the proxy connects from
    user_header: str = "X-Forwarded-Email"
    groups_header: str = "X-Forwarded-Groups"


@dataclass(frozen=True)
class AuthSettings:
    """[auth]: who may sign in and with which role (collectors/core/access.py)."""

    mode: str = "none"  # one of AUTH_MODES
    members: dict[Role, tuple[str, ...]] = field(default_factory=dict)  # e-mails, group:NAME
    none_role: Role = "viewer"  # everyone's role in mode "none" (loopback only)
    oidc: OidcSettings | None = None
    proxy: ProxySettings | None = None


@dataclass(frozen=True)
class SecuritySettings:
    """[security]: what the Security page cannot detect and takes from the operator."""

    encryption_at_rest: str | None = None  # how the data directory is encrypted, declared


@dataclass(frozen=True)
class Config:
    store: StoreSettings
    targets: tuple[Target, ...]
    collector: CollectorSettings
    dashboard: DashboardSettings
    source: Path | None = None
    auth: AuthSettings = field(default_factory=AuthSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    backups: backup_settings.BackupSettings = field(
        default_factory=backup_settings.BackupSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)

    def target(self, name: str) -> Target:
        for target in self.targets:
            if target.name == name:
                return target
        raise ConfigError(f"no target named {name!r}; configured targets: "
                          f"{', '.join(t.name for t in self.targets) or 'none'}")


_SECTION_KEYS: dict[str, set[str]] = {
    "store": {"dsn", "retention_days", "read_dsn", "audit_dsn", "password_env", "password_file"},
    "collector": {"statement_timeout_ms", "lock_timeout_ms", "connect_timeout_seconds",
                  "max_connections_per_target", "backoff_base_seconds", "backoff_cap_seconds",
                  "lease_seconds", "top_tables"},
    "dashboard": {"address", "port", "stale_after_intervals", "actions_enabled"},
    "target": {"name", "dsn", "password_env", "password_file", "actions_dsn", "explain_dsn",
               "kind", "fronts", "business_dsn", "disk_capacity_bytes", "host_filesystem",
               *backup_settings.TARGET_KEYS},
    "auth": {"mode", "none_role"},  # plus the tables in _AUTH_TABLES
    "auth.roles": set(ROLES),
    "auth.oidc": {"server_metadata_url", "client_id", "client_secret_env", "client_secret_file",
                  "redirect_uri", "cookie_secret_env", "groups_claim", "scopes"},
    "auth.proxy": {"trusted_addresses", "user_header", "groups_header"},
    "security": {"encryption_at_rest"},
    "backups": set(backup_settings.SECTION_KEYS),
    # parsed by collectors/alerts/settings.py; listed here so the docs test sees them
    "alerts": ALERTS_KEYS - {"rules", "webhooks"},
    "alerts.rules": RULE_OVERRIDE_KEYS,
    "alerts.webhooks": WEBHOOK_KEYS,
    "metrics": METRICS_KEYS,
}
_TOP_LEVEL = {"store", "targets", "collector", "intervals", "dashboard", "auth", "security",
              "retention", "backups", "alerts", "metrics"}
_AUTH_TABLES = {"roles", "oidc", "proxy"}
LOOPBACK_ADDRESSES = {"127.0.0.1", "::1", "localhost"}
TARGET_KINDS = ("postgres", "pgbouncer")

# The accepted range of every number, (low, high), inclusive: wide enough for any real
# deployment, narrow enough that no value overflows a timer or a date further down.
LIMITS: dict[str, tuple[float, float]] = {
    "store.retention_days": (1, 3650),
    "retention": (1, 3650),
    "collector.statement_timeout_ms": (100, 600_000),
    "collector.lock_timeout_ms": (1, 600_000),
    "collector.connect_timeout_seconds": (2, 300),  # libpq waits at least 2 s anyway
    "collector.max_connections_per_target": (1, 1000),  # and at most 5, below
    "collector.backoff_base_seconds": (0.1, 3600),
    "collector.backoff_cap_seconds": (0.1, 86_400),
    "collector.lease_seconds": (1, 3600),
    "collector.top_tables": (1, 100_000),
    "target.disk_capacity_bytes": (1, 2**62),
    "intervals": (1, 86_400),
    "dashboard.port": (1, 65_535),
    "dashboard.stale_after_intervals": (1, 1000),
}
MAX_CONFIG_BYTES = 1 << 20
MAX_PASSWORD_FILE_BYTES = 64 << 10
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

Fail = Callable[[str], ConfigError]


def env_key(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def resolve_config_path(explicit: str | os.PathLike[str] | None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return Path(DEFAULT_CONFIG_FILE)


def load_config(path: str | os.PathLike[str] | None = None,
                known_groups: set[str] | None = None) -> Config:
    """Read the TOML file (explicit path, $KASHO_OPS_CONFIG, or ./kasho-ops.toml) and validate."""
    config_path = resolve_config_path(path)
    raw = tomllib_loads(read_config_text(config_path), config_path)
    return parse_config(raw, source=config_path, environ=os.environ, known_groups=known_groups)


def read_config_text(config_path: Path) -> str:
    try:
        with config_path.open("rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {config_path} not found; copy kasho-ops.example.toml to "
            f"{config_path} or pass --config / set {CONFIG_ENV}") from None
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read ({exc.strerror})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{config_path}: larger than {MAX_CONFIG_BYTES >> 20} MiB, which no "
                          "kasho-ops.toml is; check the --config path")
    try:
        return data.decode("utf-8-sig")  # a byte-order mark from a Windows editor is fine
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{config_path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                          f"offset {exc.start}); save the file as UTF-8") from None


def tomllib_loads(text: str, config_path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: not valid TOML ({exc}); fix the syntax") from None
    except RecursionError:
        raise ConfigError(f"{config_path}: not valid TOML (arrays or tables nested too "
                          "deeply); fix the syntax") from None


def parse_config(raw: dict[str, Any], *, source: Path | None = None,
                 environ: Mapping[str, str] | None = None,
                 known_groups: set[str] | None = None) -> Config:
    env = dict(environ or {})
    where = f"{source}: " if source else ""

    def fail(message: str) -> ConfigError:
        return ConfigError(where + message)

    for key in raw:
        if key not in _TOP_LEVEL:
            raise fail(f"unknown top-level key {_shown(key)}; known keys: "
                       f"{', '.join(sorted(_TOP_LEVEL))}")

    def table(name: str) -> dict[str, Any]:
        value = raw.get(name, {})
        if not isinstance(value, dict):
            raise fail(f"[{name}] must be a table")
        allowed = _SECTION_KEYS[name] | (_AUTH_TABLES if name == "auth" else set())
        _reject_unknown(value, allowed, f"[{name}]", fail)
        return value

    store_raw = table("store")
    store_dsn = _from_env_or_file(env, "KASHO_OPS_STORE_DSN", store_raw, "dsn")
    if not store_dsn.value:
        raise fail("store.dsn is missing; set [store] dsn = \"host=... dbname=kasho_ops\" "
                   "or the KASHO_OPS_STORE_DSN environment variable")
    _check_dsn(store_dsn.value, "KASHO_OPS_STORE_DSN" if store_dsn.from_env else "store.dsn",
               fail, warn_password=not store_dsn.from_env, source=source)
    store_password = _password(store_raw, env, "store", fail)
    role_dsns: dict[str, Secret | None] = {}
    for key in ("read_dsn", "audit_dsn"):
        variable = f"KASHO_OPS_STORE_{key.upper()}"
        value = _from_env_or_file(env, variable, store_raw, key)
        if value.value is not None:
            _check_dsn(value.value, variable if value.from_env else f"store.{key}", fail,
                       warn_password=not value.from_env, source=source)
        role_dsns[key] = Secret(value.value) if value.value else None
    store = StoreSettings(dsn=Secret(_with_password(store_dsn.value, store_password)),
                          retention_days=_integer(store_raw, "retention_days", 30, "store",
                                                  fail),
                          retention=_retention(raw.get("retention", {}), known_groups, fail),
                          **role_dsns)

    collector_raw = table("collector")
    defaults = CollectorSettings()
    intervals = _intervals(raw.get("intervals", {}), env, known_groups, fail)

    def collector_integer(key: str, default: int) -> int:
        return _integer(collector_raw, key, default, "collector", fail)

    def collector_number(key: str, default: float) -> float:
        return _number(collector_raw, key, default, "collector", fail)

    collector = CollectorSettings(
        statement_timeout_ms=collector_integer("statement_timeout_ms",
                                               defaults.statement_timeout_ms),
        lock_timeout_ms=collector_integer("lock_timeout_ms", defaults.lock_timeout_ms),
        connect_timeout_seconds=collector_integer("connect_timeout_seconds",
                                                  defaults.connect_timeout_seconds),
        max_connections_per_target=collector_integer("max_connections_per_target",
                                                     defaults.max_connections_per_target),
        backoff_base_seconds=collector_number("backoff_base_seconds",
                                              defaults.backoff_base_seconds),
        backoff_cap_seconds=collector_number("backoff_cap_seconds",
                                             defaults.backoff_cap_seconds),
        intervals=intervals,
        top_tables=collector_integer("top_tables", defaults.top_tables),
        lease_seconds=collector_number("lease_seconds", defaults.lease_seconds),
    )
    if collector.max_connections_per_target > 5:
        raise fail("collector.max_connections_per_target must be at most 5 so monitoring "
                   "never crowds out the application; lower it")
    if collector.backoff_cap_seconds < collector.backoff_base_seconds:
        raise fail(f"collector.backoff_cap_seconds ({collector.backoff_cap_seconds:g}) is "
                   f"below backoff_base_seconds ({collector.backoff_base_seconds:g}); the cap "
                   "is the longest wait, so make it at least the base")

    dashboard_raw = table("dashboard")
    address = _dashboard_address(dashboard_raw, env, fail)
    actions_enabled = dashboard_raw.get("actions_enabled", False)
    if not isinstance(actions_enabled, bool):
        raise fail("dashboard.actions_enabled must be true or false "
                   f"(got {_shown(actions_enabled)})")
    dashboard = DashboardSettings(
        address=address,
        port=_integer(dashboard_raw, "port", 8501, "dashboard", fail),
        stale_after_intervals=_number(dashboard_raw, "stale_after_intervals", 3.0,
                                      "dashboard", fail),
        actions_enabled=actions_enabled,
    )

    return Config(store=store, targets=_targets(raw.get("targets", []), env, fail, source),
                  collector=collector, dashboard=dashboard, source=source,
                  auth=_auth(table("auth"), env, dashboard, fail),
                  security=_security(table("security"), fail),
                  backups=backup_settings.parse_backup_settings(table("backups"), fail),
                  alerts=parse_alert_settings(raw.get("alerts"), env, fail),
                  metrics=parse_metrics_settings(raw.get("metrics"), env, fail))


@dataclass(frozen=True)
class _Setting:
    value: Any
    from_env: bool


def _from_env_or_file(env: dict[str, str], variable: str, section: dict[str, Any],
                      key: str) -> _Setting:
    if env.get(variable):
        return _Setting(env[variable], True)
    return _Setting(section.get(key), False)


def _security(section: dict[str, Any], fail: Fail) -> SecuritySettings:
    declared = section.get("encryption_at_rest")
    if declared is not None and (not isinstance(declared, str) or not declared.strip()):
        raise fail("security.encryption_at_rest must say how the data directory is encrypted, "
                   "e.g. \"LUKS on the data volume\"")
    return SecuritySettings(encryption_at_rest=declared)


def _auth(section: dict[str, Any], env: dict[str, str], dashboard: DashboardSettings,
          fail: Fail) -> AuthSettings:
    mode = section.get("mode", "none")
    if not isinstance(mode, str) or mode not in AUTH_MODES:
        raise fail(f"auth.mode must be one of {', '.join(AUTH_MODES)} (got {_shown(mode)})")
    if mode == "none" and dashboard.address not in LOOPBACK_ADDRESSES:
        raise fail(f"auth.mode = \"none\" lets anyone who reaches the dashboard in, so it is "
                   f"allowed only on loopback, not {dashboard.address}; set auth.mode to "
                   "\"oidc\" or \"proxy\"")
    roles_raw = section.get("roles", {})
    if not isinstance(roles_raw, dict):
        raise fail("[auth.roles] must be a table of role = [\"e-mail\", \"group:NAME\", ...]")
    _reject_unknown(roles_raw, _SECTION_KEYS["auth.roles"], "[auth.roles]", fail)
    members: dict[Role, tuple[str, ...]] = {}
    for role in ROLES:
        entries = roles_raw.get(role, [])
        if not isinstance(entries, list) or not all(isinstance(e, str) and e.strip()
                                                    for e in entries):
            raise fail(f"auth.roles.{role} must be a list of e-mail addresses and "
                       "\"group:NAME\" entries")
        members[role] = tuple(e.strip() for e in entries)
    none_role = section.get("none_role", "viewer")
    if not isinstance(none_role, str) or none_role not in ROLES:
        raise fail(f"auth.none_role must be one of {', '.join(ROLES)} (got {_shown(none_role)})")
    if mode != "none" and not any(members.values()):
        raise fail(f"auth.mode = {mode!r} needs [auth.roles]: list who is a viewer, operator "
                   "or admin (e-mails or \"group:NAME\"); nobody else gets in")
    oidc = _oidc(section.get("oidc"), env, fail) if mode == "oidc" else None
    proxy = _proxy(section.get("proxy"), fail) if mode == "proxy" else None
    return AuthSettings(mode=mode, members=members, none_role=none_role, oidc=oidc,
                        proxy=proxy)


def _secret_from(section: dict[str, Any], key: str, env: dict[str, str], label: str,
                 fail: Fail, required: bool) -> Secret | None:
    """A secret named by `<key>_env` (an environment variable) or `<key>_file`."""
    secret = _secret(section, key, env, label, fail)
    if secret is not None:
        return secret
    if required:
        raise fail(f"{label} needs {key}_env (an environment variable) or {key}_file; "
                   "secrets never go in the config file")
    return None


def _oidc(raw: Any, env: dict[str, str], fail: Fail) -> OidcSettings:
    if not isinstance(raw, dict):
        raise fail("auth.mode = \"oidc\" needs an [auth.oidc] table with "
                   "server_metadata_url, client_id, client_secret_env and redirect_uri")
    _reject_unknown(raw, _SECTION_KEYS["auth.oidc"], "[auth.oidc]", fail)
    for key in ("server_metadata_url", "client_id", "redirect_uri"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise fail(f"auth.oidc.{key} is missing")
    for key in ("server_metadata_url", "redirect_uri"):
        if not raw[key].startswith(("https://", "http://")):
            raise fail(f"auth.oidc.{key} must be an absolute http(s) URL (got {raw[key]!r})")
    if not raw["redirect_uri"].endswith("/oauth2callback"):
        raise fail("auth.oidc.redirect_uri must be the dashboard's URL ending in "
                   "/oauth2callback, e.g. https://ops.example.com/oauth2callback")
    if "client_secret_env" not in raw and "client_secret_file" not in raw:
        raise fail("auth.oidc needs client_secret_env (an environment variable) or "
                   "client_secret_file; secrets never go in the config file")
    for key in ("client_secret_env", "cookie_secret_env"):
        if key in raw and (not isinstance(raw[key], str)
                           or not ENV_NAME_PATTERN.fullmatch(raw[key])):
            raise fail(f"auth.oidc.{key} must name an environment variable "
                       f"(got {_shown(raw[key])})")
    unset = tuple(str(raw[f"{key}_env"]) for key in ("client_secret", "cookie_secret")
                  if f"{key}_env" in raw and not env.get(str(raw[f"{key}_env"])))
    present = {key: value for key, value in raw.items()
               if not (key.endswith("_env") and str(value) in unset)}
    client_secret = _secret_from(present, "client_secret", env, "auth.oidc", fail,
                                 required=False)
    return OidcSettings(
        server_metadata_url=raw["server_metadata_url"], client_id=raw["client_id"],
        client_secret=client_secret, redirect_uri=raw["redirect_uri"],
        cookie_secret=_secret_from(present, "cookie_secret", env, "auth.oidc", fail,
                                   required=False),
        unset=unset,
        groups_claim=str(raw.get("groups_claim", "groups")),
        scopes=str(raw.get("scopes", "openid email profile")))


def _proxy(raw: Any, fail: Fail) -> ProxySettings:
    if not isinstance(raw, dict) or not raw.get("trusted_addresses"):
        raise fail("auth.mode = \"proxy\" needs [auth.proxy] trusted_addresses: the addresses "
                   "the authenticating proxy connects from (e.g. [\"127.0.0.1\"])")
    _reject_unknown(raw, _SECTION_KEYS["auth.proxy"], "[auth.proxy]", fail)
    addresses = raw["trusted_addresses"]
    if not isinstance(addresses, list):
        raise fail("auth.proxy.trusted_addresses must be a list of IP addresses or networks")
    for address in addresses:
        try:
            ipaddress.ip_network(str(address), strict=False)
        except ValueError:
            raise fail(f"auth.proxy.trusted_addresses: {address!r} is not an IP address or "
                       "network") from None
    headers = {key: raw.get(key, default) for key, default in
               (("user_header", "X-Forwarded-Email"), ("groups_header", "X-Forwarded-Groups"))}
    for key, value in headers.items():
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9-]+", value):
            raise fail(f"auth.proxy.{key} must be an HTTP header name (got {value!r})")
    return ProxySettings(trusted_addresses=tuple(str(a) for a in addresses), **headers)


def _dashboard_address(section: dict[str, Any], env: dict[str, str], fail: Fail) -> str:
    """[dashboard] address: loopback only, unless KASHO_OPS_DASHBOARD_ADDRESS says otherwise.

    The file can only name a loopback address, so no shared or copied config exposes the
    dashboard. A container is the exception: Streamlit must listen on the container's own
    interface, and the host decides who reaches it (docker-compose.yml publishes the port on
    the host's 127.0.0.1 only). Whoever starts the process makes that choice, so it is an
    environment override, limited to IP literals, and logged.
    """
    address = section.get("address", "127.0.0.1")
    if not isinstance(address, str) or address not in LOOPBACK_ADDRESSES:
        raise fail(f"dashboard.address {_shown(address)} is not a loopback address; bind to "
                   "127.0.0.1 and put a TLS reverse proxy with authentication in front "
                   f"(inside a container, set {DASHBOARD_ADDRESS_ENV}=0.0.0.0 instead)")
    override = env.get(DASHBOARD_ADDRESS_ENV, "").strip()
    if not override:
        return address
    if override in LOOPBACK_ADDRESSES:
        return override
    try:
        ip = ipaddress.ip_address(override)
    except ValueError:
        raise fail(f"{DASHBOARD_ADDRESS_ENV} {_shown(override)} is not an IP address; use "
                   "0.0.0.0 inside a container (publish the port on the host's 127.0.0.1) "
                   "or 127.0.0.1") from None
    if not ip.is_loopback:
        _warn_dashboard_exposed(override)
    return override


@functools.cache
def _warn_dashboard_exposed(address: str) -> None:
    # Once per process and address, however often the config is parsed.
    log.warning("dashboard binds %s because %s is set: it listens beyond loopback with no TLS "
                "of its own, which is safe only where something else limits who reaches the "
                "port, such as a container published on the host's 127.0.0.1, or a firewall",
                address, DASHBOARD_ADDRESS_ENV)


@functools.cache
def _warn_password_in_dsn(label: str, source: Path | None) -> None:
    # Once per process and key, however often the config is parsed (the dashboard re-reads it).
    where = f"{source}: " if source else ""
    instead = ("password_env or password_file (or ~/.pgpass)" if label.endswith(".dsn")
               else "~/.pgpass, or the environment variable that overrides this key")
    log.warning("%s%s holds a password, readable by anyone who can read the config file; "
                "remove it from the dsn and use %s", where, label, instead)


def _env_overrides_clash(name: str, other: str) -> bool:
    """'a-b' and 'a_b' share KASHO_OPS_TARGET_A_B_DSN; 'x-actions' reads x's ACTIONS_DSN,
    'x-explain' x's EXPLAIN_DSN, 'x-business' x's BUSINESS_DSN."""
    key, other_key = env_key(name), env_key(other)
    return key == other_key or any(key == f"{other_key}_{role}" or other_key == f"{key}_{role}"
                                   for role in ("ACTIONS", "EXPLAIN", "BUSINESS"))


def _targets(raw_targets: Any, env: dict[str, str], fail: Fail,
             source: Path | None) -> tuple[Target, ...]:
    if not isinstance(raw_targets, list):
        raise fail("targets must be an array of tables: write each as [[targets]]")
    targets: list[Target] = []
    for index, item in enumerate(raw_targets):
        label = f"targets[{index}]"
        if not isinstance(item, dict):
            raise fail(f"{label} must be a table with name and dsn")
        _reject_unknown(item, _SECTION_KEYS["target"], label, fail)
        name = item.get("name")
        if not isinstance(name, str) or not TARGET_NAME_PATTERN.fullmatch(name):
            raise fail(f"{label}.name must be lowercase letters, digits, '-' or '_' "
                       f"(got {_shown(name)}); for example name = \"kasho-primary\"")
        if any(t.name == name for t in targets):
            raise fail(f"{label}.name {name!r} is used twice; target names must be unique")
        clash = next((t.name for t in targets if _env_overrides_clash(name, t.name)), None)
        if clash is not None:
            raise fail(f"{label}.name {name!r} and target {clash!r} would read the same "
                       f"environment overrides (KASHO_OPS_TARGET_{env_key(name)}_...); "
                       "rename one of them")
        dsns: dict[str, Any] = {}
        for key in ("dsn", "actions_dsn", "explain_dsn", "business_dsn"):
            variable = f"KASHO_OPS_TARGET_{env_key(name)}_{key.upper()}"
            setting = _from_env_or_file(env, variable, item, key)
            if key == "dsn" and not setting.value:
                raise fail(f"{label}.dsn is missing for target {name!r}; set dsn = \"host=... "
                           f"dbname=...\" or {variable}")
            if setting.value is not None:
                _check_dsn(setting.value, variable if setting.from_env else f"{label}.{key}",
                           fail, warn_password=not setting.from_env, source=source)
            dsns[key] = setting.value
        dsn, actions_dsn, explain_dsn, business_dsn = (
            dsns["dsn"], dsns["actions_dsn"], dsns["explain_dsn"], dsns["business_dsn"])
        kind = item.get("kind", "postgres")
        if not isinstance(kind, str) or kind not in TARGET_KINDS:
            raise fail(f"{label}.kind must be one of {', '.join(TARGET_KINDS)} "
                       f"(got {_shown(kind)})")
        fronts = item.get("fronts")
        if fronts is not None and not isinstance(fronts, str):
            raise fail(f"{label}.fronts must name a postgres target (got {_shown(fronts)})")
        if fronts is not None and kind != "pgbouncer":
            raise fail(f"{label}.fronts only applies to kind = \"pgbouncer\"; remove it")
        if kind == "pgbouncer" and (actions_dsn is not None or explain_dsn is not None):
            raise fail(f"{label}: a pgbouncer target has no sessions to cancel or statements "
                       "to explain; remove actions_dsn / explain_dsn")
        if kind == "pgbouncer" and business_dsn is not None:
            raise fail(f"{label}: a pgbouncer target has no Kasho tables; set business_dsn on "
                       "the postgres target it fronts")
        host_filesystem = item.get("host_filesystem", False)
        if not isinstance(host_filesystem, bool):
            raise fail(f"{label}.host_filesystem must be true or false")
        capacity = (_integer(item, "disk_capacity_bytes", 1, label, fail,
                             limits="target.disk_capacity_bytes")
                    if "disk_capacity_bytes" in item else None)
        targets.append(Target(name=name, dsn=Secret(dsn),
                              password=_password(item, env, label, fail),
                              actions_dsn=Secret(actions_dsn) if actions_dsn else None,
                              explain_dsn=Secret(explain_dsn) if explain_dsn else None,
                              kind=kind, fronts=fronts,
                              business_dsn=Secret(business_dsn) if business_dsn else None,
                              disk_capacity_bytes=capacity, host_filesystem=host_filesystem,
                              pgbackrest=backup_settings.parse_target_pgbackrest(
                                  item, label, fail)))
    postgres_names = {t.name for t in targets if t.kind == "postgres"}
    for index, target in enumerate(targets):
        if target.fronts is not None and target.fronts not in postgres_names:
            raise fail(f"targets[{index}].fronts {target.fronts!r} is not a postgres target; "
                       f"name one of: {', '.join(sorted(postgres_names)) or 'none'}")
    return tuple(targets)


def _password(item: dict[str, Any], env: dict[str, str], label: str,
              fail: Fail) -> Secret | None:
    return _secret(item, "password", env, label, fail)


def _secret(item: dict[str, Any], name: str, env: dict[str, str], label: str,
            fail: Fail) -> Secret | None:
    """The secret named by `<name>_env` (an environment variable's name) or `<name>_file`
    (a UTF-8 file holding only the secret), or None if neither key is set."""
    if f"{name}_env" in item and f"{name}_file" in item:
        raise fail(f"{label} sets both {name}_env and {name}_file; keep one")
    if f"{name}_env" in item:
        variable = item[f"{name}_env"]
        if not isinstance(variable, str) or not ENV_NAME_PATTERN.fullmatch(variable):
            raise fail(f"{label}.{name}_env must name an environment variable, such as "
                       f"\"KASHO_MONITOR_PASSWORD\" (got {_shown(variable)})")
        if variable not in env:
            raise fail(f"{label}.{name}_env names {variable!r}, which is not set; export it "
                       "or remove the key to use ~/.pgpass / PGPASSWORD")
        return Secret(_checked_password(env[variable], f"{label}.{name}_env {variable}",
                                        fail))
    if f"{name}_file" in item:
        return Secret(_password_from_file(item[f"{name}_file"], f"{label}.{name}_file", fail))
    return None


def _password_from_file(value: Any, key: str, fail: Fail) -> str:
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise fail(f"{key} must be the path of a file holding the secret, such as "
                   f"\"/run/secrets/kasho_monitor_password\" (got {_shown(value)})")
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # ~user that does not exist
        raise fail(f"{key} {value}: cannot find that user's home directory; write the full "
                   "path") from None
    try:
        with path.open("rb") as file:
            data = file.read(MAX_PASSWORD_FILE_BYTES + 1)
    except OSError as exc:
        raise fail(f"{key} {path}: cannot read ({exc.strerror})") from None
    if len(data) > MAX_PASSWORD_FILE_BYTES:
        raise fail(f"{key} {path}: larger than {MAX_PASSWORD_FILE_BYTES >> 10} KiB; it must "
                   "hold only the secret")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise fail(f"{key} {path}: not UTF-8 text; write the secret as UTF-8") from None
    password = text.strip()
    if "\n" in password or "\r" in password:
        raise fail(f"{key} {path}: holds more than one line; it must hold only the secret")
    return _checked_password(password, f"{key} {path}", fail)


def _checked_password(password: str, where: str, fail: Fail) -> str:
    if not password:
        raise fail(f"{where} is empty; put the password there, or remove the key to use "
                   "~/.pgpass")
    if "\0" in password:
        raise fail(f"{where} contains a NUL character, which libpq cannot send")
    return password


def _with_password(dsn: str, password: Secret | None) -> str:
    if password is None:
        return dsn
    return psycopg.conninfo.make_conninfo(dsn, password=password.reveal())


def _retention(raw: Any, known_groups: set[str] | None, fail: Fail) -> dict[str, int]:
    """[retention] table = days, over the built-in RETENTION_DEFAULTS."""
    if not isinstance(raw, dict):
        raise fail("[retention] must be a table of store_table = days")
    known = None if known_groups is None else set(known_groups) | set(DERIVED_TABLES)
    retention = dict(RETENTION_DEFAULTS)
    for table in raw:
        if known is not None and table not in known:
            raise fail(f"retention.{table}: no store table named {table!r}; known tables: "
                       f"{', '.join(sorted(known))}")
        retention[table] = _integer(raw, table, 0, "retention", fail, limits="retention",
                                    unit=" days")
    return retention


def _intervals(raw: Any, env: dict[str, str], known_groups: set[str] | None,
               fail: Fail) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise fail("[intervals] must be a table of group = seconds")
    low, high = LIMITS["intervals"]
    intervals: dict[str, int] = {}
    for group in raw:
        if known_groups is not None and group not in known_groups:
            raise fail(f"intervals.{group}: no metric group named {group!r}; known groups: "
                       f"{', '.join(sorted(known_groups))}")
        intervals[group] = _integer(raw, group, 0, "intervals", fail, limits="intervals",
                                    unit=" seconds")
    for key, value in env.items():
        if key.startswith("KASHO_OPS_INTERVAL_"):
            group = key.removeprefix("KASHO_OPS_INTERVAL_").lower()
            if known_groups is not None and group not in known_groups:
                raise fail(f"{key}: no metric group named {group!r}")
            text = value.strip()
            # ASCII digits only: int() would take '٣' and fail on '²', which isdigit() accepts.
            if not re.fullmatch(r"[0-9]{1,9}", text) or not low <= int(text) <= high:
                raise fail(f"{key} must be a whole number of seconds from {low:g} to "
                           f"{high:g} (got {_shown(value)})")
            intervals[group] = int(text)
    return intervals


def _reject_unknown(section: dict[str, Any], allowed: set[str], label: str, fail: Fail) -> None:
    for key in section:
        if key not in allowed:
            raise fail(f"unknown key {_shown(key)} in {label}; known keys: "
                       f"{', '.join(sorted(allowed))}")


def _check_dsn(dsn: Any, label: str, fail: Fail, *, warn_password: bool = False,
               source: Path | None = None) -> None:
    """A libpq connection string that libpq will read exactly as written."""
    if not isinstance(dsn, str):
        raise fail(f"{label} must be a string, such as \"host=127.0.0.1 dbname=kasho\"")
    if "\0" in dsn:
        raise fail(f"{label} contains a NUL character; libpq would silently cut the string "
                   "there and connect somewhere else. Remove it")
    if not dsn.strip():
        raise fail(f"{label} is empty; use 'host=127.0.0.1 dbname=kasho user=...' or "
                   "postgresql://user@host/db")
    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        reason = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable")
        raise fail(f"{label} is not a valid libpq connection string ({reason}); use "
                   "'host=127.0.0.1 dbname=kasho user=...' or postgresql://user@host/db") from None
    for port in str(params.get("port", "")).split(","):
        if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65_535):
            raise fail(f"{label}: port {_shown(port)} is not a TCP port (1 to 65535)")
    timeout = str(params.get("connect_timeout", ""))
    if timeout and not (timeout.isascii() and timeout.isdigit() and int(timeout) <= 3600):
        raise fail(f"{label}: connect_timeout {_shown(timeout)} must be whole seconds up to "
                   "3600 (or leave it out: [collector] connect_timeout_seconds applies)")
    if "sslmode" in params and params["sslmode"] not in SSL_MODES:
        raise fail(f"{label}: sslmode {_shown(params['sslmode'])} is not one of "
                   f"{', '.join(sorted(SSL_MODES))}")
    if warn_password and params.get("password"):
        _warn_password_in_dsn(label, source)


def _integer(section: dict[str, Any], key: str, default: int, label: str, fail: Fail, *,
             limits: str | None = None, unit: str = "") -> int:
    low, high = LIMITS[limits or f"{label}.{key}"]
    value = section.get(key, default)
    if (not isinstance(value, int) or isinstance(value, bool)
            or not low <= value <= high):
        raise fail(f"{label}.{key} must be a whole number from {low:.0f} to {high:.0f}{unit} "
                   f"(got {_shown(value)})")
    return value


def _number(section: dict[str, Any], key: str, default: float, label: str,
            fail: Fail) -> float:
    low, high = LIMITS[f"{label}.{key}"]
    value = section.get(key, default)
    if (not isinstance(value, int | float) or isinstance(value, bool)
            or not math.isfinite(value) or not low <= value <= high):
        raise fail(f"{label}.{key} must be a number from {low:g} to {high:g} "
                   f"(got {_shown(value)})")
    return float(value)


def _shown(value: Any, limit: int = 60) -> str:
    """A value as the error quotes it: repr, on one line, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
