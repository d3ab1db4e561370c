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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg.conninfo

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

    def connect_kwargs(self) -> dict[str, Any]:
        """libpq parameters for this target (password only if configured explicitly)."""
        params: dict[str, Any] = psycopg.conninfo.conninfo_to_dict(self.dsn.reveal())
        if self.password:
            params["password"] = self.password.reveal()
        return params

    @property
    def display_dsn(self) -> str:
        return redact(self.dsn.reveal())


@dataclass(frozen=True)
class StoreSettings:
    dsn: Secret
    retention_days: int = 14

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


@dataclass(frozen=True)
class DashboardSettings:
    address: str = "127.0.0.1"
    port: int = 8501
    stale_after_intervals: float = 3.0
    actions_enabled: bool = False


@dataclass(frozen=True)
class Config:
    store: StoreSettings
    targets: tuple[Target, ...]
    collector: CollectorSettings
    dashboard: DashboardSettings
    source: Path | None = None

    def target(self, name: str) -> Target:
        for target in self.targets:
            if target.name == name:
                return target
        raise ConfigError(f"no target named {name!r}; configured targets: "
                          f"{', '.join(t.name for t in self.targets) or 'none'}")


_SECTION_KEYS: dict[str, set[str]] = {
    "store": {"dsn", "retention_days", "password_env", "password_file"},
    "collector": {"statement_timeout_ms", "lock_timeout_ms", "connect_timeout_seconds",
                  "max_connections_per_target", "backoff_base_seconds", "backoff_cap_seconds"},
    "dashboard": {"address", "port", "stale_after_intervals", "actions_enabled"},
    "target": {"name", "dsn", "password_env", "password_file", "actions_dsn"},
}
_TOP_LEVEL = {"store", "targets", "collector", "intervals", "dashboard"}
LOOPBACK_ADDRESSES = {"127.0.0.1", "::1", "localhost"}

# The accepted range of every number, (low, high), inclusive: wide enough for any real
# deployment, narrow enough that no value overflows a timer or a date further down.
LIMITS: dict[str, tuple[float, float]] = {
    "store.retention_days": (1, 3650),
    "collector.statement_timeout_ms": (100, 600_000),
    "collector.lock_timeout_ms": (1, 600_000),
    "collector.connect_timeout_seconds": (2, 300),  # libpq waits at least 2 s anyway
    "collector.max_connections_per_target": (1, 1000),  # and at most 5, below
    "collector.backoff_base_seconds": (0.1, 3600),
    "collector.backoff_cap_seconds": (0.1, 86_400),
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
        _reject_unknown(value, _SECTION_KEYS[name], f"[{name}]", fail)
        return value

    store_raw = table("store")
    store_dsn = _from_env_or_file(env, "KASHO_OPS_STORE_DSN", store_raw, "dsn")
    if not store_dsn.value:
        raise fail("store.dsn is missing; set [store] dsn = \"host=... dbname=kasho_ops\" "
                   "or the KASHO_OPS_STORE_DSN environment variable")
    label = "KASHO_OPS_STORE_DSN" if store_dsn.from_env else "store.dsn"
    _check_dsn(store_dsn.value, label, fail, warn_password=not store_dsn.from_env,
               source=source)
    store_password = _password(store_raw, env, "store", fail)
    store = StoreSettings(
        dsn=Secret(_with_password(store_dsn.value, store_password)),
        retention_days=_integer(store_raw, "retention_days", 14, "store", fail))

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
                  collector=collector, dashboard=dashboard, source=source)


@dataclass(frozen=True)
class _Setting:
    value: Any
    from_env: bool


def _from_env_or_file(env: dict[str, str], variable: str, section: dict[str, Any],
                      key: str) -> _Setting:
    if env.get(variable):
        return _Setting(env[variable], True)
    return _Setting(section.get(key), False)


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
    log.warning("%s%s holds a password, readable by anyone who can read the config file; "
                "remove it from the dsn and use password_env or password_file (or ~/.pgpass)",
                where, label)


def _env_overrides_clash(name: str, other: str) -> bool:
    """'a-b' and 'a_b' share KASHO_OPS_TARGET_A_B_DSN; 'x-actions' reads x's ACTIONS_DSN."""
    key, other_key = env_key(name), env_key(other)
    return key in (other_key, f"{other_key}_ACTIONS") or other_key == f"{key}_ACTIONS"


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
        variable = f"KASHO_OPS_TARGET_{env_key(name)}_DSN"
        dsn = _from_env_or_file(env, variable, item, "dsn")
        if not dsn.value:
            raise fail(f"{label}.dsn is missing for target {name!r}; set dsn = \"host=... "
                       f"dbname=...\" or {variable}")
        _check_dsn(dsn.value, variable if dsn.from_env else f"{label}.dsn", fail,
                   warn_password=not dsn.from_env, source=source)
        actions_variable = f"KASHO_OPS_TARGET_{env_key(name)}_ACTIONS_DSN"
        actions_dsn = _from_env_or_file(env, actions_variable, item, "actions_dsn")
        if actions_dsn.value is not None:
            _check_dsn(actions_dsn.value,
                       actions_variable if actions_dsn.from_env else f"{label}.actions_dsn",
                       fail, warn_password=not actions_dsn.from_env, source=source)
        targets.append(Target(name=name, dsn=Secret(dsn.value),
                              password=_password(item, env, label, fail),
                              actions_dsn=Secret(actions_dsn.value) if actions_dsn.value
                              else None))
    return tuple(targets)


def _password(item: dict[str, Any], env: dict[str, str], label: str,
              fail: Fail) -> Secret | None:
    if "password_env" in item and "password_file" in item:
        raise fail(f"{label} sets both password_env and password_file; keep one")
    if "password_env" in item:
        variable = item["password_env"]
        if not isinstance(variable, str) or not ENV_NAME_PATTERN.fullmatch(variable):
            raise fail(f"{label}.password_env must name an environment variable, such as "
                       f"\"KASHO_MONITOR_PASSWORD\" (got {_shown(variable)})")
        if variable not in env:
            raise fail(f"{label}.password_env names {variable!r}, which is not set; export it "
                       "or remove the key to use ~/.pgpass / PGPASSWORD")
        return Secret(_checked_password(env[variable], f"{label}.password_env {variable}",
                                        fail))
    if "password_file" in item:
        return Secret(_password_from_file(item["password_file"], label, fail))
    return None


def _password_from_file(value: Any, label: str, fail: Fail) -> str:
    key = f"{label}.password_file"
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise fail(f"{key} must be the path of a file holding the password, such as "
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
                   "hold only the password")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise fail(f"{key} {path}: not UTF-8 text; write the password as UTF-8") from None
    password = text.strip()
    if "\n" in password or "\r" in password:
        raise fail(f"{key} {path}: holds more than one line; it must hold only the password")
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
        raise fail(f"{label}.{key} must be a whole number from {low:g} to {high:g}{unit} "
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
