"""`kasho-ops check`: a Nagios/Icinga plugin speaking check_postgres' language.

Same action names, threshold syntax, defaults and comparisons as check_postgres 2.25; the
output is one line, `POSTGRES_<ACTION> <STATE>: text | perfdata`, and the exit code is the
state (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). Where the collector keeps what an action
needs, the answer comes from the metrics store (no query on the monitored server) and says
how old the data is; stale or missing data, and actions the store cannot answer (locks of
every mode, WAL files, vacuum ages, bloat, wraparound, slots, standby delay), read the
server live through the same safe, read-only monitoring session the collector uses.
Names and texts from the server are kept on one line without `|`, so they cannot forge a
state or perfdata.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from collectors.core.config import Config, Target
from collectors.core.connections import TargetConnections, TrackedConnection, describe_error
from collectors.core.deadlines import answer_within, connect_within, deadline_seconds
from collectors.core.errors import KashoOpsError, NoAnswer, TargetBusy, TargetUnavailable
from collectors.core.metric_groups import load_catalog
from collectors.core.query_marker import marked
from collectors.exporters import thresholds as th

State = Literal["OK", "WARNING", "CRITICAL", "UNKNOWN"]
EXIT_CODES: dict[State, int] = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
ACTIONS = ("connection", "backends", "txn_wraparound", "txn_time", "txn_idle", "query_time",
           "locks", "last_vacuum", "last_analyze", "bloat", "archive_ready", "wal_files",
           "database_size", "hot_standby_delay", "replication_slots")


@dataclass(frozen=True)
class CheckResult:
    action: str
    state: State
    text: str
    perfdata: Sequence[str] = ()
    source: str = ""  # "store, 12 s old" or "live"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.state]

    def line(self) -> str:
        text = one_line(self.text)
        if self.source:
            text = f"{text} ({self.source})"
        perf = " ".join(self.perfdata)
        return f"POSTGRES_{self.action.upper()} {self.state}: {text}" + (
            f" | {perf}" if perf else "")


def one_line(text: str) -> str:
    """Text from a server kept to one line and out of the perfdata."""
    return re.sub(r"[\r\n\t]+", " ", text).replace("|", "/").strip()


def perf_label(name: str) -> str:
    """A perfdata label: quoted (quotes doubled) when it holds anything but plain characters."""
    name = one_line(name).replace("=", "_")
    return name if re.fullmatch(r"[\w.\-]+", name) else "'" + name.replace("'", "''") + "'"


def perf(name: str, value: float | int | str, *rest: object) -> str:
    fields = [str(value), *("" if r is None else _plain(r) for r in rest)]
    while len(fields) > 1 and fields[-1] == "":
        fields.pop()
    return f"{perf_label(name)}={';'.join(fields)}"


def _plain(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def state_of(critical: bool, warning: bool) -> State:
    return "CRITICAL" if critical else "WARNING" if warning else "OK"


def pretty_seconds(seconds: float) -> str:
    seconds = int(seconds)
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {unit}{'s' if amount != 1 else ''}")
    return " ".join(parts) or "0 seconds"


@dataclass(frozen=True)
class StoreRead:
    rows: list[dict[str, Any]]
    age_seconds: float

    @property
    def source(self) -> str:
        return f"from the store, data {self.age_seconds:.0f} s old"


STORE_TIMEOUT_MS = 5000
LATEST_RUN = """
    SELECT started_at, extract(epoch FROM now() - started_at)::float8 AS age_seconds
    FROM kasho_ops.collector_runs
    WHERE target = %(target)s AND metric_group = %(group)s AND error IS NULL
    ORDER BY started_at DESC LIMIT 1"""


@dataclass
class CheckContext:
    config: Config
    target: Target
    primary: Target | None = None  # hot_standby_delay: the standby's primary
    use_store: bool = True
    _store_conn: psycopg.Connection[Any] | None = field(default=None, repr=False)

    _sessions: dict[str, TargetConnections] = field(default_factory=dict, repr=False)

    def close(self) -> None:
        if self._store_conn is not None:
            self._store_conn.close()
        for sessions in self._sessions.values():
            sessions.close()

    def _store(self) -> psycopg.Connection[Any] | None:
        if self._store_conn is None:
            try:
                self._store_conn = connect_within(
                    self.config.store.dashboard_dsn.reveal(), connect_timeout=5,
                    connection_class=TrackedConnection, application_name="kasho-ops-check",
                    autocommit=True, options=f"-c statement_timeout={STORE_TIMEOUT_MS} "
                    "-c lock_timeout=1000 -c default_transaction_read_only=on")
            except (psycopg.Error, NoAnswer):
                return None  # the server answers instead
        return self._store_conn

    def from_store(self, group: str) -> StoreRead | None:
        """The group's latest successful run on the target, if fresh (within the dashboard's
        stale_after_intervals of its interval); None when the store cannot say."""
        if not self.use_store:
            return None
        conn = self._store()
        catalog = load_catalog()
        if conn is None or group not in catalog:
            return None
        interval = self.config.collector.intervals.get(group, catalog[group].interval_seconds)
        try:
            with answer_within(conn, deadline_seconds(STORE_TIMEOUT_MS)):
                run = conn.cursor(row_factory=dict_row).execute(
                    LATEST_RUN, {"target": self.target.name, "group": group}).fetchone()
                if run is None or run["age_seconds"] > (
                        interval * self.config.dashboard.stale_after_intervals):
                    return None
                table = psycopg.sql.SQL("SELECT * FROM kasho_ops.{} WHERE target = %s "
                                        "AND collected_at = %s").format(
                    psycopg.sql.Identifier(group))
                rows = conn.cursor(row_factory=dict_row).execute(
                    table, [self.target.name, run["started_at"]]).fetchall()
        except (psycopg.Error, NoAnswer):
            self._store_conn = None if conn.closed else self._store_conn
            return None
        return StoreRead(rows, max(0.0, run["age_seconds"]))

    def live(self, query: str, params: Mapping[str, Any] | None = None,
             target: Target | None = None) -> list[dict[str, Any]]:
        """Rows of one read-only query on the server (raises CheckFailed)."""
        target = target or self.target
        sessions = self._sessions.get(target.name)
        if sessions is None:
            sessions = self._sessions[target.name] = TargetConnections(
                target, self.config.collector)
        try:
            # The collector's monitoring session: read-only, statement and lock timeouts,
            # a client-side deadline, and the query marker on every statement.
            with sessions.connection() as conn:
                try:
                    return conn.cursor(row_factory=dict_row).execute(
                        marked(query).encode(), params or {}).fetchall()
                finally:
                    conn.rollback()
        except (TargetUnavailable, TargetBusy) as exc:
            raise CheckFailed(str(exc).removeprefix("target ")) from None
        except psycopg.Error as exc:
            raise CheckFailed(f"{target.name}: {describe_error(exc)}") from None


class CheckFailed(KashoOpsError):
    """The server could not be read; the check is CRITICAL (connection) or UNKNOWN."""


# -- actions -----------------------------------------------------------------------------------

def check_connection(ctx: CheckContext, warning: str | None,
                     critical: str | None) -> CheckResult:
    if warning or critical:
        raise th.ThresholdError("Cannot specify warning or critical for this action")
    started = time.perf_counter()
    try:
        [row] = ctx.live("SELECT current_setting('server_version') AS version")
    except CheckFailed as exc:
        return CheckResult("connection", "CRITICAL", str(exc))
    elapsed = time.perf_counter() - started
    return CheckResult("connection", "OK", f"version {row['version']}",
                       [perf("time", f"{elapsed:.2f}s")], "live")


BACKENDS_LIVE = """
    SELECT d.datname, count(a.pid)::int AS connections,
           current_setting('max_connections')::int AS max_connections
    FROM pg_database d LEFT JOIN pg_stat_activity a ON a.datid = d.oid
    GROUP BY d.datname ORDER BY d.datname"""


def check_backends(ctx: CheckContext, warning: str | None,
                   critical: str | None) -> CheckResult:
    warn, crit = th.parse_backends(warning, critical)
    sessions = ctx.from_store("connections")
    limits = ctx.from_store("connection_limits") if sessions else None
    per_database: dict[str, int] = {}
    if sessions is not None and limits is not None and limits.rows:
        for row in sessions.rows:
            per_database[row["datname"]] = per_database.get(row["datname"], 0) + int(
                row["connections"])
        limit = int(limits.rows[0]["max_connections"])
        source = sessions.source
    else:
        rows = ctx.live(BACKENDS_LIVE)
        per_database = {r["datname"]: r["connections"] for r in rows}
        limit = rows[0]["max_connections"]
        source = "live"
    total = sum(per_database.values())
    perfdata = [perf(name, count, warn.limit_for(limit), crit.limit_for(limit), 0, limit)
                for name, count in sorted(per_database.items())]
    percent = int(total / limit * 100) or 1
    text = f"{total} of {limit} connections ({percent}%)"
    return CheckResult("backends", state_of(crit.reached(total, limit),
                                            warn.reached(total, limit)), text, perfdata, source)


def _positive_range(warning: str | None, critical: str | None, default_warning: int,
                    default_critical: int) -> tuple[int | None, int | None]:
    if warning is None and critical is None:
        return default_warning, default_critical
    warn = th.parse_integer(warning, "warning") if warning else None
    crit = th.parse_integer(critical, "critical") if critical else None
    if warn is not None and crit is not None and warn > crit:
        raise th.ThresholdError("The 'warning' option cannot be greater than the "
                                "'critical' option")
    return warn, crit


def check_txn_wraparound(ctx: CheckContext, warning: str | None,
                         critical: str | None) -> CheckResult:
    warn, crit = _positive_range(warning, critical, 1_300_000_000, 1_400_000_000)
    for level, value in (("warning", warn), ("critical", crit)):
        if value is not None and value >= 2_000_000_000:
            raise th.ThresholdError(f"The {level} option must be less than 2 billion")
    rows = ctx.live("SELECT datname, age(datfrozenxid)::bigint AS age FROM pg_database "
                    "WHERE datallowconn ORDER BY 1, 2")
    worst = max(rows, key=lambda r: r["age"])
    perfdata = [perf(r["datname"], r["age"], warn, crit, 0, 2_000_000_000) for r in rows]
    return CheckResult("txn_wraparound", state_of(
        crit is not None and worst["age"] >= crit, warn is not None and worst["age"] >= warn),
        f"{worst['datname']}: {worst['age']}", perfdata, "live")


def _count_for_time(warning: str | None, critical: str | None,
                    default_to_int: bool = False) -> tuple[th.CountForTime, th.CountForTime]:
    if not warning and not critical:
        raise th.ThresholdError("Must provide a warning and/or critical option")
    none = th.CountForTime(None, None)
    return (th.parse_count_for_time(warning, "warning", default_to_int) if warning else none,
            th.parse_count_for_time(critical, "critical", default_to_int) if critical
            else none)


SESSIONS_LIVE = """
    SELECT datname, usename, application_name, state, xact_start IS NOT NULL AS in_transaction,
           greatest(coalesce(round(extract(epoch FROM now() - xact_start)), 0), 0)::float8
               AS transaction_seconds,
           greatest(coalesce(round(extract(epoch FROM now() - state_change)), 0), 0)::float8
               AS state_seconds
    FROM pg_stat_activity
    WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"""


def _sessions(ctx: CheckContext, action: str) -> tuple[list[tuple[float, str]], str]:
    """(seconds, who) per session the action counts, from the store or the server."""
    stored = ctx.from_store("transaction_ages")
    found: list[tuple[float, str]] = []
    if stored is not None:
        for row in stored.rows:
            who = (f"database {row['datname']}, role {row['usename']}, application "
                   f"{row['application_name'] or '(none)'}")
            if action == "txn_time":
                seconds = row["longest_transaction_seconds"]
            elif action == "txn_idle" and row["state"] == "idle in transaction":
                seconds = row["longest_in_state_seconds"]
            elif action == "query_time" and not row["state"].startswith("idle"):
                seconds = row["longest_query_seconds"]
            else:
                continue
            found += [(float(seconds), who)] + [(0.0, who)] * (int(row["sessions"]) - 1)
        return found, stored.source
    for row in ctx.live(SESSIONS_LIVE):
        who = (f"database {row['datname']}, role {row['usename']}, application "
               f"{row['application_name'] or '(none)'}")
        state = row["state"] or ""
        if action == "txn_time" and row["in_transaction"]:
            found.append((row["transaction_seconds"], who))
        elif _counts_by_state(action, state):
            found.append((row["state_seconds"], who))
    return found, "live"


def _counts_by_state(action: str, state: str) -> bool:
    """txn_idle counts sessions idle in a transaction, query_time those not idle at all."""
    if action == "txn_idle":
        return state == "idle in transaction"
    return action == "query_time" and not state.startswith("idle")


_SESSION_WORDS = {"txn_time": ("longest txn", "transaction_time", "transactions"),
                  "txn_idle": ("longest idle in txn", "transaction_time", "idle in transaction"),
                  "query_time": ("longest query", "query_time", "queries")}


def _check_sessions(action: str, ctx: CheckContext, warning: str | None,
                    critical: str | None) -> CheckResult:
    warn, crit = _count_for_time(warning, critical)
    sessions, source = _sessions(ctx, action)
    label, perf_name, things = _SESSION_WORDS[action]
    if not sessions:
        return CheckResult(action, "OK", f"no {things}", [perf(
            perf_name, 0, warn.seconds, crit.seconds)], source)
    longest, who = max(sessions)
    count = len(sessions)
    text = f"{label}: {longest:.0f}s" + (f" ({pretty_seconds(longest)})" if longest > 300
                                         else "") + (f" {who}" if longest > 0 else "")
    return CheckResult(action, state_of(crit.reached(count, longest),
                                        warn.reached(count, longest)), text,
                       [perf(perf_name, f"{longest:.0f}s", warn.seconds, crit.seconds)], source)


def check_txn_time(ctx: CheckContext, warning: str | None, critical: str | None) -> CheckResult:
    return _check_sessions("txn_time", ctx, warning, critical)


def check_txn_idle(ctx: CheckContext, warning: str | None, critical: str | None) -> CheckResult:
    return _check_sessions("txn_idle", ctx, warning, critical)


def check_query_time(ctx: CheckContext, warning: str | None,
                     critical: str | None) -> CheckResult:
    return _check_sessions("query_time", ctx, warning, critical)


LOCKS_LIVE = """
    SELECT d.datname, l.granted, lower(l.mode) AS mode
    FROM pg_locks l RIGHT JOIN pg_database d ON d.oid = l.database
    WHERE d.datallowconn"""


def check_locks(ctx: CheckContext, warning: str | None, critical: str | None) -> CheckResult:
    if warning is None and critical is None:
        warning, critical = "100", "150"
    warn, crit = th.parse_locks(warning, "warning"), th.parse_locks(critical, "critical")
    wanted = set(warn or {}) | set(crit or {})
    totals: dict[str, int] = {"total": 0}
    source = "live"
    stored = ctx.from_store("lock_waits") if wanted == {"waiting"} else None
    if stored is not None:
        totals["waiting"] = len(stored.rows)
        source = stored.source
    else:
        for row in ctx.live(LOCKS_LIVE):
            if row["granted"] is None:
                continue
            mode = re.sub(r"lock$", "", row["mode"])
            totals["total"] += 1
            totals[mode] = totals.get(mode, 0) + 1
            if not row["granted"]:
                totals["waiting"] = totals.get("waiting", 0) + 1
    reached_crit = [k for k, v in (crit or {}).items() if totals.get(k, 0) >= v]
    reached_warn = [k for k, v in (warn or {}).items() if totals.get(k, 0) >= v]
    shown = sorted(reached_crit or reached_warn or wanted)
    text = " ".join(f"{k}={totals.get(k, 0)}" for k in shown)
    perfdata = [perf(k, totals.get(k, 0), (warn or {}).get(k), (crit or {}).get(k))
                for k in sorted(wanted)]
    return CheckResult("locks", state_of(bool(reached_crit), bool(reached_warn)), text,
                       perfdata, source)


MAINTENANCE_LIVE = """
    SELECT n.nspname AS schemaname, c.relname,
           CASE WHEN v IS NULL THEN -1
                ELSE round(extract(epoch FROM now() - v)) END::float8 AS seconds,
           to_char(v, 'HH24:MI FMMonth DD, YYYY') AS at
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN LATERAL (SELECT greatest(
        CASE WHEN %(kind)s = 'vacuum' THEN pg_stat_get_last_vacuum_time(c.oid)
             ELSE pg_stat_get_last_analyze_time(c.oid) END,
        CASE WHEN %(kind)s = 'vacuum' THEN pg_stat_get_last_autovacuum_time(c.oid)
             ELSE pg_stat_get_last_autoanalyze_time(c.oid) END) AS v) last
    WHERE c.relkind = 'r' AND n.nspname <> 'information_schema'"""


def _time_range(warning: str | None, critical: str | None, default_warning: str,
                default_critical: str) -> tuple[float | None, float | None]:
    if warning is None and critical is None:
        warning, critical = default_warning, default_critical
    warn = th.parse_time(warning, "warning") if warning else None
    crit = th.parse_time(critical, "critical") if critical else None
    if warn is not None and crit is not None and warn > crit:
        raise th.ThresholdError("The 'warning' option cannot be greater than the "
                                "'critical' option")
    return warn, crit


def _check_maintenance(kind: str, ctx: CheckContext, warning: str | None,
                       critical: str | None) -> CheckResult:
    action = f"last_{kind}"
    warn, crit = _time_range(warning, critical, "1 day", "2 days")
    rows = [r for r in ctx.live(MAINTENANCE_LIVE, {"kind": kind}) if r["seconds"] >= 0]
    if not rows:
        return CheckResult(action, "UNKNOWN", f"No matching tables have ever been "
                           f"{'vacuumed' if kind == 'vacuum' else 'analyzed'}", (), "live")
    database = ctx.target.connect_kwargs().get("dbname", "")
    oldest = max(rows, key=lambda r: r["seconds"])
    perfdata = [perf(f"{database}.{r['schemaname']}.{r['relname']}",
                     f"{r['seconds']:.0f}s", warn, crit)
                for r in sorted(rows, key=lambda r: -r["seconds"])[:10]]
    text = (f"DB: {database} TABLE: {oldest['schemaname']}.{oldest['relname']}: "
            f"{oldest['at']} ({pretty_seconds(oldest['seconds'])})")
    return CheckResult(action, state_of(crit is not None and oldest["seconds"] >= crit,
                                        warn is not None and oldest["seconds"] >= warn),
                       text, perfdata, "live")


def check_last_vacuum(ctx: CheckContext, warning: str | None,
                      critical: str | None) -> CheckResult:
    return _check_maintenance("vacuum", ctx, warning, critical)


def check_last_analyze(ctx: CheckContext, warning: str | None,
                       critical: str | None) -> CheckResult:
    return _check_maintenance("analyze", ctx, warning, critical)


# The classic statistics-based estimate check_postgres reports: a table's pages against the
# pages its live rows should fill (otta: average row width from pg_stats, tuple header and
# alignment, 20 bytes of page header), and each index's pages against its rows at the same
# rough width. Only as good as the last ANALYZE.
BLOAT_LIVE = """
WITH constants AS (
    SELECT current_setting('block_size')::numeric AS bs, 23 AS hdr,
           CASE WHEN version() ~ 'mingw32|64-bit' THEN 8 ELSE 4 END AS ma
),
widths AS (
    SELECT ns.nspname, tbl.relname, c.hdr, c.ma, c.bs,
           sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 2048)) AS datawidth,
           max(coalesce(s.null_frac, 0)) AS maxfracsum,
           c.hdr + (SELECT 1 + count(*) / 8 FROM pg_stats s2
                    WHERE s2.null_frac <> 0 AND s2.schemaname = ns.nspname
                      AND s2.tablename = tbl.relname) AS nullhdr
    FROM pg_attribute att
    JOIN pg_class tbl ON tbl.oid = att.attrelid
    JOIN pg_namespace ns ON ns.oid = tbl.relnamespace
    LEFT JOIN pg_stats s ON s.schemaname = ns.nspname AND s.tablename = tbl.relname
                        AND s.inherited = false AND s.attname = att.attname
    CROSS JOIN constants c
    WHERE att.attnum > 0 AND tbl.relkind = 'r'
    GROUP BY 1, 2, 3, 4, 5
),
headers AS (
    SELECT nspname, relname, ma, bs,
           (datawidth + (hdr + ma - CASE WHEN hdr %% ma = 0 THEN ma ELSE hdr %% ma END))::numeric
               AS datahdr,
           maxfracsum * (nullhdr + ma - CASE WHEN nullhdr %% ma = 0 THEN ma
                                             ELSE nullhdr %% ma END) AS nullhdr2
    FROM widths
),
sizes AS (
    SELECT nn.nspname AS schemaname, cc.relname AS tablename,
           coalesce(cc.reltuples, 0) AS reltuples, coalesce(cc.relpages, 0) AS relpages,
           coalesce(h.bs, 0) AS bs,
           coalesce(ceil((cc.reltuples * ((h.datahdr + h.ma - CASE WHEN h.datahdr %% h.ma = 0
                          THEN h.ma ELSE h.datahdr %% h.ma END) + h.nullhdr2 + 4))
                    / (h.bs - 20::float)), 0) AS otta,
           coalesce(c2.relname, '?') AS iname, coalesce(c2.reltuples, 0) AS ituples,
           coalesce(c2.relpages, 0) AS ipages,
           coalesce(ceil((c2.reltuples * (h.datahdr - 12)) / (h.bs - 20::float)), 0) AS iotta
    FROM pg_class cc
    JOIN pg_namespace nn ON nn.oid = cc.relnamespace AND nn.nspname <> 'information_schema'
    LEFT JOIN headers h ON h.relname = cc.relname AND h.nspname = nn.nspname
    LEFT JOIN pg_index i ON i.indrelid = cc.oid
    LEFT JOIN pg_class c2 ON c2.oid = i.indexrelid
)
SELECT schemaname, tablename, reltuples::bigint AS tuples, relpages::bigint AS pages,
       otta::bigint AS otta,
       round(CASE WHEN otta = 0 OR relpages = 0 OR relpages = otta THEN 0.0
                  ELSE relpages / otta::numeric END, 1)::float8 AS table_bloat,
       CASE WHEN relpages < otta THEN 0 ELSE bs * (relpages - otta) END::float8 AS wasted_bytes,
       iname, ituples::bigint AS index_tuples, ipages::bigint AS index_pages,
       iotta::bigint AS index_otta,
       round(CASE WHEN iotta = 0 OR ipages = 0 OR ipages = iotta THEN 0.0
                  ELSE ipages / iotta::numeric END, 1)::float8 AS index_bloat,
       CASE WHEN ipages < iotta THEN 0 ELSE bs * (ipages - iotta) END::float8
           AS wasted_index_bytes
