"""On-call home reads from the store: open and recent alerts (every target), silences and
notification trouble, every target's state and groups, and what changed in the window
(server_state samples, settings around a change, statistics resets, Kasho schema versions,
collector gaps). Each read is bounded by index probes or the window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.store import cached_read, read_frame

HEARTBEAT_GROUP = "connection_limits"  # the collector's most frequent group: gaps show there


@cached_read
def alerts(dsn: Secret, start: datetime, end: datetime) -> pd.DataFrame:
    """Every open alert, and every alert resolved in the window, newest first, with its
    acknowledgement."""
    return read_frame(dsn, """
        SELECT a.id, a.target, a.rule, a.instance, a.state, a.severity, a.value, a.threshold,
               a.last_value, a.peak_value, a.detail, a.pending_since, a.firing_since,
               a.resolved_at, a.last_evaluated_at, k.acknowledged_by, k.acknowledged_at,
               k.comment AS acknowledgement
        FROM kasho_ops.alerts a
        LEFT JOIN kasho_ops.alert_acknowledgements k ON k.alert_id = a.id
        WHERE a.state <> 'resolved'
           OR (a.resolved_at > %(start)s AND a.resolved_at <= %(end)s)
           OR (a.firing_since > %(start)s AND a.firing_since <= %(end)s)
        ORDER BY coalesce(a.firing_since, a.pending_since) DESC
        LIMIT 500""", {"start": start, "end": end})


@cached_read
def silences(dsn: Secret, now: datetime) -> pd.DataFrame:
    """Silences in force or starting later, and those that ended in the last day."""
    return read_frame(dsn, """
        SELECT id, created_at, created_by, created_by_role, matchers, starts_at, ends_at,
               comment, expired_at, expired_by, effective_end
        FROM kasho_ops.silences
        WHERE effective_end > %(now)s - interval '1 day'
        ORDER BY effective_end DESC""", {"now": now})


@cached_read
def notification_trouble(dsn: Secret, start: datetime) -> pd.DataFrame:
    """Notifications that failed for good or are still being retried, newest first."""
    return read_frame(dsn, """
        SELECT n.id, n.receiver, n.event, n.severity, n.status, n.attempts, n.created_at,
               n.last_attempt_at, n.next_attempt_at, n.last_error, a.target, a.rule, a.instance
        FROM kasho_ops.notifications n JOIN kasho_ops.alerts a ON a.id = n.alert_id
        WHERE (n.status = 'failed' AND n.created_at > %(start)s)
           OR (n.status = 'pending' AND n.attempts > 0)
        ORDER BY n.created_at DESC LIMIT 200""", {"start": start})


@cached_read
def notification_counts(dsn: Secret, start: datetime) -> pd.DataFrame:
    """receiver, status, notifications: what each receiver was sent in the window."""
    return read_frame(dsn, """
        SELECT receiver, status, count(*) AS notifications
        FROM kasho_ops.notifications WHERE created_at > %(start)s
        GROUP BY 1, 2 ORDER BY 1, 2""", {"start": start})


@cached_read
def group_runs(dsn: Secret, targets: Sequence[str], groups: Sequence[str]) -> pd.DataFrame:
    """target, metric_group, last_run_at, last_success_at, last_error, store_now: two index
    probes per target and group."""
    return read_frame(dsn, """
        SELECT t.target, g.metric_group, last_run.started_at AS last_run_at,
               last_ok.started_at AS last_success_at, last_run.error AS last_error,
               now() AS store_now
        FROM unnest(%(targets)s::text[]) AS t(target)
        CROSS JOIN unnest(%(groups)s::text[]) AS g(metric_group)
        LEFT JOIN LATERAL (
            SELECT r.started_at, r.error FROM kasho_ops.collector_runs r
            WHERE r.target = t.target AND r.metric_group = g.metric_group
            ORDER BY r.started_at DESC LIMIT 1) last_run ON true
        LEFT JOIN LATERAL (
            SELECT r.started_at FROM kasho_ops.collector_runs r
            WHERE r.target = t.target AND r.metric_group = g.metric_group
              AND r.error IS NULL
            ORDER BY r.started_at DESC LIMIT 1) last_ok ON true""",
        {"targets": list(targets), "groups": list(groups)})


@cached_read
def latest_server_state(dsn: Secret, targets: Sequence[str]) -> pd.DataFrame:
    """Each target's latest server_state sample (primary or standby, started, version)."""
    return read_frame(dsn, """
        SELECT t.target, s.collected_at, s.started_at, s.in_recovery, s.server_version_num,
               s.pending_restart_settings
        FROM unnest(%(targets)s::text[]) AS t(target)
        LEFT JOIN LATERAL (
            SELECT * FROM kasho_ops.server_state x
            WHERE x.target = t.target ORDER BY x.collected_at DESC LIMIT 1) s ON true""",
        {"targets": list(targets)})


@cached_read
def server_states(dsn: Secret, start: datetime, end: datetime) -> pd.DataFrame:
    """Every server_state sample in the window, with each target's last one before it (the
    base the first change in the window is measured against)."""
    return read_frame(dsn, """
        SELECT * FROM (
            SELECT DISTINCT ON (target) * FROM kasho_ops.server_state
            WHERE collected_at <= %(start)s AND collected_at > %(start)s - interval '1 day'
            ORDER BY target, collected_at DESC) before_window
        UNION ALL
        SELECT * FROM kasho_ops.server_state
        WHERE collected_at > %(start)s AND collected_at <= %(end)s
        ORDER BY target, collected_at""", {"start": start, "end": end})


