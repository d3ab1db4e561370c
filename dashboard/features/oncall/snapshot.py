"""The incident snapshot: one self-contained HTML file about a target around a moment, to
attach to an incident ticket: the alerts, what changed, activity history (connections,
transactions, session ages, lock waits, average active sessions by wait event type), the
locks waited for, the top statements and Kasho's business numbers (Kasho Ops' own sessions
and statements left out, as the pages do by default), with the charts the dashboard draws (plotly's
JavaScript inlined once, so the file opens offline).

`build_snapshot` reads the store through the features' own readers and chart builders; every
name and text from a server is escaped (html.escape) and rendered as text, never markup;
statement texts are masked by the SQL lexer (again: they were masked when stored) and named
by it, as every page names them.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from collectors.alerts.rules import load_rules
from collectors.core.config import Config
from collectors.core.redact import Secret
from collectors.core.sqltext import mask_literals, statement_title
from dashboard.core.own import OwnActivity, own_activity
from dashboard.core.plain import plain_figure
from dashboard.core.store import collection_in, read_frame
from dashboard.core.units import format_seconds
from dashboard.features import active_sessions
from dashboard.features.active_sessions import charts as ash_charts
from dashboard.features.active_sessions import data as ash_data
from dashboard.features.active_sessions import logic as ash
from dashboard.features.connections import charts as connection_charts
from dashboard.features.connections import data as connection_data
from dashboard.features.connections import logic as connection_logic
from dashboard.features.locks import charts as lock_charts
from dashboard.features.locks import data as lock_data
from dashboard.features.locks import logic as lock_logic
from dashboard.features.oncall import charts, data, logic
from dashboard.features.overview import charts as overview_charts
from dashboard.features.overview import data as overview_data
from dashboard.features.overview import logic as overview_logic
from dashboard.features.queries import data as query_data

TOP_STATEMENTS = 15
STATEMENT_CHARS = 600
LOCK_ROWS = 50
CHART_CONFIG = {"displaylogo": False, "responsive": True}
STYLE = """
body { font-family: "Source Sans Pro", Helvetica, Arial, sans-serif; margin: 24px 32px;
       color: #1f2328; max-width: 1400px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 28px;
     border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.meta { color: #57606a; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; width: 100%; margin: 8px 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { white-space: pre-wrap; margin: 0; font-size: 12px; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.none { color: #57606a; font-style: italic; }
.critical { color: #cf222e; font-weight: 600; } .warning { color: #9a6700; font-weight: 600; }
"""


@dataclass(frozen=True)
class SnapshotWindow:
    target: str
    at: datetime
    start: datetime
    end: datetime

    @property
    def bucket(self) -> int:
        return max(15, int((self.end - self.start).total_seconds()) // 240)


def snapshot_window(target: str, at: datetime, minutes: int,
                    now: datetime | None = None) -> SnapshotWindow:
    """`minutes` before and after `at` (not past now)."""
    now = now or datetime.now(UTC)
    at = at.astimezone(UTC)
    return SnapshotWindow(target, at, at - timedelta(minutes=minutes),
                          min(at + timedelta(minutes=minutes), now))


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, datetime | pd.Timestamp):
        return html.escape(pd.Timestamp(value).tz_convert(UTC).strftime("%Y-%m-%d %H:%M:%S"))
    return html.escape(str(value))


def table(frame: pd.DataFrame, numeric: Iterable[str] = (), pre: Iterable[str] = ()) -> str:
    """An HTML table of text cells, every value escaped."""
    if frame.empty:
        return '<p class="none">None.</p>'
    numeric, pre = set(numeric), set(pre)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            text = _cell(value)
            if column in pre:
                cells.append(f"<td><pre>{text}</pre></td>")
            else:
                cells.append(f'<td class="num">{text}</td>' if column in numeric
                             else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class _Charts:
    """Figures as HTML: plotly.js inlined with the first, referenced by the rest."""

    def __init__(self) -> None:
        self.included = False

    def __call__(self, figure: go.Figure | None, missing: str) -> str:
        if figure is None:
            return f'<div class="none">{html.escape(missing)}</div>'
        # Names from the server are escaped as on the pages (plotly draws some HTML).
        out: str = plain_figure(figure).to_html(full_html=False, include_plotlyjs=not self.included,
                                  config=CHART_CONFIG)
        self.included = True
        return f"<div>{out}</div>"


def _alerts_frame(dsn: Secret, window: SnapshotWindow) -> pd.DataFrame:
    return read_frame(dsn, """
        SELECT a.id, a.target, a.rule, a.instance, a.state, a.severity, a.value, a.threshold,
               a.last_value, a.peak_value, a.detail, a.pending_since, a.firing_since,
               a.resolved_at, a.last_evaluated_at, k.acknowledged_by, k.acknowledged_at,
               k.comment AS acknowledgement
        FROM kasho_ops.alerts a
        LEFT JOIN kasho_ops.alert_acknowledgements k ON k.alert_id = a.id
        WHERE a.target = %(target)s AND a.pending_since <= %(end)s
          AND (a.resolved_at IS NULL OR a.resolved_at >= %(start)s)
        ORDER BY a.pending_since""",
        {"target": window.target, "start": window.start, "end": window.end})


def _alerts_table(views: Sequence[Any]) -> pd.DataFrame:
    return pd.DataFrame([{
        "severity": v.severity, "alert": v.summary, "instance": v.instance,
        "state": v.state, "pending since": v.pending_since, "fired": v.firing_since,
        "resolved": v.resolved_at, "triggering value": v.value_text,
        "threshold": v.threshold_text, "detail": v.detail,
        "acknowledged by": v.acknowledged_by or ""} for v in views],
        columns=["severity", "alert", "instance", "state", "pending since", "fired",
                 "resolved", "triggering value", "threshold", "detail", "acknowledged by"])


def _top_statements(config: Config, window: SnapshotWindow, own: OwnActivity) -> pd.DataFrame:
    dsn = config.store.dsn
    totals = query_data.statement_totals(dsn, window.target,
                                         query_data.plan_window(window.start, window.end), own)
    columns = ["name", "database", "role", "calls", "total time", "mean", "rows", "statement"]
    if not totals.empty and "own" in totals:
        totals = totals[~totals["own"].astype(bool)]
    if totals.empty:
        return pd.DataFrame(columns=columns)
    top = totals.sort_values("total_exec_time_ms", ascending=False).head(TOP_STATEMENTS)
    texts = read_frame(dsn, """
        SELECT queryid, dbid, userid, left(query, %(chars)s) AS query
        FROM kasho_ops.query_texts WHERE target = %(target)s AND queryid = ANY(%(ids)s)""",
        {"target": window.target, "chars": STATEMENT_CHARS,
         "ids": [int(q) for q in top["queryid"]]})
    merged = top.merge(texts, on=["queryid", "dbid", "userid"], how="left")
    masked = merged["query"].map(lambda q: mask_literals(q) if isinstance(q, str) else None)
    return pd.DataFrame({
        "name": masked.map(lambda q: statement_title(q).short(60) if q else ""),
        "database": merged["datname"], "role": merged["rolname"],
        "calls": merged["calls"].map(lambda c: f"{c:,.0f}"),
        "total time": merged["total_exec_time_ms"].map(lambda ms: format_seconds(ms / 1000)),
        "mean": (merged["total_exec_time_ms"] / merged["calls"]).map(lambda ms: f"{ms:,.2f} ms"),
        "rows": merged["rows"].map(lambda r: f"{r:,.0f}"),
        "statement": masked.fillna("(text not stored)")}, columns=columns)


def _lock_table(waits: pd.DataFrame) -> pd.DataFrame:
    columns = ["sampled", "pid", "database", "application", "mode", "relation", "waited",
               "root blocker", "root blocker state", "root blocker application"]
    if waits.empty:
        return pd.DataFrame(columns=columns)
    top = waits.sort_values("wait_seconds", ascending=False).head(LOCK_ROWS)
    return pd.DataFrame({
        "sampled": top["collected_at"], "pid": top["pid"], "database": top["datname"],
        "application": top["application_name"], "mode": top["mode"],
        "relation": top["relation"], "waited": top["wait_seconds"].map(format_seconds),
        "root blocker": top["root_blocker_pid"], "root blocker state":
            top["root_blocker_state"], "root blocker application":
            top["root_blocker_application_name"]}, columns=columns)


def _business(config: Config, window: SnapshotWindow) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kasho's business numbers when the business groups are collected: transactions per
    status in the window, and the pending backlog at its latest sample."""
    dsn = config.store.dsn
    present = read_frame(dsn, "SELECT to_regclass('kasho_ops.business_transactions') IS NOT NULL"
                              " AS transactions, to_regclass('kasho_ops.business_pending') IS "
                              "NOT NULL AS pending", {})
    empty = pd.DataFrame()
    if present.empty:
        return empty, empty
    flows = empty
    backlog = empty
    if bool(present["transactions"].iloc[0]):
        flows = read_frame(dsn, """
            SELECT transaction_type AS type, status, currency,
                   sum(transactions)::bigint AS transactions, sum(amount) AS amount
            FROM kasho_ops.business_transactions
            WHERE target = %(target)s AND minute > %(start)s AND minute <= %(end)s
              AND event IN ('created', 'changed')
            GROUP BY 1, 2, 3 ORDER BY 4 DESC LIMIT 40""",
            {"target": window.target, "start": window.start, "end": window.end})
    if bool(present["pending"].iloc[0]):
        backlog = read_frame(dsn, """
            SELECT currency, transaction_type AS type, transactions AS pending, amount,
                   oldest_age_seconds
            FROM kasho_ops.business_pending
            WHERE target = %(target)s AND collected_at = (
                SELECT max(collected_at) FROM kasho_ops.business_pending
                WHERE target = %(target)s AND collected_at > %(start)s
                  AND collected_at <= %(end)s)
            ORDER BY currency, type""",
            {"target": window.target, "start": window.start, "end": window.end})
        if not backlog.empty:
            backlog["oldest"] = backlog.pop("oldest_age_seconds").map(format_seconds)
    return flows, backlog


def _timeline(config: Config, window: SnapshotWindow, views: Sequence[Any]) -> pd.DataFrame:
    dsn = config.store.dsn
    states = data.server_states(dsn, window.start, window.end)
    states = states[states["target"] == window.target] if not states.empty else states
    events, changes = logic.state_events(states)
    settings = [(c, logic.settings_diff(data.settings_around(dsn, c.target, c.before,
                                                              c.after))) for c in changes]
    resets = data.statistics_resets(dsn, window.start, window.end)
    versions = data.schema_versions(dsn, window.start, window.end)
    gaps = data.collector_gaps(dsn, (window.target,), window.start, window.end, 45.0)
    frame = logic.timeline(events, settings,
                           resets[resets["target"] == window.target] if not resets.empty
                           else resets,
                           versions[versions["target"] == window.target] if not versions.empty
                           else versions, gaps, views, window.start, window.end)
    return frame


def build_snapshot(config: Config, target: str, at: datetime, minutes: int = 30,
                   now: datetime | None = None) -> str:
    """The snapshot as one HTML document (raises StoreUnavailable if the store is down)."""
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # no Streamlit runtime here
    config.target(target)  # a clear error for an unknown target
    window = snapshot_window(target, at, minutes, now)
    dsn, x_range = config.store.dsn, (window.start, window.end)
    args = (dsn, target, window.start, window.end)
    rules = load_rules(config.alerts.rules, config.alerts.global_params)
    views = logic.alert_views(_alerts_frame(dsn, window), rules, [], window.end)
    chart = _Charts()
    own = own_activity(config, config.target(target))

    def collection(group: str) -> Any:
        return collection_in(config, target, group, window.start, window.end)

    runs = {group: collection(group) for group in (
        "connections", "database_stats", "session_ages", "lock_waits", active_sessions.GROUP)}
    connections = overview_data.connections_by_state(*args, runs["connections"].bucket_seconds,
                                                     own)
    limits = overview_data.connection_limits(*args, runs["connections"].bucket_seconds)
    states, _ = overview_logic.states_on_grid(connections, runs["connections"], False)
    stats = overview_data.database_stats(*args, runs["database_stats"].bucket_seconds, own,
                                         False)
    rates = overview_logic.rates_on_grid(stats, runs["database_stats"])
    ages = connection_logic.ages_on_grid(
        connection_data.session_ages(*args, runs["session_ages"].bucket_seconds,
                                     tuple(sorted(own.databases))), runs["session_ages"])
    history = lock_logic.history_on_grid(
        lock_data.lock_history(*args, runs["lock_waits"].bucket_seconds, own, False),
        runs["lock_waits"])
    ash_runs = runs[active_sessions.GROUP]
    active = ash.average_active_sessions(
        ash_data.session_seconds(*args, ash_runs.bucket_seconds, "wait event type", own),
        ash_runs, False)
    waits, _ = lock_logic.visible_waits(lock_data.lock_waits(*args, own), False)
    events = _timeline(config, window, views)
    flows, backlog = _business(config, window)
    sections = [
        f"<h1>Incident snapshot: {html.escape(target)}</h1>",
        f'<p class="meta">Around {_cell(window.at)} UTC: {_cell(window.start)} to '
        f"{_cell(window.end)} UTC ({minutes} min either side). Written "
        f"{_cell(now or datetime.now(UTC))} UTC by kasho-ops from the metrics store.</p>",
        "<h2>Alerts</h2>", table(_alerts_table(views)),
        "<h2>What changed</h2>",
        chart(charts.timeline_figure(events, x_range), "No restart, configuration change, "
              "failover, statistics reset, schema migration or collector gap in the window."),
        table(events),
        "<h2>Activity</h2>", '<div class="charts">',
        chart(overview_charts.connections_figure(states, overview_logic.usable_series(limits),
                                                 runs["connections"].chart_gaps(), x_range),
              "No connection samples."),
        chart(overview_charts.transactions_figure(rates, runs["database_stats"].chart_gaps(),
                                                  x_range), "No transaction samples."),
        chart(connection_charts.session_ages_figure(ages, runs["session_ages"].chart_gaps(),
                                                    x_range), "No session-age samples."),
        chart(ash_charts.active_sessions_figure(
            active.wide, ash_runs.chart_gaps(), "Average active sessions by wait event type",
            x_range), "No active-session samples."),
        "</div>",
        "<h2>Locks</h2>",
        chart(lock_charts.lock_history_figure(history, runs["lock_waits"].chart_gaps(),
                                              x_range), "No lock_waits samples."),
        table(_lock_table(waits)),
        f"<h2>Top statements (by execution time, {TOP_STATEMENTS} at most)</h2>",
        table(_top_statements(config, window, own), numeric=("calls", "total time", "mean", "rows"),
              pre=("statement",)),
        "<h2>Business</h2>",
        "<h3>Transactions in the window</h3>", table(flows, numeric=("transactions", "amount")),
        "<h3>Pending backlog</h3>", table(backlog, numeric=("pending", "amount")),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Kasho Ops snapshot: {html.escape(target)} {_cell(window.at)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(sections)
            + "\n</body></html>\n")


def snapshot_file_name(target: str, at: datetime) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in target)
    return f"kasho-ops-snapshot-{safe}-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}.html"