FROM sizes
WHERE relpages - otta > 0 OR ipages - iotta > 10
ORDER BY (CASE WHEN relpages < otta THEN 0 ELSE bs * (relpages - otta) END
          + CASE WHEN ipages < iotta THEN 0 ELSE bs * (ipages - iotta) END) DESC
LIMIT 10"""


def check_bloat(ctx: CheckContext, warning: str | None, critical: str | None) -> CheckResult:
    if warning is None and critical is None:
        warning, critical = "1 GB", "5 GB"
    warn = th.parse_size_or_percent(warning, "warning")
    crit = th.parse_size_or_percent(critical, "critical")
    rows = ctx.live(BLOAT_LIVE)
    if not rows:
        return CheckResult("bloat", "OK", "no relations meet the minimum bloat criteria",
                           (), "live")
    findings: list[tuple[State, float, str, str]] = []
    seen: set[str] = set()
    database = ctx.target.connect_kwargs().get("dbname", "")
    for row in rows:
        name = f"{row['schemaname']}.{row['tablename']}"
        relations = []
        if name not in seen:
            seen.add(name)
            relations.append((name, row["wasted_bytes"], row["table_bloat"], (
                f"(db {database}) table {name} rows:{row['tuples']} pages:{row['pages']} "
                f"shouldbe:{row['otta']} ({row['table_bloat']}X) wasted size:"
                f"{row['wasted_bytes']:.0f}")))
        if row["iname"] != "?":
            relations.append((row["iname"], row["wasted_index_bytes"], row["index_bloat"], (
                f"(db {database}) index {row['iname']} rows:{row['index_tuples']} pages:"
                f"{row['index_pages']} shouldbe:{row['index_otta']} ({row['index_bloat']}X) "
                f"wasted bytes:{row['wasted_index_bytes']:.0f}")))
        for relation, wasted, ratio, text in relations:
            level: State = ("CRITICAL" if crit(wasted, ratio * 100) else
                            "WARNING" if warn(wasted, ratio * 100) else "OK")
            findings.append((level, wasted, relation, text))
    for level in ("CRITICAL", "WARNING"):
        hits = [f for f in findings if f[0] == level]
        if hits:
            return CheckResult("bloat", level, " * ".join(f[3] for f in hits), (), "live")
    worst = max(findings, key=lambda f: f[1])
    perfdata = [perf(f[2], f"{f[1]:.0f}B") for f in sorted(findings, key=lambda f: -f[1])]
    return CheckResult("bloat", "OK", worst[3], perfdata, "live")


WAL_FILES_LIVE = ("SELECT count(*)::int AS files FROM pg_ls_waldir() "
                  "WHERE name ~ '^[0-9A-F]{24}$'")
READY_FILES_LIVE = ("SELECT count(*)::int AS files FROM pg_ls_archive_statusdir() "
                    "WHERE name ~ '^[0-9A-F]{24}\\.ready$'")


def _file_count(action: str, count: int, warning: str | None, critical: str | None,
                source: str, what: str) -> CheckResult:
    warn, crit = _positive_range(warning, critical, 10, 15)
    return CheckResult(action, state_of(crit is not None and count > crit,
                                        warn is not None and count > warn),
                       f"{what} found: {count}", [perf("files", count, warn, crit)], source)


def check_wal_files(ctx: CheckContext, warning: str | None,
                    critical: str | None) -> CheckResult:
    [row] = ctx.live(WAL_FILES_LIVE)
    return _file_count("wal_files", row["files"], warning, critical, "live", "WAL files")


def check_archive_ready(ctx: CheckContext, warning: str | None,
                        critical: str | None) -> CheckResult:
    stored = ctx.from_store("wal_archiving")
    if stored is not None and stored.rows and stored.rows[0].get("ready_count") is not None:
        count, source = int(stored.rows[0]["ready_count"]), stored.source
    else:
        [row] = ctx.live(READY_FILES_LIVE)
        count, source = row["files"], "live"
    return _file_count("archive_ready", count, warning, critical, source,
                       'WAL ".ready" files')


def _size_range(warning: str | None, critical: str | None) -> tuple[float | None, float | None]:
    if not warning and not critical:
        raise th.ThresholdError("Must provide a warning and/or critical size")
    warn = th.parse_size(warning, "warning") if warning else None
    crit = th.parse_size(critical, "critical") if critical else None
    if warn is not None and crit is not None and warn > crit:
        raise th.ThresholdError("The 'warning' option cannot be greater than the "
                                "'critical' option")
    return warn, crit


def check_database_size(ctx: CheckContext, warning: str | None,
                        critical: str | None) -> CheckResult:
    warn, crit = _size_range(warning, critical)
    stored = ctx.from_store("database_size")
    if stored is not None and stored.rows:
        sizes = {r["datname"]: int(r["size_bytes"]) for r in stored.rows}
        source = stored.source
    else:
        sizes = {r["datname"]: r["size_bytes"] for r in ctx.live(
            "SELECT datname, pg_database_size(oid)::bigint AS size_bytes FROM pg_database "
            "WHERE datallowconn")}
        source = "live"
    largest = max(sizes.values())
    ordered = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))
    text = " ".join(f"{name}: {size}" for name, size in ordered)
    return CheckResult("database_size", state_of(crit is not None and largest >= crit,
                                                 warn is not None and largest >= warn),
                       text, [perf(n, s, warn, crit) for n, s in ordered], source)


SLOTS_LIVE = """
    SELECT slot_name, slot_type, coalesce(restart_lsn, '0/0'::pg_lsn)::text AS restart_lsn,
           active,
           coalesce(pg_wal_lsn_diff(coalesce(pg_last_wal_receive_lsn(), pg_current_wal_lsn()),
                                    restart_lsn), 0)::float8 AS retained_bytes
    FROM pg_replication_slots"""


def check_replication_slots(ctx: CheckContext, warning: str | None,
                            critical: str | None) -> CheckResult:
    warn, crit = _size_range(warning, critical)
    slots = ctx.live(SLOTS_LIVE)
    if not slots:
        return CheckResult("replication_slots", "OK", "No replication slots found", (), "live")
    ordered = sorted(slots, key=lambda s: (-s["retained_bytes"], s["slot_name"]))
    largest = ordered[0]["retained_bytes"]
    text = " ".join(f"{s['slot_name']}: {s['retained_bytes']:.0f} bytes ({s['slot_type']} "
                    f"{s['restart_lsn']} {'active' if s['active'] else 'inactive'})"
                    for s in ordered)
    return CheckResult("replication_slots", state_of(
        crit is not None and largest >= crit, warn is not None and largest >= warn), text,
        [perf(s["slot_name"], f"{s['retained_bytes']:.0f}", warn, crit) for s in ordered],
        "live")


def _lsn_offset(lsn: str) -> int:
    """check_postgres' reading of an LSN (0xff000000 per high word), so deltas agree."""
    high, low = lsn.split("/")
    return 0xFF000000 * int(high, 16) + int(low, 16)


