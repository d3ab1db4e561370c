"""Silence matchers, as Alertmanager writes them, and which alerts a silence covers. Pure.

A matcher is `label=value`, `label!=value`, `label=~regex` or `label!~regex` on an alert's
labels: target, rule, instance and severity. A regex must match the whole value. A silence
covers an alert when every one of its matchers matches and the alert's evaluation time is in
[starts_at, effective_end).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from collectors.core.errors import KashoOpsError

LABELS = ("target", "rule", "instance", "severity")
Operator = Literal["=", "!=", "=~", "!~"]
OPERATORS: tuple[Operator, ...] = ("=~", "!~", "!=", "=")  # longest first for parsing
_MATCHER = re.compile(r"^\s*(?P<label>[a-z_]+)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>.*?)\s*$")


class BadMatcher(KashoOpsError):
    """A matcher that cannot be parsed or compiled; the message says how to write it."""


@dataclass(frozen=True)
class Matcher:
    label: str
    op: Operator
    value: str

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise BadMatcher(f"silence matcher label {self.label!r} is not one of "
                             f"{', '.join(LABELS)}")
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise BadMatcher(f"silence matcher {self}: not a regular expression "
                                 f"({exc})") from None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f"{self.label}{self.op}{self.value}"

    def as_json(self) -> dict[str, str]:
        return {"label": self.label, "op": self.op, "value": self.value}


def parse_matcher(text: str) -> Matcher:
    """`rule=deadlocks`, `instance=~"kasho.*"` (quotes around the value are optional)."""
    match = _MATCHER.match(text)
    if match is None:
        raise BadMatcher(f"silence matcher {text!r}: write label=value, label!=value, "
                         f"label=~regex or label!~regex with a label from {', '.join(LABELS)}")
    value = match.group("value")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    op: Operator = match.group("op")  # type: ignore[assignment]
    return Matcher(match.group("label"), op, value)


def matchers_from_json(items: Iterable[Mapping[str, Any]]) -> tuple[Matcher, ...]:
    return tuple(Matcher(str(i["label"]), i["op"], str(i["value"])) for i in items)


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    effective_end: datetime  # its end, or when someone expired it
    created_by: str
    comment: str

    def active_at(self, when: datetime) -> bool:
        return self.starts_at <= when < self.effective_end

    def covers(self, labels: Mapping[str, str], when: datetime) -> bool:
        return (self.active_at(when) and bool(self.matchers)
                and all(m.matches(labels) for m in self.matchers))

    @property
    def description(self) -> str:
        return ", ".join(map(str, self.matchers))


def alert_labels(target: str, rule: str, instance: str, severity: str) -> dict[str, str]:
    return {"target": target, "rule": rule, "instance": instance, "severity": severity}


def silencing(silences: Sequence[Silence], labels: Mapping[str, str],
              when: datetime) -> Silence | None:
    """The silence covering an alert with these labels at `when` (the one ending last)."""
    covering = [s for s in silences if s.covers(labels, when)]
    return max(covering, key=lambda s: s.effective_end) if covering else None
