"""Deliver queued notifications to the webhooks, with retries, and record every outcome.

`Notifier.deliver_due()` claims the due rows of kasho_ops.notifications (FOR UPDATE SKIP
LOCKED, then a claim that lasts CLAIM_SECONDS, so two collectors never send the same row and
a crash mid-send only delays it), re-checks each against the alert and the silences now
(a firing notice for an alert that resolved before it went out is cancelled; one for a
silenced alert waits for the silence to end), posts it, and stores the outcome: sent, or
another attempt after an exponential backoff with jitter, or failed after the configured
attempts (a 4xx other than 408/429 fails at once: retrying cannot fix it). The last error
is kept without the receiver's URL or key, for the on-call home page and /metrics.
"""

from __future__ import annotations

import json
import logging
import random
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from collectors.alerts import history
from collectors.alerts.notify import Event, generic_body, pagerduty_body, slack_body
from collectors.alerts.rules import AlertRule
from collectors.alerts.settings import AlertSettings, WebhookSettings
from collectors.alerts.wording import AlertView
from collectors.core.db import fetch_value
from collectors.core.redact import MASK
from collectors.core.store import MetricStore

log = logging.getLogger(__name__)
CLAIM_SECONDS = 60
SILENCED_RECHECK_SECONDS = 15
ERROR_CHARS = 300
USER_AGENT = "kasho-ops-notifier"

CLAIM_DUE = """
    WITH due AS (
        SELECT id FROM kasho_ops.notifications
        WHERE status = 'pending' AND next_attempt_at <= now() AND receiver = ANY(%(receivers)s)
        ORDER BY next_attempt_at, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED)
    UPDATE kasho_ops.notifications n
    SET next_attempt_at = now() + make_interval(secs => %(claim)s)
    FROM due WHERE n.id = due.id
    RETURNING n.id, n.alert_id, n.receiver, n.event, n.severity, n.attempts"""

_UPDATE = "UPDATE kasho_ops.notifications SET "
CANCEL = _UPDATE + "status = 'cancelled', last_error = %(error)s WHERE id = %(id)s"
HOLD = (_UPDATE + "next_attempt_at = now() + make_interval(secs => %(wait)s) "
        "WHERE id = %(id)s")
SENT = (_UPDATE + "status = 'sent', sent_at = now(), attempts = %(attempts)s, "
        "last_attempt_at = now(), last_error = NULL WHERE id = %(id)s")
FAILED = (_UPDATE + "status = 'failed', attempts = %(attempts)s, last_attempt_at = now(), "
          "last_error = %(error)s WHERE id = %(id)s")
RETRY = (_UPDATE + "attempts = %(attempts)s, last_attempt_at = now(), last_error = %(error)s, "
         "next_attempt_at = now() + make_interval(secs => %(delay)s) WHERE id = %(id)s")


@dataclass(frozen=True)
class PostResult:
    ok: bool
    error: str | None = None
    retryable: bool = True


Sender = Callable[[str, bytes, Mapping[str, str], float], PostResult]


