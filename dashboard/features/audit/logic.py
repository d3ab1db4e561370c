"""Filtering and summarising the audit trail (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from collectors.audit_export import AUDIT_KINDS

KIND_LABELS = AUDIT_KINDS
PROBLEM_OUTCOMES = ("denied", "refused", "failed")


@dataclass(frozen=True)
class AuditFilter:
    kinds: Sequence[str] = ()
    outcomes: Sequence[str] = ()
    actor_contains: str = ""
    target: str | None = None


def apply_filter(trail: pd.DataFrame, chosen: AuditFilter) -> pd.DataFrame:
    rows = trail
    if chosen.kinds:
        rows = rows[rows["kind"].isin(chosen.kinds)]
    if chosen.outcomes:
        rows = rows[rows["outcome"].isin(chosen.outcomes)]
    if chosen.actor_contains.strip():
        rows = rows[rows["actor"].str.contains(chosen.actor_contains.strip(), case=False,
                                               regex=False, na=False)]
    if chosen.target:
        rows = rows[rows["target"] == chosen.target]
    return rows


def summary(trail: pd.DataFrame) -> dict[str, int]:
    """Counts for the tiles: sign-ins, actions, refusals (denied, refused, failed)."""
    return {
        "sign-ins": int((trail["outcome"] == "signed_in").sum()) if not trail.empty else 0,
        "denied sign-ins": int(((trail["kind"] == "sign_in") & (trail["outcome"] == "denied"))
                               .sum()) if not trail.empty else 0,
        "actions": int((trail["kind"] != "sign_in").sum()) if not trail.empty else 0,
        "actions not done": int(((trail["kind"] != "sign_in")
                                 & trail["outcome"].isin(PROBLEM_OUTCOMES)).sum())
        if not trail.empty else 0,
    }


def display_table(trail: pd.DataFrame) -> pd.DataFrame:
    """The rows as shown: times in UTC without offset, kinds in words."""
    return pd.DataFrame({
        "time (UTC)": pd.to_datetime(trail["at"], utc=True).dt.tz_convert(None),
        "kind": trail["kind"].map(KIND_LABELS).fillna(trail["kind"]),
        "who": trail["actor"], "role": trail["actor_role"].fillna("—"),
        "target": trail["target"].fillna("—"), "action": trail["action"],
        "outcome": trail["outcome"], "detail": trail["detail"].fillna(""),
    })
