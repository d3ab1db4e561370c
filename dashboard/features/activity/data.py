"""Activity page reads: the live snapshot of the monitored server (one shared LiveActivity
per dashboard process) and the DBA action audit trail from the store."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from collectors.core.config import CollectorSettings, Config
from collectors.core.redact import Secret
from collectors.live.activity import ActivitySnapshot, LiveActivity
from dashboard.core.store import read_frame


def recent_actions(dsn: Secret, target: str, limit: int = 20) -> pd.DataFrame:
    """The audit trail's latest rows for the target (never cached: an action just taken
    must show at once)."""
    return read_frame(dsn, """
        SELECT acted_at, actor, action, pid, outcome, error, usename, application_name,
               datname, query
        FROM kasho_ops.dba_actions WHERE target = %(target)s
        ORDER BY acted_at DESC, id DESC LIMIT %(limit)s""", {"target": target, "limit": limit})


@st.cache_resource(show_spinner=False)
def _live_activity(statement_timeout_ms: int, lock_timeout_ms: int,
                   connect_timeout_seconds: int) -> LiveActivity:
    # One per process and set of limits: its pools are shared by every browser session.
    return LiveActivity(CollectorSettings(statement_timeout_ms=statement_timeout_ms,
                                          lock_timeout_ms=lock_timeout_ms,
                                          connect_timeout_seconds=connect_timeout_seconds))


def live_snapshot(config: Config, target_name: str) -> ActivitySnapshot:
    """The target's sessions now, read from the server itself (not the store); raises
    TargetUnavailable with a one-line reason."""
    settings = config.collector
    live = _live_activity(settings.statement_timeout_ms, settings.lock_timeout_ms,
                          settings.connect_timeout_seconds)
    return live.snapshot(config.target(target_name))
