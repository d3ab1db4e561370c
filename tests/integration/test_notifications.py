"""Notification delivery against a real loopback receiver: retries with backoff until it
answers, a receiver that keeps failing is given up and recorded (never with its URL), and a
firing alert that resolves before its notice went out is not announced."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from collectors.alerts.evaluator import Evaluator
from collectors.alerts.rules import load_rules
from collectors.alerts.service import OnCall
from collectors.core.store import MetricStore
from tests.integration.alert_setup import (
    TOKENS,
    hook_path,
    notifications,
    oncall_config,
    webhook_settings,
)
from tests.pg import copy_into_store
from tests.webhook_receiver import WebhookReceiver, running_receiver

pytestmark = pytest.mark.single_major  # store reads and rules, the same on every major
TARGET = "kasho-primary"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with running_receiver() as running:
        yield running


def seed_connection_use(store_dsn: str, used: int, limit: int = 100) -> None:
    """A fresh connection_limits sample and its run record, as the collector writes them."""
    now = datetime.now(UTC)
    with psycopg.connect(store_dsn) as conn:
        copy_into_store(conn, "connection_limits", (
            "collected_at", "target", "max_connections", "reserved_connections",
            "client_connections"), [(now, TARGET, limit, 0, used)])
        copy_into_store(conn, "collector_runs", (
            "started_at", "target", "metric_group", "duration_ms", "rows_written"),
            [(now, TARGET, "connection_limits", 1.0, 1)])


def evaluator_for(config: object, store: MetricStore) -> Evaluator:
    settings = config.alerts  # type: ignore[attr-defined]
    return Evaluator(settings, store, {"connection_limits": 15},
                     rules=load_rules(settings.rules, settings.global_params))


def until(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(
        fresh_store: str, receiver: WebhookReceiver) -> None:
    hooks, env = webhook_settings(receiver, ("generic",))
    config = oncall_config(fresh_store, {TARGET: "host=127.0.0.1 dbname=unused"}, {
        "webhooks": hooks, "notify_retry_base_seconds": 0.3,
        "rules": {"connection_use": {"for": "0s"}}}, env)
    path = hook_path("generic")
    receiver.script(path, (503, "busy"), (500, "oops"))
    store = MetricStore(config.store.dsn)
    store.open()
    oncall = OnCall(config, store, [])
    oncall.evaluator = evaluator_for(config, store)
    try:
        seed_connection_use(fresh_store, used=95)
        evaluation = oncall.evaluator.evaluate(TARGET)
        assert [c.kind for c in evaluation.changes] == ["open"]
        assert evaluation.queued_notifications == 1
        first = oncall.deliver()
        assert [d.outcome for d in first] == ["retry"]
        assert first[0].error == "HTTP 503 Service Unavailable: busy"
        [row] = notifications(fresh_store)
        assert (row["status"], row["attempts"]) == ("pending", 1)
        assert row["next_attempt_at"] > row["last_attempt_at"]  # waits its backoff
        assert oncall.deliver() == []  # not due yet
        until(lambda: [d.outcome for d in oncall.deliver()] == ["retry"])
        until(lambda: [d.outcome for d in oncall.deliver()] == ["sent"])
        [row] = notifications(fresh_store)
        assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, None)
        bodies = [r.body for r in receiver.received(path)]
        assert len(bodies) == 3 and bodies[0] == bodies[2]  # the same notice, retried
        assert "kasho_ops_notifications_total" in oncall.latest.render()
    finally:
        oncall.close()
        store.close()


def test_a_receiver_that_keeps_failing_is_given_up_and_recorded_without_its_url(
        fresh_store: str, receiver: WebhookReceiver) -> None:
    hooks, env = webhook_settings(receiver, ("slack", "generic"))
    config = oncall_config(fresh_store, {TARGET: "host=127.0.0.1 dbname=unused"}, {
        "webhooks": hooks, "notify_attempts": 2, "notify_retry_base_seconds": 0.2,
        "rules": {"connection_use": {"for": "0s"}}}, env)
    # The receiver echoes the URL's token in its error body; a 404 is not retried.
    receiver.script(hook_path("slack"), *[(500, f"no channel for {TOKENS['slack']}")] * 5)
    receiver.script(hook_path("generic"), (404, f"unknown hook {TOKENS['generic']}"))
    store = MetricStore(config.store.dsn)
    store.open()
    oncall = OnCall(config, store, [])
    oncall.evaluator = evaluator_for(config, store)
    try:
        seed_connection_use(fresh_store, used=95)
        oncall.evaluator.evaluate(TARGET)
        outcomes = {d.receiver: d.outcome for d in oncall.deliver()}
        assert outcomes == {"slack-receiver": "retry", "generic-receiver": "failed"}
        until(lambda: [d.outcome for d in oncall.deliver()] == ["failed"])
        rows = {n["receiver"]: n for n in notifications(fresh_store)}
        assert (rows["slack-receiver"]["status"], rows["slack-receiver"]["attempts"]) == (
            "failed", 2)
        assert rows["slack-receiver"]["last_error"].startswith(
            "HTTP 500 Internal Server Error: no channel for ")
        assert "sl4ck-T0KEN" not in rows["slack-receiver"]["last_error"]
        assert rows["generic-receiver"]["attempts"] == 1
        assert rows["generic-receiver"]["last_error"] == "HTTP 404 Not Found: unknown hook ***"
        assert len(receiver.received()) == 3
        # Still failing later: nothing more is sent.
        oncall.evaluator.evaluate(TARGET)
        assert oncall.deliver() == []
    finally:
        oncall.close()
        store.close()


def test_a_notice_for_an_alert_that_resolved_before_it_went_out_is_cancelled(
        fresh_store: str, receiver: WebhookReceiver) -> None:
    hooks, env = webhook_settings(receiver, ("pagerduty",))
    config = oncall_config(fresh_store, {TARGET: "host=127.0.0.1 dbname=unused"}, {
        "webhooks": hooks, "rules": {"connection_use": {"for": "0s"}}}, env)
    store = MetricStore(config.store.dsn)
    store.open()
    oncall = OnCall(config, store, [])
    oncall.evaluator = evaluator_for(config, store)
    try:
        seed_connection_use(fresh_store, used=95)
        oncall.evaluator.evaluate(TARGET)
        seed_connection_use(fresh_store, used=10)
        evaluation = oncall.evaluator.evaluate(TARGET)
        assert [c.kind for c in evaluation.changes] == ["resolve"]
        assert [d.outcome for d in oncall.deliver()] == ["cancelled"]
        assert receiver.received() == []
        [row] = notifications(fresh_store)
        assert row["status"] == "cancelled"
    finally:
        oncall.close()
        store.close()