def check_hot_standby_delay(ctx: CheckContext, warning: str | None,
                            critical: str | None) -> CheckResult:
    if ctx.primary is None:
        raise th.ThresholdError("hot_standby_delay compares a standby with its primary: "
                                "pass --primary NAME (the primary's target)")
    warn, crit = _count_for_time(warning, critical, default_to_int=True)
    [standby] = ctx.live(
        "SELECT pg_is_in_recovery() AS recovery, pg_last_wal_receive_lsn()::text AS receive, "
        "pg_last_wal_replay_lsn()::text AS replay, coalesce(round(extract(epoch FROM now() - "
        "pg_last_xact_replay_timestamp())), 0)::float8 AS seconds")
    [primary] = ctx.live("SELECT pg_is_in_recovery() AS recovery, "
                         "pg_current_wal_lsn()::text AS location", target=ctx.primary)
    if primary["recovery"] or not standby["recovery"]:
        return CheckResult("hot_standby_delay", "UNKNOWN", f"{ctx.target.name} must be a "
                           f"standby and {ctx.primary.name} its primary")
    if standby["replay"] is None and standby["receive"] is None:
        return CheckResult("hot_standby_delay", "UNKNOWN", "no WAL location on the standby")
    master = _lsn_offset(primary["location"])
    replay = max(0, master - _lsn_offset(standby["replay"] or standby["receive"]))
    receive = max(0, master - _lsn_offset(standby["receive"] or standby["replay"]))
    seconds = standby["seconds"]
    if seconds < 0:
        return CheckResult("hot_standby_delay", "UNKNOWN", "the standby is ahead of time")

    def reached(level: th.CountForTime) -> bool:
        if level.count is None and level.seconds is None:
            return False
        return ((level.count is None or replay > level.count)
                and (level.seconds is None or seconds > level.seconds))

    perfdata = [perf("replay_delay", replay, warn.count, crit.count),
                perf("receive-delay", receive, warn.count, crit.count),
                perf("time_delay", f"{seconds:.0f}", warn.seconds, crit.seconds)]
    return CheckResult("hot_standby_delay", state_of(reached(crit), reached(warn)),
                       f"{replay} and {seconds:.0f} seconds", perfdata, "live")


