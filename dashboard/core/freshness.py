"""Data freshness: is every metric group of a target being collected on schedule?

Pure functions. A group is
  never    no run recorded for this target;
  failing  its most recent run recorded an error (target down, timeout, bad SQL …);
  stale    its most recent run succeeded, but the last success is older than
           stale_after_intervals times the group's interval (the collector stopped or lags);
  ok       otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import pandas as pd

from collectors.core.redact import redact
from dashboard.core.plain import md
from dashboard.core.units import format_age, format_interval

Status = Literal["ok", "stale", "failing", "never"]
# A status's mark in the table's first column: a coloured cell would need a pandas Styler,
# which cost the Overview more CPU per load than all its charts.
STATUS_MARKS: dict[str, str] = {"ok": "🟢", "stale": "🔴", "failing": "🔴", "never": "⚪"}
TABLE_COLUMNS = ("", "Metric group", "Status", "Last success (UTC)", "Age", "Every",
                 "Last error")


@dataclass(frozen=True)
class FreshnessRow:
    """What the store knows about one (target, group): its latest run and latest success."""

    metric_group: str
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class GroupFreshness:
    metric_group: str
    status: Status
    interval_seconds: int
    last_success_at: datetime | None
    age_seconds: float | None
    last_error: str | None

    @property
    def is_problem(self) -> bool:
        return self.status in ("stale", "failing")


def effective_intervals(catalog_intervals: Mapping[str, int],
                        overrides: Mapping[str, int]) -> dict[str, int]:
    """Each catalogue group's interval, with the config's [intervals] overrides applied."""
    return {group: overrides.get(group, seconds) for group, seconds in catalog_intervals.items()}


def assess(rows: Iterable[FreshnessRow], intervals: Mapping[str, int], now: datetime,
           stale_after_intervals: float) -> list[GroupFreshness]:
    """One status per group in `intervals` (in its order); rows of other groups are ignored."""
    by_group = {row.metric_group: row for row in rows}
    result = []
    for group, interval in intervals.items():
        row = by_group.get(group)
        last_success = row.last_success_at if row else None
        age = (now - last_success).total_seconds() if last_success else None
        status: Status
        if row is None or row.last_run_at is None:
            status = "never"
        elif row.last_error is not None:
            status = "failing"
        elif age is None or age > stale_after_intervals * interval:
            status = "stale"
        else:
            status = "ok"
        result.append(GroupFreshness(group, status, interval, last_success, age,
                                     row.last_error if row else None))
    return result


def problem_summary(groups: Iterable[GroupFreshness]) -> str | None:
    """One line naming the stale and failing groups, or None when all is well."""
    groups = list(groups)
    problems = [g for g in groups if g.is_problem]
    if not problems:
        return None
    names = ", ".join(f"{g.metric_group} ({g.status})" for g in problems)
    return f"{len(problems)} of {len(groups)} metric groups are not fresh: {names}"


def freshness_table(groups: Iterable[GroupFreshness]) -> pd.DataFrame:
    """The panel's rows, every cell already formatted for people."""
    records = [{
        "": STATUS_MARKS.get(g.status, ""),
        "Metric group": g.metric_group,
        "Status": g.status,
        "Last success (UTC)": (g.last_success_at.strftime("%Y-%m-%d %H:%M:%S")
                               if g.last_success_at else "—"),
        "Age": format_age(g.age_seconds),
        "Every": format_interval(g.interval_seconds),
        "Last error": _one_line(g.last_error) if g.status == "failing" else "",
    } for g in groups]
    return pd.DataFrame.from_records(records, columns=list(TABLE_COLUMNS))


def _one_line(text: str | None, limit: int = 160) -> str:
    if not text:
        return ""
    first = redact(text.strip().splitlines()[0])
    return first if len(first) <= limit else first[: limit - 1] + "…"


def badges_markdown(groups: Iterable[GroupFreshness]) -> str:
    """One compact line of coloured badges (markdown): each stale or failing group by name
    (red, escaped with md), then how many are ok (green) and never collected (grey)."""
    groups = list(groups)
    badges = [f":red-badge[{md(g.metric_group)} {g.status}]" for g in groups if g.is_problem]
    ok = sum(1 for g in groups if g.status == "ok")
    never = sum(1 for g in groups if g.status == "never")
    if ok:
        badges.append(f":green-badge[{ok} ok]")
    if never:
        badges.append(f":gray-badge[{never} never collected]")
    return " ".join(badges)
