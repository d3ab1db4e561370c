"""What a notification says, per receiver format. Pure: an AlertView and an event in, a JSON
body out.

  generic    Alertmanager's webhook body (version 4, one alert): the receivers that already
             read Alertmanager read it unchanged
  slack      an incoming-webhook message: plain text (mrkdwn off), the colour of the severity
  pagerduty  an Events API v2 trigger or resolve, deduplicated by the alert's dedup_key

Names and texts from the monitored server (databases, roles, applications, statements) are
hostile: Slack renders `<!channel>` and `<http://x|y>` even in plain text, so &, < and > are
escaped there, and no body ever carries HTML or markdown built from them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from collectors.alerts.wording import AlertView

Event = Literal["firing", "resolved"]
SLACK_COLOURS = {"warning": "#d97706", "critical": "#dc2626", "resolved": "#16a34a"}
PAGERDUTY_SUMMARY_CHARS = 1024
CLIENT = "Kasho Ops"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _annotations(alert: AlertView) -> dict[str, str]:
    return {"summary": alert.title, "description": alert.detail, "runbook": alert.runbook,
            "value": alert.value_text, "threshold": alert.threshold_text}


def generic_body(alert: AlertView, event: Event, receiver: str,
                 dashboard_url: str | None) -> dict[str, Any]:
    """Alertmanager's webhook payload (version 4) with this one alert."""
    labels = {"alertname": alert.rule, **alert.labels}
    link = alert.link(dashboard_url)
    return {
        "version": "4",
        "groupKey": alert.dedup_key,
        "truncatedAlerts": 0,
        "status": event,
        "receiver": receiver,
        "groupLabels": {"alertname": alert.rule, "target": alert.target},
        "commonLabels": labels,
        "commonAnnotations": _annotations(alert),
        "externalURL": dashboard_url or "",
        "alerts": [{
            "status": event,
            "labels": labels,
            "annotations": _annotations(alert),
            "startsAt": _iso(alert.firing_since or alert.pending_since),
            "endsAt": _iso(alert.resolved_at) if event == "resolved" else
            "0001-01-01T00:00:00Z",
            "generatorURL": link or "",
            "fingerprint": alert.dedup_key,
            "value": alert.value,
            "lastValue": alert.last_value,
            "threshold": alert.threshold,
            "unit": alert.unit,
        }],
    }


def slack_escape(text: str) -> str:
    """Slack's own escaping for message text: &, < and > (so no mention, link or channel
    ping can be smuggled in by a name from the server)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(alert: AlertView, event: Event, dashboard_url: str | None) -> dict[str, Any]:
    """A Slack incoming-webhook message (also read by Mattermost and Rocket.Chat)."""
    state = "RESOLVED" if event == "resolved" else alert.severity.upper()
    headline = f"[{state}] {alert.title}"
    fields = [
        {"title": "Value", "value": slack_escape(alert.value_text), "short": True},
        {"title": "Threshold", "value": slack_escape(alert.threshold_text), "short": True},
        {"title": "Since", "value": _iso(alert.firing_since or alert.pending_since) or "",
         "short": True},
    ]
    if event == "resolved":
        fields.append({"title": "Resolved", "value": _iso(alert.resolved_at) or "",
                       "short": True})
    link = alert.link(dashboard_url)
    return {
        "text": slack_escape(headline),
        "mrkdwn": False,
        "attachments": [{
            "fallback": slack_escape(headline),
            "color": SLACK_COLOURS["resolved" if event == "resolved" else alert.severity],
            "title": slack_escape(alert.title),
            **({"title_link": link} if link else {}),
            "text": slack_escape(alert.detail),
            "fields": fields,
            "footer": slack_escape(f"{CLIENT} · {alert.runbook}" if alert.runbook else CLIENT),
            "mrkdwn_in": [],
        }],
    }


def pagerduty_body(alert: AlertView, event: Event, routing_key: str,
                   dashboard_url: str | None) -> dict[str, Any]:
    """A PagerDuty Events API v2 event: trigger while firing, resolve when resolved."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if event == "resolved" else "trigger",
        "dedup_key": alert.dedup_key,
    }
    if event == "resolved":
        return body
    link = alert.link(dashboard_url)
    body["payload"] = {
        "summary": alert.headline[:PAGERDUTY_SUMMARY_CHARS],
        "source": alert.target,
        "severity": alert.severity,
        "timestamp": _iso(alert.firing_since or alert.pending_since),
        "component": alert.instance or alert.target,
        "group": alert.rule,
        "class": alert.rule,
        "custom_details": {"detail": alert.detail, "value": alert.value_text,
                           "threshold": alert.threshold_text, "runbook": alert.runbook},
    }
    body["client"] = CLIENT
    if link:
        body["client_url"] = link
        body["links"] = [{"href": link, "text": f"{CLIENT}: {alert.summary}"}]
    return body
