"""The [alerts] and [metrics] sections of kasho-ops.toml: rule overrides, webhooks, and where
the collector serves /metrics. Pure: `parse_alert_settings` and `parse_metrics_settings` take
the raw tables and the environment and raise one ConfigError line per problem.

Webhook URLs carry tokens (Slack's path, a PagerDuty routing key), so the file only names
where they come from (`url_env`, `url_file`, `routing_key_env`); they stay `Secret`s.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from collectors.alerts.rules import (
    SEVERITIES,
    RuleOverride,
    Severity,
    parse_duration,
    shipped_rules,
)
from collectors.core.errors import ConfigError
from collectors.core.redact import Secret

log = logging.getLogger(__name__)
WebhookFormat = Literal["generic", "slack", "pagerduty"]
WEBHOOK_FORMATS: tuple[WebhookFormat, ...] = ("generic", "slack", "pagerduty")
METRICS_LISTEN_ENV = "KASHO_OPS_METRICS_LISTEN"
ALERTS_KEYS = {"enabled", "exclude_applications", "dashboard_url", "notify_attempts",
               "notify_retry_base_seconds", "notify_retry_cap_seconds", "rules", "webhooks"}
RULE_OVERRIDE_KEYS = {"enabled", "warning", "critical", "for", "params"}
WEBHOOK_KEYS = {"name", "format", "url_env", "url_file", "routing_key_env", "min_severity",
                "send_resolved", "timeout_seconds"}
METRICS_KEYS = {"listen"}


@dataclass(frozen=True)
class WebhookSettings:
    name: str
    format: WebhookFormat
    url: Secret
    routing_key: Secret | None = None  # PagerDuty Events v2
    min_severity: Severity = "warning"
    send_resolved: bool = True
    timeout_seconds: float = 5.0

    def wants(self, severity: Severity) -> bool:
        return SEVERITIES.index(severity) >= SEVERITIES.index(self.min_severity)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret string of this receiver, longest first, for scrubbing error texts: the
        URL, its path and query and their longer parts (a receiver may echo a token alone),
        and the routing key."""
        url = self.url.reveal()
        parts = urlsplit(url)
        found = {url, parts.path, parts.query}
        found |= {p for p in re.split(r"[/?&=]", f"{parts.path}?{parts.query}") if len(p) >= 8}
        if self.routing_key:
            found.add(self.routing_key.reveal())
        return tuple(sorted((s for s in found if len(s) > 1), key=len, reverse=True))


@dataclass(frozen=True)
class AlertSettings:
    enabled: bool = True
    exclude_applications: tuple[str, ...] | None = None  # None: the rules' own defaults
    dashboard_url: str | None = None  # links in notifications
    notify_attempts: int = 8
    notify_retry_base_seconds: float = 2.0
    notify_retry_cap_seconds: float = 300.0
    rules: Mapping[str, RuleOverride] = field(default_factory=dict)
    webhooks: tuple[WebhookSettings, ...] = ()

    @property
    def global_params(self) -> dict[str, Any]:
        if self.exclude_applications is None:
            return {}
        return {"exclude_applications": list(self.exclude_applications)}


@dataclass(frozen=True)
class MetricsSettings:
    host: str | None = None  # None: /metrics is not served
    port: int = 9187

    @property
    def enabled(self) -> bool:
        return self.host is not None


def _reject_unknown(table: Mapping[str, Any], allowed: set[str], label: str, fail: Any) -> None:
    for key in table:
        if key not in allowed:
            raise fail(f"unknown key {key!r} in {label}; known keys: {', '.join(sorted(allowed))}")


def _strings(value: Any, label: str, fail: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f"{label} must be a list of strings")
    return tuple(value)


def _threshold(table: Mapping[str, Any], key: str, label: str, fail: Any) -> float | None:
    value = table.get(key)
    if value is None or value is False:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise fail(f"{label}.{key} must be a number, or false for no {key} level")
    return float(value)


def _rule_overrides(raw: Any, fail: Any) -> dict[str, RuleOverride]:
    if not isinstance(raw, dict):
        raise fail("[alerts.rules] must be a table of [alerts.rules.<name>] tables")
    known = shipped_rules()
    overrides: dict[str, RuleOverride] = {}
    for name, table in raw.items():
        label = f"alerts.rules.{name}"
        if name not in known:
            raise fail(f"{label}: no alert rule named {name!r}; known rules: {', '.join(known)}")
        if not isinstance(table, dict):
            raise fail(f"[{label}] must be a table")
        _reject_unknown(table, RULE_OVERRIDE_KEYS, f"[{label}]", fail)
        enabled = table.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise fail(f"{label}.enabled must be true or false")
        params = table.get("params", {})
        if not isinstance(params, dict):
            raise fail(f"{label}.params must be a table")
        try:
            for_seconds = (parse_duration(table["for"], f"{label}.for") if "for" in table
                           else None)
        except ConfigError as exc:
            raise fail(str(exc)) from None
        overrides[name] = RuleOverride(
            enabled=enabled, warning=_threshold(table, "warning", label, fail),
            critical=_threshold(table, "critical", label, fail), for_seconds=for_seconds,
            params=params, clear_warning=table.get("warning") is False,
            clear_critical=table.get("critical") is False)
    return overrides


def _secret_from(item: Mapping[str, Any], env_key: str, file_key: str | None,
                 label: str, env: Mapping[str, str], fail: Any) -> Secret | None:
    if env_key in item:
        variable = item[env_key]
        if not isinstance(variable, str) or not env.get(variable):
            raise fail(f"{label}.{env_key} names {variable!r}, which is not set; export it "
                       "(the value stays out of the file because it carries a token)")
        return Secret(env[variable].strip())
    if file_key and file_key in item:
        path = Path(str(item[file_key])).expanduser()
        try:
            return Secret(path.read_text().strip())
        except OSError as exc:
            raise fail(f"{label}.{file_key} {path}: cannot read ({exc.strerror})") from None
    return None


