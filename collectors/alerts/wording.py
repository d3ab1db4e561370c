"""How an alert reads to a person: its value in its unit, its one-line text, its labels and the
link to the dashboard page that explains it. Pure; shared by the notifications, the on-call
home page and the incident snapshot, so an alert says the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

from collectors.alerts.rules import AlertRule, Severity


def format_duration(seconds: float) -> str:
    """95 -> '1 min 35 s'; 7300 -> '2 h 1 min'; 90000 -> '1 d 1 h'."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        whole = seconds >= 10 or float(seconds).is_integer()
        return f"{seconds:.0f} s" if whole else f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def format_bytes(value: float) -> str:
    units = ("bytes", "kB", "MB", "GB", "TB", "PB")
    scaled, index = float(value), 0
    while abs(scaled) >= 1024 and index < len(units) - 1:
        scaled, index = scaled / 1024, index + 1
    return f"{scaled:.0f} bytes" if index == 0 else f"{scaled:.1f} {units[index]}"


def format_value(unit: str, value: float) -> str:
    """A rule's value in its unit, as people read it."""
    if unit == "percent":
        return f"{value:.1f} %"
    if unit == "seconds":
        return format_duration(value)
    if unit == "hours":
        return format_duration(value * 3600)
    if unit == "days":
        return format_duration(value * 86400)
    if unit == "ratio":
        return f"{value:.1f}x"
    if unit == "intervals":
        return f"{value:.1f} intervals"
    if unit == "bytes":
        return format_bytes(value)
    return f"{value:g}"


@dataclass(frozen=True)
class AlertView:
    """One alert with its rule's words: what the notifications, pages and snapshot show."""

    id: int
    target: str
    rule: str
    summary: str
    instance: str
    state: str
    severity: Severity
    unit: str
    value: float
    threshold: float
    last_value: float
    detail: str
    page: str
    runbook: str
    pending_since: datetime
    firing_since: datetime | None = None
    resolved_at: datetime | None = None
    silenced_by: int | None = None
    acknowledged_by: str | None = None

    @property
    def labels(self) -> dict[str, str]:
        return {"target": self.target, "rule": self.rule, "instance": self.instance,
                "severity": self.severity}

    @property
    def dedup_key(self) -> str:
        """Stable per alert episode: the same key for its firing and its resolve."""
        return f"kasho-ops/{self.target}/{self.rule}/{self.instance}/{self.id}"

    @property
    def title(self) -> str:
        where = f" ({self.instance})" if self.instance else ""
        return f"{self.summary} on {self.target}{where}"

    @property
    def value_text(self) -> str:
        return format_value(self.unit, self.value)

    @property
    def threshold_text(self) -> str:
        return format_value(self.unit, self.threshold)

    @property
    def headline(self) -> str:
        """'[CRITICAL] Connections near the limit on kasho-primary: 92.0 % (threshold 90.0 %)'."""
        return (f"[{self.severity.upper()}] {self.title}: {self.value_text} "
                f"(threshold {self.threshold_text})")

    def link(self, dashboard_url: str | None) -> str | None:
        """The page that explains it, on the dashboard people reach."""
        if not dashboard_url or not self.page:
            return None
        query = urlencode({"target": self.target})
        return f"{dashboard_url.rstrip('/')}/{quote(self.page)}?{query}"


def view_of(rule: AlertRule | None, *, id: int, target: str, rule_name: str, instance: str,
            state: str, severity: Severity, value: float, threshold: float, last_value: float,
            detail: str, pending_since: datetime, firing_since: datetime | None = None,
            resolved_at: datetime | None = None, silenced_by: int | None = None,
            acknowledged_by: str | None = None) -> AlertView:
    """An AlertView from a stored alert (a rule since removed still reads sensibly)."""
    return AlertView(
        id=id, target=target, rule=rule_name,
        summary=rule.summary if rule else rule_name.replace("_", " "), instance=instance,
        state=state, severity=severity, unit=rule.unit if rule else "count", value=value,
        threshold=threshold, last_value=last_value, detail=detail,
        page=rule.page if rule else "", runbook=rule.runbook if rule else "",
        pending_since=pending_since, firing_since=firing_since, resolved_at=resolved_at,
        silenced_by=silenced_by, acknowledged_by=acknowledged_by)
