"""Security page reads: each security_* group's latest sample for a target (the rows of the
most recent collected_at within the last day)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.store import cached_read, read_frame

GROUPS = ("security_settings", "security_roles", "security_hba", "security_access",
          "security_ssl")


@cached_read
def latest_sample(dsn: Secret, target: str, group: str, end: datetime) -> pd.DataFrame:
    """The rows of the group's last collection at or before `end` (within a day)."""
    if group not in GROUPS:
        raise ValueError(f"not a security group: {group}")
    return read_frame(dsn, sql.SQL("""
        SELECT * FROM kasho_ops.{table}
        WHERE target = %(target)s AND collected_at = (
            SELECT max(collected_at) FROM kasho_ops.{table}
            WHERE target = %(target)s AND collected_at <= %(end)s
              AND collected_at > %(end)s - interval '1 day')""").format(
        table=sql.Identifier(group)), {"target": target, "end": end})
