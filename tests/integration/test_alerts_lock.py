"""A lock held on a real server, through rule evaluation, to a firing alert, webhook bodies
received on loopback (generic, Slack, PagerDuty), deduplication, the resolve when the lock
is released, and a silence that keeps the next episode quiet."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from collectors.alerts.actions import create_silence
from collectors.alerts.silences import parse_matcher
from collectors.core.access import AccessDenied, Actor
from demo.cluster import LocalCluster
from tests.integration.alert_setup import (
    ROUTING_KEY,
    TOKENS,
    alerting_collector,
    alerts,
    collect,
    hook_path,
    notifications,
    oncall_config,
    webhook_settings,
)
from tests.integration.collector_setup import monitor_dsn
from tests.pg import HeldSession
from tests.webhook_receiver import WebhookReceiver, running_receiver

pytestmark = pytest.mark.single_major  # store reads and rules, the same on every major
TARGET = "kasho-primary"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def locked_table(pg_cluster: LocalCluster, fresh_database: str) -> str:
    with psycopg.connect(pg_cluster.dsn(fresh_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO ledger VALUES (1, 'x')")
    return fresh_database


def hold_lock(dsn: str) -> tuple[HeldSession, HeldSession]:
    """A session holding ACCESS EXCLUSIVE on ledger inside an open transaction, and one
    waiting for it."""
    blocker = HeldSession(dsn, application_name="migration <script>alert(1)</script>")
    blocker.execute("BEGIN")
    blocker.execute("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")
    waiter = HeldSession(dsn, application_name="kasho-api")
    waiter.execute_in_background("SELECT * FROM ledger")
    return blocker, waiter


def release(blocker: HeldSession, waiter: HeldSession) -> None:
    blocker.execute("ROLLBACK")
    waiter.join(10)
    blocker.close()
    waiter.close()


def test_lock_held_fires_notifies_once_resolves_and_a_silence_keeps_it_quiet(
        pg_cluster: LocalCluster, fresh_store: str, locked_table: str,
        receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture) -> None:
    hooks, env = webhook_settings(receiver)
    config = oncall_config(
        fresh_store, {TARGET: monitor_dsn(pg_cluster, locked_table)},
        {"dashboard_url": "https://ops.example.test",
         "rules": {"blocked_sessions": {"warning": 1, "critical": 600}},
         "webhooks": hooks}, env)
    dsn = pg_cluster.dsn(locked_table)
    with alerting_collector(config, ["lock_waits"]) as (collector, oncall):
        collect(collector, "lock_waits")  # nobody waits: no alert
        assert alerts(fresh_store) == []

        blocker, waiter = hold_lock(dsn)
        deadline = time.monotonic() + 60
        while not [a for a in alerts(fresh_store) if a["state"] == "firing"]:
            assert time.monotonic() < deadline, "no firing alert while a lock is held"
            time.sleep(0.5)
            collect(collector, "lock_waits")
        [alert] = alerts(fresh_store)
        assert (alert["rule"], alert["target"], alert["instance"], alert["severity"]) == (
            "blocked_sessions", TARGET, "", "warning")
        assert alert["value"] >= 1 and alert["firing_since"] is not None
        assert f"pid {waiter.pid}" in alert["detail"]
        assert f"root blocker pid {blocker.pid}" in alert["detail"]

        got = receiver.wait_for(lambda r: len(r) == 3, poke=oncall.deliver)
        by_path = {r.path: r.body for r in got}
        generic = by_path[hook_path("generic")]
        assert generic["version"] == "4" and generic["status"] == "firing"
        [sent] = generic["alerts"]
        assert sent["labels"] == {"alertname": "blocked_sessions", "target": TARGET,
                                  "rule": "blocked_sessions", "instance": "",
                                  "severity": "warning"}
        assert sent["annotations"]["summary"] == f"Sessions blocked by a lock on {TARGET}"
        assert sent["generatorURL"] == f"https://ops.example.test/locks?target={TARGET}"
        assert sent["endsAt"] == "0001-01-01T00:00:00Z"
        slack = by_path[hook_path("slack")]
        assert slack["mrkdwn"] is False
        assert slack["text"].startswith(f"[WARNING] Sessions blocked by a lock on {TARGET}")
        # The blocker's application name came from the server: escaped, never markup.
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in slack["attachments"][0]["text"]
        assert "<script>" not in str(slack)
        pagerduty = by_path[hook_path("pagerduty")]
        assert pagerduty["routing_key"] == ROUTING_KEY
        assert pagerduty["event_action"] == "trigger"
        assert pagerduty["payload"]["severity"] == "warning"
        assert pagerduty["payload"]["source"] == TARGET
        dedup_key = pagerduty["dedup_key"]
        assert dedup_key == f"kasho-ops/{TARGET}/blocked_sessions//{alert['id']}"

        # Deduplicated: more evaluations while it keeps firing send nothing new.
        for _ in range(3):
            collect(collector, "lock_waits")
            oncall.deliver()
        assert len(receiver.received()) == 3

        release(blocker, waiter)
        collect(collector, "lock_waits")
        [resolved] = alerts(fresh_store)
        assert resolved["state"] == "resolved" and resolved["resolved_at"] is not None
        got = receiver.wait_for(lambda r: len(r) == 6, poke=oncall.deliver)
        after = {r.path: r.body for r in got[3:]}
        assert after[hook_path("generic")]["status"] == "resolved"
        assert after[hook_path("generic")]["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
        assert after[hook_path("slack")]["text"].startswith("[RESOLVED] ")
        assert after[hook_path("pagerduty")] == {"routing_key": ROUTING_KEY,
                                                  "event_action": "resolve",
                                                  "dedup_key": dedup_key}
        assert sorted((n["receiver"], n["event"], n["status"], n["attempts"])
                      for n in notifications(fresh_store)) == sorted(
            (f"{kind}-receiver", event, "sent", 1) for kind in TOKENS
            for event in ("firing", "resolved"))

        # A viewer may not silence; an operator may, and the silence keeps the next episode
        # (stored, firing) from notifying anyone.
        now = datetime.now(UTC)
        matchers = [parse_matcher("rule=blocked_sessions"), parse_matcher(f"target={TARGET}")]
        with pytest.raises(AccessDenied):
            create_silence(config.store, Actor("viewer@example.test", "viewer"), matchers,
                           now, now + timedelta(hours=1), "planned migration")
        silence_id = create_silence(config.store, Actor("oncall@example.test", "operator"),
                                    matchers, now - timedelta(seconds=5),
                                    now + timedelta(hours=1), "planned migration, ticket 42")
        blocker, waiter = hold_lock(dsn)
        deadline = time.monotonic() + 60
        while len([a for a in alerts(fresh_store) if a["state"] == "firing"]) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.5)
            collect(collector, "lock_waits")
        for _ in range(2):
            oncall.deliver()
            collect(collector, "lock_waits")
        assert len(receiver.received()) == 6, "a silenced alert notified someone"
        release(blocker, waiter)

    with psycopg.connect(fresh_store) as conn:
        audit = conn.execute(
            "SELECT kind, actor, actor_role, action, outcome, detail FROM kasho_ops.audit_log "
            "WHERE kind = 'alert' ORDER BY at").fetchall()
    assert [row[:5] for row in audit] == [
        ("alert", "viewer@example.test", "viewer", "silence", "denied"),
        ("alert", "oncall@example.test", "operator", "silence", "done")]
    assert f"matchers rule=blocked_sessions, target={TARGET}" in audit[1][5]
    assert "planned migration, ticket 42" in audit[1][5]
    with psycopg.connect(fresh_store) as conn:
        assert conn.execute("SELECT id FROM kasho_ops.silences").fetchall() == [(silence_id,)]
    for token in (*TOKENS.values(), ROUTING_KEY):
        assert token not in caplog.text
