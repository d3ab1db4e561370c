"""Builders for the on-call integration tests: a collector with alerting attached, webhooks
pointing at a loopback receiver, and the store's alert and notification rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from collectors.alerts.service import OnCall
from collectors.core.config import Config, parse_config
from collectors.core.metric_groups import load_catalog
from collectors.core.scheduler import Collector
from tests.integration.collector_setup import confirming_store
from tests.webhook_receiver import WebhookReceiver

# The receiver's paths carry a token, as Slack's and PagerDuty's URLs do.
TOKENS = {"generic": "g3n3ric-T0KEN", "slack": "T000/B000/sl4ck-T0KEN",
          "pagerduty": "pd-T0KEN"}
ROUTING_KEY = "R0UTING-KEY-0123456789abcdef"


def webhook_settings(receiver: WebhookReceiver,
                     formats: tuple[str, ...] = ("generic", "slack", "pagerduty")
                     ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """[[alerts.webhooks]] tables and the environment holding their URLs."""
    hooks, env = [], {}
    for kind in formats:
        variable = f"TEST_HOOK_{kind.upper()}_URL"
        env[variable] = receiver.url(f"/{kind}/{TOKENS[kind]}")
        hook = {"name": f"{kind}-receiver", "format": kind, "url_env": variable}
        if kind == "pagerduty":
            env["TEST_PD_ROUTING_KEY"] = ROUTING_KEY
            hook["routing_key_env"] = "TEST_PD_ROUTING_KEY"
        hooks.append(hook)
    return hooks, env


def hook_path(kind: str) -> str:
    return f"/{kind}/{TOKENS[kind]}"


def oncall_config(store_dsn: str, targets: dict[str, str], alerts: dict[str, Any],
                  env: dict[str, str] | None = None, **extra: Any) -> Config:
    raw = {"store": {"dsn": store_dsn},
           "targets": [{"name": name, "dsn": dsn} for name, dsn in targets.items()],
           "alerts": alerts, **extra}
    return parse_config(raw, environ=env or {}, known_groups=set(load_catalog()))


@contextmanager
def alerting_collector(config: Config, group_names: list[str]) -> Iterator[
        tuple[Collector, OnCall]]:
    catalog = load_catalog()
    store = confirming_store(config)  # a test reads what it wrote
    collector = Collector(config, [catalog[n] for n in group_names], store)
    oncall = OnCall.attach(collector)
    # Evaluations run on the evaluator's thread; a test reads their outcome once they ran.
    collector.engine.observers.append(lambda *_: oncall.evaluator.drain(60))
    try:
        yield collector, oncall
    finally:
        oncall.close()
        collector.close()
        store.close()


def collect(collector: Collector, *group_names: str) -> None:
    """One run of these groups on every target (each followed by its rules' evaluation)."""
    groups = {g.name: g for g in collector.groups}
    for target in collector.config.targets:
        for name in group_names:
            record = collector.collect(groups[name], target)
            assert record.error is None, record.error


def alerts(store_dsn: str, rule: str | None = None) -> list[dict[str, Any]]:
    with psycopg.connect(store_dsn) as conn:
        return conn.cursor(row_factory=dict_row).execute(
            "SELECT * FROM kasho_ops.alerts WHERE %(rule)s::text IS NULL OR rule = %(rule)s "
            "ORDER BY id", {"rule": rule}).fetchall()


def notifications(store_dsn: str) -> list[dict[str, Any]]:
    with psycopg.connect(store_dsn) as conn:
        return conn.cursor(row_factory=dict_row).execute(
            "SELECT * FROM kasho_ops.notifications ORDER BY id").fetchall()
