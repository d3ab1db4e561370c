"""Audit page reads: the audit trail in the selected time range (never cached: an action
just taken must show at once)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from collectors.core.redact import Secret
from dashboard.core.store import read_frame

ROW_LIMIT = 5000


def audit_trail(dsn: Secret, start: datetime, end: datetime) -> pd.DataFrame:
    """Newest first, at most ROW_LIMIT rows."""
    return read_frame(dsn, """
        SELECT at, kind, actor, actor_role, target, action, outcome, detail
        FROM kasho_ops.audit_log WHERE at > %(start)s AND at <= %(end)s
        ORDER BY at DESC LIMIT %(limit)s""", {"start": start, "end": end, "limit": ROW_LIMIT})