@cached_read
def settings_around(dsn: Secret, target: str, before: datetime,
                    after: datetime) -> pd.DataFrame:
    """The server_settings samples on either side of a configuration change: the latest at
    or before `before` (side 'before') and the first at or after `after` ('after')."""
    return read_frame(dsn, """
        WITH sides AS (
            SELECT 'before' AS side, (SELECT max(collected_at) FROM kasho_ops.server_settings
                                      WHERE target = %(target)s AND collected_at <= %(before)s
                                        AND collected_at > %(before)s - interval '1 day') AS at
            UNION ALL
            SELECT 'after', (SELECT min(collected_at) FROM kasho_ops.server_settings
                             WHERE target = %(target)s AND collected_at >= %(after)s
                               AND collected_at < %(after)s + interval '1 day'))
        SELECT sides.side, s.collected_at, s.name, s.setting, s.unit, s.source,
               s.pending_restart
        FROM sides JOIN kasho_ops.server_settings s
          ON s.target = %(target)s AND s.collected_at = sides.at""",
        {"target": target, "before": before, "after": after})


@cached_read
def pending_restart_settings(dsn: Secret, targets: Sequence[str]) -> pd.DataFrame:
    """target, name, setting: settings changed in the configuration that wait for a restart,
    from each target's latest server_settings sample."""
    return read_frame(dsn, """
        SELECT t.target, s.name, s.setting, s.unit
        FROM unnest(%(targets)s::text[]) AS t(target)
        CROSS JOIN LATERAL (
            SELECT max(collected_at) AS at FROM kasho_ops.server_settings x
            WHERE x.target = t.target
              AND x.collected_at > now() - interval '1 day') latest
        JOIN kasho_ops.server_settings s
          ON s.target = t.target AND s.collected_at = latest.at AND s.pending_restart
        ORDER BY 1, 2""", {"targets": list(targets)})


@cached_read
def statistics_resets(dsn: Secret, start: datetime, end: datetime) -> pd.DataFrame:
    """target, scope, reset_at: pg_stat_database resets per database and pg_stat_statements
    resets, each once, when their reset time changed within the window."""
    return read_frame(dsn, """
        WITH db AS (
            SELECT target, 'database ' || datname AS scope, stats_reset,
                   lag(stats_reset) OVER (PARTITION BY target, datname ORDER BY collected_at)
                       AS previous, collected_at
            FROM kasho_ops.database_stats
            WHERE collected_at > %(start)s - interval '1 hour' AND collected_at <= %(end)s
        ), statements AS (
            SELECT target, 'pg_stat_statements' AS scope, stats_reset,
                   lag(stats_reset) OVER (PARTITION BY target ORDER BY collected_at) AS previous,
                   collected_at
            FROM kasho_ops.query_stats_info
            WHERE collected_at > %(start)s - interval '1 hour' AND collected_at <= %(end)s
        )
        SELECT target, scope, stats_reset AS reset_at, collected_at AS seen_at
        FROM (SELECT * FROM db UNION ALL SELECT * FROM statements) changes
        WHERE previous IS NOT NULL AND stats_reset IS DISTINCT FROM previous
          AND collected_at > %(start)s
        ORDER BY collected_at""", {"start": start, "end": end})


@cached_read
def schema_versions(dsn: Secret, start: datetime, end: datetime) -> pd.DataFrame:
    """target, seen_at, version, dirty, previous_version, previous_dirty: every change of
    Kasho's golang-migrate version (or of its dirty flag) in the window."""
    return read_frame(dsn, """
        SELECT target, collected_at AS seen_at, version, dirty, previous_version,
               previous_dirty, previous_at
        FROM (
            SELECT target, collected_at, version, dirty,
                   lag(version) OVER w AS previous_version, lag(dirty) OVER w AS previous_dirty,
                   lag(collected_at) OVER w AS previous_at,
                   lag(table_readable) OVER w AS previous_readable, table_readable
            FROM kasho_ops.kasho_schema_version
            WHERE collected_at > %(start)s - interval '1 day' AND collected_at <= %(end)s
            WINDOW w AS (PARTITION BY target ORDER BY collected_at)) v
        WHERE collected_at > %(start)s AND previous_at IS NOT NULL
          AND table_readable AND previous_readable
          AND (version IS DISTINCT FROM previous_version OR dirty IS DISTINCT FROM previous_dirty)
        ORDER BY collected_at""", {"start": start, "end": end})


@cached_read
def collector_gaps(dsn: Secret, targets: Sequence[str], start: datetime, end: datetime,
                   min_gap_seconds: float) -> pd.DataFrame:
    """target, gap_start, gap_end, seconds: stretches without any run of the heartbeat group
    (the collector was stopped, crashed or stalled) longer than min_gap_seconds."""
    return read_frame(dsn, sql.SQL("""
        SELECT target, previous AS gap_start, started_at AS gap_end,
               extract(epoch FROM started_at - previous)::float8 AS seconds
        FROM (
            SELECT target, started_at,
                   lag(started_at) OVER (PARTITION BY target ORDER BY started_at) AS previous
            FROM kasho_ops.collector_runs
            WHERE target = ANY(%(targets)s) AND metric_group = {heartbeat}
              AND started_at > %(start)s - interval '1 hour' AND started_at <= %(end)s) runs
        WHERE previous IS NOT NULL AND started_at > %(start)s
          AND started_at - previous > make_interval(secs => %(gap)s)
        ORDER BY started_at""").format(heartbeat=sql.Literal(HEARTBEAT_GROUP)),
        {"targets": list(targets), "start": start, "end": end, "gap": min_gap_seconds})