def post_json(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> PostResult:
    """POST the body; 2xx is delivered. The error never contains the URL."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={**headers, "User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(4096)
            return PostResult(ok=True)
    except urllib.error.HTTPError as exc:
        detail = exc.read(ERROR_CHARS).decode("utf-8", "replace").strip()
        retryable = exc.code in (408, 429) or exc.code >= 500
        return PostResult(False, f"HTTP {exc.code} {exc.reason}" + (f": {detail}" if detail
                                                                      else ""), retryable)
    except urllib.error.URLError as exc:
        return PostResult(False, f"cannot connect: {exc.reason}")
    except TimeoutError:
        return PostResult(False, f"no answer within {timeout:g} s")
    except OSError as exc:
        return PostResult(False, f"{type(exc).__name__}: {exc}")


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """The text with every secret (URL, routing key, and the URL's path) replaced by ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text[:ERROR_CHARS]


def retry_delay_seconds(attempts: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with equal jitter: between half and all of min(cap, base*2^(n-1))."""
    ceiling = min(cap, base * 2.0 ** max(attempts - 1, 0))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def body_for(hook: WebhookSettings, alert: AlertView, event: Event,
             dashboard_url: str | None) -> dict[str, Any]:
    if hook.format == "slack":
        return slack_body(alert, event, dashboard_url)
    if hook.format == "pagerduty":
        assert hook.routing_key is not None  # the settings require one
        return pagerduty_body(alert, event, hook.routing_key.reveal(), dashboard_url)
    return generic_body(alert, event, hook.name, dashboard_url)


@dataclass(frozen=True)
class Delivery:
    """The outcome of one claimed notification."""

    notification_id: int
    receiver: str
    event: str
    alert_id: int
    outcome: str  # sent, retry, failed, cancelled, held
    error: str | None = None


class Notifier:
    def __init__(self, settings: AlertSettings, store: MetricStore,
                 rules: Mapping[str, AlertRule], sender: Sender = post_json,
                 seed: int | None = None) -> None:
        self.settings = settings
        self.store = store
        self.rules = dict(rules)
        self.sender = sender
        self.hooks = {h.name: h for h in settings.webhooks}
        self._rng = random.Random(seed)

    def deliver_due(self, limit: int = 50) -> list[Delivery]:
        """Send every due notification once (retries wait for their time)."""
        if not self.hooks:
            return []
        with self.store.connection() as conn:
            with conn.transaction():
                claimed = conn.cursor(row_factory=dict_row).execute(CLAIM_DUE, {
                    "receivers": list(self.hooks), "limit": limit,
                    "claim": CLAIM_SECONDS}).fetchall()
                if not claimed:
                    return []
                now: datetime = fetch_value(conn, "SELECT now()")
                alerts = {a.id: a for a in history.alert_views(
                    conn, self.rules, sql.SQL("a.id = ANY(%(ids)s)"),
                    {"ids": [c["alert_id"] for c in claimed]}, now)}
            return [self._deliver(conn, row, alerts.get(row["alert_id"])) for row in claimed]

    def _deliver(self, conn: psycopg.Connection[Any], row: Mapping[str, Any],
                 alert: AlertView | None) -> Delivery:
        hook = self.hooks[row["receiver"]]

        def outcome(kind: str, error: str | None = None) -> Delivery:
            return Delivery(row["id"], hook.name, row["event"], row["alert_id"], kind, error)

        if alert is None or (row["event"] == "firing" and alert.state != "firing"):
            self._update(conn, row["id"], CANCEL,
                         {"error": "the alert resolved before the notification went out"})
            return outcome("cancelled")
        if row["event"] == "firing" and alert.silenced_by is not None:
            self._update(conn, row["id"], HOLD, {"wait": SILENCED_RECHECK_SECONDS})
            return outcome("held")
        body = json.dumps(body_for(hook, alert, row["event"], self.settings.dashboard_url),
                          ensure_ascii=False).encode()
        result = self.sender(hook.url.reveal(), body, {"Content-Type": "application/json"},
                             hook.timeout_seconds)
        attempts = row["attempts"] + 1
        if result.ok:
            self._update(conn, row["id"], SENT, {"attempts": attempts})
            log.info("notified %s: %s %s", hook.name, row["event"], alert.title)
            return outcome("sent")
        error = scrub(result.error or "failed", hook.secrets)
        if not result.retryable or attempts >= self.settings.notify_attempts:
            self._update(conn, row["id"], FAILED, {"attempts": attempts, "error": error})
            log.error("notification to %s failed for good after %d attempt(s): %s",
                      hook.name, attempts, error)
            return outcome("failed", error)
        delay = retry_delay_seconds(attempts, self.settings.notify_retry_base_seconds,
                                    self.settings.notify_retry_cap_seconds, self._rng)
        self._update(conn, row["id"], RETRY, {"attempts": attempts, "error": error,
                                              "delay": delay})
        log.warning("notification to %s failed (attempt %d, next in %.1f s): %s", hook.name,
                    attempts, delay, error)
        return outcome("retry", error)

    @staticmethod
    def _update(conn: psycopg.Connection[Any], notification_id: int, statement: str,
                params: Mapping[str, Any]) -> None:
        with conn.transaction():
            conn.execute(statement, {**params, "id": notification_id})


def due_in(settings: AlertSettings) -> timedelta:
    """How often the collector looks for due notifications."""
    return timedelta(seconds=max(1.0, min(5.0, settings.notify_retry_base_seconds)))