CHECKS: dict[str, Callable[[CheckContext, str | None, str | None], CheckResult]] = {
    "connection": check_connection, "backends": check_backends,
    "txn_wraparound": check_txn_wraparound, "txn_time": check_txn_time,
    "txn_idle": check_txn_idle, "query_time": check_query_time, "locks": check_locks,
    "last_vacuum": check_last_vacuum, "last_analyze": check_last_analyze,
    "bloat": check_bloat, "archive_ready": check_archive_ready, "wal_files": check_wal_files,
    "database_size": check_database_size, "hot_standby_delay": check_hot_standby_delay,
    "replication_slots": check_replication_slots,
}


def run_check(config: Config, target_name: str, action: str, warning: str | None,
              critical: str | None, primary: str | None = None,
              use_store: bool = True) -> CheckResult:
    """One check, never raising: bad thresholds and unreadable servers are UNKNOWN."""
    if action not in CHECKS:
        return CheckResult(action, "UNKNOWN", f"no action {action!r}; actions: "
                           f"{', '.join(ACTIONS)}")
    try:
        ctx = CheckContext(config, config.target(target_name),
                           config.target(primary) if primary else None, use_store)
    except KashoOpsError as exc:
        return CheckResult(action, "UNKNOWN", str(exc))
    try:
        return CHECKS[action](ctx, warning, critical)
    except (th.ThresholdError, CheckFailed) as exc:
        return CheckResult(action, "UNKNOWN", str(exc))
    finally:
        ctx.close()