def _webhooks(raw: Any, env: Mapping[str, str], fail: Any) -> tuple[WebhookSettings, ...]:
    if not isinstance(raw, list):
        raise fail("alerts.webhooks must be an array of tables: write each as [[alerts.webhooks]]")
    hooks: list[WebhookSettings] = []
    for index, item in enumerate(raw):
        label = f"alerts.webhooks[{index}]"
        if not isinstance(item, dict):
            raise fail(f"{label} must be a table")
        _reject_unknown(item, WEBHOOK_KEYS, label, fail)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise fail(f"{label}.name is missing: name the receiver (it is shown, never its URL)")
        if any(h.name == name for h in hooks):
            raise fail(f"{label}.name {name!r} is used twice; receiver names must be unique")
        kind = item.get("format", "generic")
        if kind not in WEBHOOK_FORMATS:
            raise fail(f"{label}.format must be one of {', '.join(WEBHOOK_FORMATS)}")
        url = _secret_from(item, "url_env", "url_file", label, env, fail)
        if url is None:
            raise fail(f"{label}: set url_env (an environment variable holding the URL) or "
                       "url_file; the URL itself never goes in the file")
        parts = urlsplit(url.reveal())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise fail(f"{label}: the URL from {item.get('url_env') or item.get('url_file')} "
                       "is not an http(s) URL")
        routing_key = _secret_from(item, "routing_key_env", None, label, env, fail)
        if kind == "pagerduty" and routing_key is None:
            raise fail(f"{label}: a pagerduty receiver needs routing_key_env (the Events v2 "
                       "integration key's variable)")
        severity = item.get("min_severity", "warning")
        if severity not in SEVERITIES:
            raise fail(f"{label}.min_severity must be warning or critical")
        send_resolved = item.get("send_resolved", True)
        if not isinstance(send_resolved, bool):
            raise fail(f"{label}.send_resolved must be true or false")
        timeout = item.get("timeout_seconds", 5.0)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) \
                or not 0 < timeout <= 60:
            raise fail(f"{label}.timeout_seconds must be a number of seconds in (0, 60]")
        hooks.append(WebhookSettings(name=name, format=kind, url=url, routing_key=routing_key,
                                     min_severity=severity, send_resolved=send_resolved,
                                     timeout_seconds=float(timeout)))
    return tuple(hooks)


def parse_alert_settings(raw: Any, env: Mapping[str, str], fail: Any) -> AlertSettings:
    """[alerts] from the config file (`fail` turns a message into the config's error)."""
    if raw is None:
        return AlertSettings()
    if not isinstance(raw, dict):
        raise fail("[alerts] must be a table")
    _reject_unknown(raw, ALERTS_KEYS, "[alerts]", fail)
    defaults = AlertSettings()
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise fail("alerts.enabled must be true or false")
    exclude = (_strings(raw["exclude_applications"], "alerts.exclude_applications", fail)
               if "exclude_applications" in raw else None)
    dashboard_url = raw.get("dashboard_url")
    if dashboard_url is not None and (not isinstance(dashboard_url, str) or urlsplit(
            dashboard_url).scheme not in ("http", "https")):
        raise fail("alerts.dashboard_url must be the dashboard's http(s) URL, as people reach it")
    attempts = raw.get("notify_attempts", defaults.notify_attempts)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 50:
        raise fail("alerts.notify_attempts must be a whole number from 1 to 50")
    numbers = {}
    for key in ("notify_retry_base_seconds", "notify_retry_cap_seconds"):
        value = raw.get(key, getattr(defaults, key))
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise fail(f"alerts.{key} must be a number > 0")
        numbers[key] = float(value)
    return AlertSettings(
        enabled=enabled, exclude_applications=exclude,
        dashboard_url=dashboard_url.rstrip("/") if dashboard_url else None,
        notify_attempts=attempts, rules=_rule_overrides(raw.get("rules", {}), fail),
        webhooks=_webhooks(raw.get("webhooks", []), env, fail), **numbers)


def parse_metrics_settings(raw: Any, env: Mapping[str, str], fail: Any) -> MetricsSettings:
    """[metrics] listen = "127.0.0.1:9187": loopback in the file; another address only through
    KASHO_OPS_METRICS_LISTEN (a container publishing the port), logged."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise fail("[metrics] must be a table")
    _reject_unknown(raw, METRICS_KEYS, "[metrics]", fail)
    override = env.get(METRICS_LISTEN_ENV, "").strip()
    listen = override or raw.get("listen")
    if listen is None:
        return MetricsSettings()
    source = METRICS_LISTEN_ENV if override else "metrics.listen"
    if not isinstance(listen, str) or ":" not in listen:
        raise fail(f"{source} must be host:port, for example \"127.0.0.1:9187\"")
    host, _, port_text = listen.rpartition(":")
    host = host.strip("[]")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise fail(f"{source}: {port_text!r} is not a port number")
    try:
        address = ipaddress.ip_address("127.0.0.1" if host == "localhost" else host)
    except ValueError:
        raise fail(f"{source}: {host!r} is not an IP address") from None
    if not address.is_loopback:
        if not override:
            raise fail(f"metrics.listen {listen!r} is not a loopback address; serve /metrics on "
                       f"127.0.0.1 (inside a container, set {METRICS_LISTEN_ENV} instead)")
        log.warning("/metrics listens on %s because %s is set", listen, METRICS_LISTEN_ENV)
    return MetricsSettings(host=host, port=int(port_text))
