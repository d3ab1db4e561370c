"""Load and validate kasho-ops.toml, with environment overrides.

Every problem becomes one ConfigError line naming the key and the fix. Secrets never leave
this module as plain strings: DSNs and passwords are wrapped in `Secret`.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg.conninfo

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
    explain_dsn: Secret | None = None  # a role with the statements' table rights, EXPLAIN only
    kind: str = "postgres"  # or "pgbouncer": its admin console (collectors/core/target_kinds.py)
    fronts: str | None = None  # pgbouncer: the postgres target whose clients it pools

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

    def target(self, name: str) -> Target:
        for target in self.targets:
            if target.name == name:
                return target
        raise ConfigError(f"no target named {name!r}; configured targets: "
                          f"{', '.join(t.name for t in self.targets) or 'none'}")


_SECTION_KEYS: dict[str, set[str]] = {
    "store": {"dsn", "retention_days", "read_dsn", "audit_dsn"},
    "collector": {"statement_timeout_ms", "lock_timeout_ms", "connect_timeout_seconds",
                  "max_connections_per_target", "backoff_base_seconds", "backoff_cap_seconds",
                  "lease_seconds"},
    "dashboard": {"address", "port", "stale_after_intervals", "actions_enabled"},
    "target": {"name", "dsn", "password_env", "password_file", "actions_dsn", "explain_dsn",
               "kind", "fronts"},
    "auth": {"mode", "none_role"},  # plus the tables in _AUTH_TABLES
    "auth.roles": set(ROLES),
    "auth.oidc": {"server_metadata_url", "client_id", "client_secret_env", "client_secret_file",
                  "redirect_uri", "cookie_secret_env", "groups_claim", "scopes"},
    "auth.proxy": {"trusted_addresses", "user_header", "groups_header"},
    "security": {"encryption_at_rest"},
}
_TOP_LEVEL = {"store", "targets", "collector", "intervals", "dashboard", "auth", "security",
              "retention"}
_AUTH_TABLES = {"roles", "oidc", "proxy"}
LOOPBACK_ADDRESSES = {"127.0.0.1", "::1", "localhost"}
TARGET_KINDS = ("postgres", "pgbouncer")


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
    if not config_path.exists():
        raise ConfigError(
            f"config file {config_path} not found; copy kasho-ops.example.toml to "
            f"{config_path} or pass --config / set {CONFIG_ENV}")
    try:
        raw = tomllib.loads(config_path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path}: not valid TOML ({exc}); fix the syntax") from None
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read ({exc.strerror})") from None
    return parse_config(raw, source=config_path, environ=os.environ, known_groups=known_groups)


def parse_config(raw: dict[str, Any], *, source: Path | None = None,
                 environ: dict[str, str] | os._Environ[str] | None = None,
                 known_groups: set[str] | None = None) -> Config:
    env = dict(environ or {})
    where = f"{source}: " if source else ""

    def fail(message: str) -> ConfigError:
        return ConfigError(where + message)

    for key in raw:
        if key not in _TOP_LEVEL:
            raise fail(f"unknown top-level key {key!r}; known keys: "
                       f"{', '.join(sorted(_TOP_LEVEL))}")

    def table(name: str) -> dict[str, Any]:
        value = raw.get(name, {})
        if not isinstance(value, dict):
            raise fail(f"[{name}] must be a table")
        allowed = _SECTION_KEYS[name] | (_AUTH_TABLES if name == "auth" else set())
        _reject_unknown(value, allowed, f"[{name}]", fail)
        return value

    store_raw = table("store")
    store_dsn = env.get("KASHO_OPS_STORE_DSN") or store_raw.get("dsn")
    if not store_dsn:
        raise fail("store.dsn is missing; set [store] dsn = \"host=... dbname=kasho_ops\" "
                   "or the KASHO_OPS_STORE_DSN environment variable")
    _check_dsn(store_dsn, "store.dsn", fail)
    role_dsns: dict[str, Secret | None] = {}
    for key in ("read_dsn", "audit_dsn"):
        value = env.get(f"KASHO_OPS_STORE_{key.upper()}") or store_raw.get(key)
        if value:
            _check_dsn(value, f"store.{key}", fail)
        role_dsns[key] = Secret(value) if value else None
    store = StoreSettings(dsn=Secret(store_dsn),
                          retention_days=_positive_int(store_raw, "retention_days", 30,
                                                       "store", fail),
                          retention=_retention(raw.get("retention", {}), known_groups, fail),
                          **role_dsns)

    collector_raw = table("collector")
    defaults = CollectorSettings()
    intervals = _intervals(raw.get("intervals", {}), env, known_groups, fail)
    collector = CollectorSettings(
        statement_timeout_ms=_positive_int(collector_raw, "statement_timeout_ms",
                                           defaults.statement_timeout_ms, "collector", fail),
        lock_timeout_ms=_positive_int(collector_raw, "lock_timeout_ms", defaults.lock_timeout_ms,
                                      "collector", fail),
        connect_timeout_seconds=_positive_int(collector_raw, "connect_timeout_seconds",
                                              defaults.connect_timeout_seconds, "collector", fail),
        max_connections_per_target=_positive_int(collector_raw, "max_connections_per_target",
                                                 defaults.max_connections_per_target,
                                                 "collector", fail),
        backoff_base_seconds=_positive_number(collector_raw, "backoff_base_seconds",
                                              defaults.backoff_base_seconds, "collector", fail),
        backoff_cap_seconds=_positive_number(collector_raw, "backoff_cap_seconds",
                                             defaults.backoff_cap_seconds, "collector", fail),
        intervals=intervals,
        lease_seconds=_positive_number(collector_raw, "lease_seconds", defaults.lease_seconds,
                                       "collector", fail),
    )
    if collector.max_connections_per_target > 5:
        raise fail("collector.max_connections_per_target must be at most 5 so monitoring "
                   "never crowds out the application; lower it")

    dashboard_raw = table("dashboard")
    address = _dashboard_address(dashboard_raw, env, fail)
    actions_enabled = dashboard_raw.get("actions_enabled", False)
    if not isinstance(actions_enabled, bool):
        raise fail("dashboard.actions_enabled must be true or false")
    dashboard = DashboardSettings(
        address=address,
        port=_positive_int(dashboard_raw, "port", 8501, "dashboard", fail),
        stale_after_intervals=_positive_number(dashboard_raw, "stale_after_intervals", 3.0,
                                               "dashboard", fail),
        actions_enabled=actions_enabled,
    )

    return Config(store=store, targets=_targets(raw.get("targets", []), env, fail),
                  collector=collector, dashboard=dashboard, source=source,
                  auth=_auth(table("auth"), env, dashboard, fail),
                  security=_security(table("security"), fail))


def _security(section: dict[str, Any], fail: Any) -> SecuritySettings:
    declared = section.get("encryption_at_rest")
    if declared is not None and (not isinstance(declared, str) or not declared.strip()):
        raise fail("security.encryption_at_rest must say how the data directory is encrypted, "
                   "e.g. \"LUKS on the data volume\"")
    return SecuritySettings(encryption_at_rest=declared)


def _auth(section: dict[str, Any], env: dict[str, str], dashboard: DashboardSettings,
          fail: Any) -> AuthSettings:
    mode = section.get("mode", "none")
    if mode not in AUTH_MODES:
        raise fail(f"auth.mode must be one of {', '.join(AUTH_MODES)} (got {mode!r})")
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
    if none_role not in ROLES:
        raise fail(f"auth.none_role must be one of {', '.join(ROLES)} (got {none_role!r})")
    if mode != "none" and not any(members.values()):
        raise fail(f"auth.mode = {mode!r} needs [auth.roles]: list who is a viewer, operator "
                   "or admin (e-mails or \"group:NAME\"); nobody else gets in")
    oidc = _oidc(section.get("oidc"), env, fail) if mode == "oidc" else None
    proxy = _proxy(section.get("proxy"), fail) if mode == "proxy" else None
    return AuthSettings(mode=mode, members=members, none_role=none_role, oidc=oidc,
                        proxy=proxy)


def _secret_from(section: dict[str, Any], key: str, env: dict[str, str], label: str,
                 fail: Any, required: bool) -> Secret | None:
    """A secret named by `<key>_env` (an environment variable) or `<key>_file`."""
    if f"{key}_env" in section:
        variable = section[f"{key}_env"]
        if variable not in env or not env[variable]:
            raise fail(f"{label}.{key}_env names {variable!r}, which is not set; export it")
        return Secret(env[variable])
    if f"{key}_file" in section:
        path = Path(section[f"{key}_file"]).expanduser()
        try:
            return Secret(path.read_text().strip())
        except OSError as exc:
            raise fail(f"{label}.{key}_file {path}: cannot read ({exc.strerror})") from None
    if required:
        raise fail(f"{label} needs {key}_env (an environment variable) or {key}_file; "
                   "secrets never go in the config file")
    return None


def _oidc(raw: Any, env: dict[str, str], fail: Any) -> OidcSettings:
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


def _proxy(raw: Any, fail: Any) -> ProxySettings:
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


def _dashboard_address(section: dict[str, Any], env: dict[str, str], fail: Any) -> str:
    """[dashboard] address: loopback only, unless KASHO_OPS_DASHBOARD_ADDRESS says otherwise.

    The file can only name a loopback address, so no shared or copied config exposes the
    dashboard. A container is the exception: Streamlit must listen on the container's own
    interface, and the host decides who reaches it (docker-compose.yml publishes the port on
    the host's 127.0.0.1 only). Whoever starts the process makes that choice, so it is an
    environment override, limited to IP literals, and logged.
    """
    address = section.get("address", "127.0.0.1")
    if not isinstance(address, str) or address not in LOOPBACK_ADDRESSES:
        raise fail(f"dashboard.address {address!r} is not a loopback address; bind to "
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
        raise fail(f"{DASHBOARD_ADDRESS_ENV} {override!r} is not an IP address; use 0.0.0.0 "
                   "inside a container (publish the port on the host's 127.0.0.1) or "
                   "127.0.0.1") from None
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


def _env_overrides_clash(name: str, other: str) -> bool:
    """'a-b' and 'a_b' share KASHO_OPS_TARGET_A_B_DSN; 'x-actions' reads x's ACTIONS_DSN,
    'x-explain' x's EXPLAIN_DSN."""
    key, other_key = env_key(name), env_key(other)
    return key == other_key or any(key == f"{other_key}_{role}" or other_key == f"{key}_{role}"
                                   for role in ("ACTIONS", "EXPLAIN"))


def _targets(raw_targets: Any, env: dict[str, str], fail: Any) -> tuple[Target, ...]:
    if not isinstance(raw_targets, list):
        raise fail("targets must be an array of tables: write each as [[targets]]")
    targets: list[Target] = []
    for index, item in enumerate(raw_targets):
        label = f"targets[{index}]"
        if not isinstance(item, dict):
            raise fail(f"{label} must be a table with name and dsn")
        _reject_unknown(item, _SECTION_KEYS["target"], label, fail)
        name = item.get("name")
        if not isinstance(name, str) or not TARGET_NAME_PATTERN.match(name):
            raise fail(f"{label}.name must be lowercase letters, digits, '-' or '_' "
                       f"(got {name!r}); for example name = \"kasho-primary\"")
        if any(t.name == name for t in targets):
            raise fail(f"{label}.name {name!r} is used twice; target names must be unique")
        clash = next((t.name for t in targets if _env_overrides_clash(name, t.name)), None)
        if clash is not None:
            raise fail(f"{label}.name {name!r} and target {clash!r} would read the same "
                       f"environment overrides (KASHO_OPS_TARGET_{env_key(name)}_...); "
                       "rename one of them")
        dsn = env.get(f"KASHO_OPS_TARGET_{env_key(name)}_DSN") or item.get("dsn")
        if not dsn:
            raise fail(f"{label}.dsn is missing for target {name!r}; set dsn = \"host=... "
                       f"dbname=...\" or KASHO_OPS_TARGET_{env_key(name)}_DSN")
        _check_dsn(dsn, f"{label}.dsn", fail)
        actions_dsn = env.get(f"KASHO_OPS_TARGET_{env_key(name)}_ACTIONS_DSN") or item.get(
            "actions_dsn")
        if actions_dsn is not None:
            _check_dsn(actions_dsn, f"{label}.actions_dsn", fail)
        explain_dsn = env.get(f"KASHO_OPS_TARGET_{env_key(name)}_EXPLAIN_DSN") or item.get(
            "explain_dsn")
        if explain_dsn is not None:
            _check_dsn(explain_dsn, f"{label}.explain_dsn", fail)
        kind = item.get("kind", "postgres")
        if kind not in TARGET_KINDS:
            raise fail(f"{label}.kind must be one of {', '.join(TARGET_KINDS)} (got {kind!r})")
        fronts = item.get("fronts")
        if fronts is not None and kind != "pgbouncer":
            raise fail(f"{label}.fronts only applies to kind = \"pgbouncer\"; remove it")
        if kind == "pgbouncer" and (actions_dsn is not None or explain_dsn is not None):
            raise fail(f"{label}: a pgbouncer target has no sessions to cancel or statements "
                       "to explain; remove actions_dsn / explain_dsn")
        targets.append(Target(name=name, dsn=Secret(dsn),
                              password=_password(item, env, label, fail),
                              actions_dsn=Secret(actions_dsn) if actions_dsn else None,
                              explain_dsn=Secret(explain_dsn) if explain_dsn else None,
                              kind=kind, fronts=fronts))
    postgres_names = {t.name for t in targets if t.kind == "postgres"}
    for index, target in enumerate(targets):
        if target.fronts is not None and target.fronts not in postgres_names:
            raise fail(f"targets[{index}].fronts {target.fronts!r} is not a postgres target; "
                       f"name one of: {', '.join(sorted(postgres_names)) or 'none'}")
    return tuple(targets)


def _password(item: dict[str, Any], env: dict[str, str], label: str, fail: Any) -> Secret | None:
    if "password_env" in item:
        variable = item["password_env"]
        if variable not in env:
            raise fail(f"{label}.password_env names {variable!r}, which is not set; export it "
                       "or remove the key to use ~/.pgpass / PGPASSWORD")
        return Secret(env[variable])
    if "password_file" in item:
        path = Path(item["password_file"]).expanduser()
        try:
            return Secret(path.read_text().strip())
        except OSError as exc:
            raise fail(f"{label}.password_file {path}: cannot read ({exc.strerror})") from None
    return None


def _retention(raw: Any, known_groups: set[str] | None, fail: Any) -> dict[str, int]:
    """[retention] table = days, over the built-in RETENTION_DEFAULTS."""
    if not isinstance(raw, dict):
        raise fail("[retention] must be a table of store_table = days")
    known = None if known_groups is None else set(known_groups) | set(DERIVED_TABLES)
    retention = dict(RETENTION_DEFAULTS)
    for table, days in raw.items():
        if known is not None and table not in known:
            raise fail(f"retention.{table}: no store table named {table!r}; known tables: "
                       f"{', '.join(sorted(known))}")
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise fail(f"retention.{table} must be a whole number of days >= 1 (got {days!r})")
        retention[table] = days
    return retention


def _intervals(raw: Any, env: dict[str, str], known_groups: set[str] | None,
               fail: Any) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise fail("[intervals] must be a table of group = seconds")
    intervals: dict[str, int] = {}
    for group, seconds in raw.items():
        if known_groups is not None and group not in known_groups:
            raise fail(f"intervals.{group}: no metric group named {group!r}; known groups: "
                       f"{', '.join(sorted(known_groups))}")
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 1:
            raise fail(f"intervals.{group} must be a whole number of seconds >= 1 "
                       f"(got {seconds!r})")
        intervals[group] = seconds
    for key, value in env.items():
        if key.startswith("KASHO_OPS_INTERVAL_"):
            group = key.removeprefix("KASHO_OPS_INTERVAL_").lower()
            if known_groups is not None and group not in known_groups:
                raise fail(f"{key}: no metric group named {group!r}")
            if not value.isdigit() or int(value) < 1:
                raise fail(f"{key} must be a whole number of seconds >= 1 (got {value!r})")
            intervals[group] = int(value)
    return intervals


def _reject_unknown(section: dict[str, Any], allowed: set[str], label: str, fail: Any) -> None:
    for key in section:
        if key not in allowed:
            raise fail(f"unknown key {key!r} in {label}; known keys: {', '.join(sorted(allowed))}")


def _check_dsn(dsn: Any, label: str, fail: Any) -> None:
    if not isinstance(dsn, str):
        raise fail(f"{label} must be a string")
    try:
        psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        reason = redact(str(exc).splitlines()[0])
        raise fail(f"{label} is not a valid libpq connection string ({reason}); use "
                   "'host=127.0.0.1 dbname=kasho user=...' or postgresql://user@host/db") from None


def _positive_int(section: dict[str, Any], key: str, default: int, label: str, fail: Any) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise fail(f"{label}.{key} must be a whole number >= 1 (got {value!r})")
    return value


def _positive_number(section: dict[str, Any], key: str, default: float, label: str,
                     fail: Any) -> float:
    value = section.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise fail(f"{label}.{key} must be a number > 0 (got {value!r})")
    return float(value)
