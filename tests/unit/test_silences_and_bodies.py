"""Silence matchers and notification bodies (pure): hostile names stay text everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collectors.alerts.notify import generic_body, pagerduty_body, slack_body, slack_escape
from collectors.alerts.silences import BadMatcher, Silence, parse_matcher, silencing
from collectors.alerts.wording import AlertView, format_duration, format_value

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOSTILE = "<!channel> *bold* <https://evil.example|click> & `code`"


def alert(**changes: object) -> AlertView:
    values: dict[str, object] = dict(
        id=42, target="kasho-primary", rule="long_transaction",
        summary="Long-running transaction", instance=HOSTILE, state="firing",
        severity="critical", unit="seconds", value=2400.0, threshold=1800.0,
        last_value=2500.0, detail=f"application {HOSTILE}", page="activity",
        runbook="Ask its owner.", pending_since=T0, firing_since=T0 + timedelta(minutes=1))
    values.update(changes)
    return AlertView(**values)  # type: ignore[arg-type]


def test_matchers_parse_and_match_like_alertmanager() -> None:
    labels = {"target": "kasho-primary", "rule": "deadlocks", "instance": "kasho",
              "severity": "warning"}
    assert parse_matcher("rule=deadlocks").matches(labels)
    assert parse_matcher('instance=~"kas.*"').matches(labels)
    assert not parse_matcher("instance=~kas").matches(labels)  # the whole value
    assert parse_matcher("severity!=critical").matches(labels)
    assert not parse_matcher("target!~kasho-.*").matches(labels)
    with pytest.raises(BadMatcher, match="label"):
        parse_matcher("database=kasho")
    with pytest.raises(BadMatcher, match="regular expression"):
        parse_matcher("rule=~(")


def test_a_silence_covers_only_while_active_and_when_every_matcher_matches() -> None:
    silence = Silence(1, (parse_matcher("rule=deadlocks"), parse_matcher("target=kasho-primary")),
                      T0, T0 + timedelta(hours=1), "oncall@example.test", "ticket 7")
    labels = {"target": "kasho-primary", "rule": "deadlocks", "instance": "", "severity": "x"}
    assert silencing([silence], labels, T0 + timedelta(minutes=5)) is silence
    assert silencing([silence], labels, T0 + timedelta(hours=1)) is None
    assert silencing([silence], {**labels, "target": "other"}, T0) is None


def test_generic_body_is_alertmanagers_webhook_shape() -> None:
    body = generic_body(alert(), "firing", "ops", "https://ops.example.test")
    assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "ops"
    [item] = body["alerts"]
    assert item["labels"]["alertname"] == "long_transaction"
    assert item["startsAt"] == "2026-03-01T12:01:00Z"
    assert item["generatorURL"] == "https://ops.example.test/activity?target=kasho-primary"
    assert item["annotations"]["value"] == "40 min"
    resolved = generic_body(alert(state="resolved", resolved_at=T0 + timedelta(hours=1)),
                            "resolved", "ops", None)
    assert resolved["alerts"][0]["endsAt"] == "2026-03-01T13:00:00Z"
    assert resolved["alerts"][0]["generatorURL"] == ""


def test_slack_body_escapes_server_names_and_turns_markdown_off() -> None:
    body = slack_body(alert(), "firing", None)
    text = str(body)
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in body["text"]
    assert body["mrkdwn"] is False and body["attachments"][0]["mrkdwn_in"] == []
    assert body["attachments"][0]["color"] == "#dc2626"
    assert slack_escape("a & <b>") == "a &amp; &lt;b&gt;"
    assert slack_body(alert(), "resolved", None)["text"].startswith("[RESOLVED] ")


def test_pagerduty_body_triggers_and_resolves_by_one_dedup_key() -> None:
    trigger = pagerduty_body(alert(), "firing", "KEY", "https://ops.example.test")
    resolve = pagerduty_body(alert(), "resolved", "KEY", None)
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == alert().dedup_key
    assert trigger["payload"]["severity"] == "critical"
    assert len(trigger["payload"]["summary"]) <= 1024
    assert trigger["links"][0]["href"].endswith("/activity?target=kasho-primary")
    assert set(resolve) == {"routing_key", "event_action", "dedup_key"}


def test_values_read_in_their_units() -> None:
    assert format_value("percent", 91.234) == "91.2 %"
    assert format_value("ratio", 4.26) == "4.3x"
    assert format_value("bytes", 3 * 1024**3) == "3.0 GB"
    assert [format_duration(s) for s in (5, 95, 3600, 7300, 90000)] == [
        "5 s", "1 min 35 s", "1 h", "2 h 1 min", "1 d 1 h"]
