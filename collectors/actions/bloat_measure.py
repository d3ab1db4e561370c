"""Exact bloat of one relation with pgstattuple: a DBA action from the Maintenance page.

The scheduled bloat_estimate group reads the catalog only; this one reads the relation
itself, so it is opt-in, one relation at a time, and audited. pgstattuple reads every page
of a table; pgstattuple_approx only the pages the visibility map does not mark all-visible
(much cheaper on a mostly static table); pgstatindex reads a B-tree index's pages. While it
runs it holds an ACCESS SHARE lock: a DDL statement arriving then waits for it, and every
query behind that DDL waits too. So the action is bounded:

- denied unless the actor's role permits `exact_bloat` (admins; checked here, not only by
  the page), refused unless `[dashboard] actions_enabled`, and refused for relations larger
  than MAX_RELATION_BYTES;
- refused when someone holds or awaits an ACCESS EXCLUSIVE lock on the relation, and
  lock_timeout still bounds the wait if one arrives between check and read;
- read-only, under STATEMENT_TIMEOUT_MS, on a monitoring session (pg_monitor includes
  pg_stat_scan_tables, which may run pgstattuple); the functions are called in the
  extension's own schema, never through search_path.

Every attempt, refusals and failures included, is one row in kasho_ops.bloat_measurements
with what was measured: no audit, no measurement. `measure_bloat` is the one entry point
(a role check wraps it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from collectors.actions.audit import connect_audit
from collectors.core.access import AccessDenied, Actor, authorize
from collectors.core.config import Config, Target
from collectors.core.connections import describe_error, monitoring_connect_kwargs
from collectors.core.errors import ConfigError
from collectors.core.query_marker import marked

STATEMENT_TIMEOUT_MS = 60_000
MAX_RELATION_BYTES = 16 * 1024**3
METHODS = ("exact", "approximate")  # for tables; indexes always use pgstatindex
OUTCOMES = ("measured", "denied", "refused", "failed")


@dataclass(frozen=True)
class BloatRequest:
    target: str
    dbname: str
    schemaname: str
    relname: str
    actor: Actor  # who asked, and the role they held
    method: str = "exact"  # a table: exact (pgstattuple) or approximate (pgstattuple_approx)


@dataclass(frozen=True)
class BloatMeasurement:
    outcome: str  # one of OUTCOMES
    message: str  # one line for the person who asked
    kind: str | None = None  # table | index
    method: str | None = None  # pgstattuple | pgstattuple_approx | pgstatindex
    relation_bytes: int | None = None
    live_bytes: int | None = None
    dead_bytes: int | None = None
    free_bytes: int | None = None
    live_percent: float | None = None
    dead_percent: float | None = None
    free_percent: float | None = None
    leaf_density: float | None = None
    leaf_fragmentation: float | None = None
    duration_ms: float | None = None
    audited: bool = field(default=True, compare=False)

    @property
    def ok(self) -> bool:
        return self.outcome == "measured"


def format_byte_count(value: int) -> str:
    """Bytes in binary units, like pg_size_pretty: '1.5 GB'."""
    size = float(value)
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


class _Refused(Exception):
    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


def measure_bloat(config: Config, request: BloatRequest) -> BloatMeasurement:
    """Measure one relation's bloat exactly, audited; never raises for an expected failure."""
    try:
        audit = connect_audit(config.store.audit_writer_dsn, "bloat_measurements")
    except psycopg.Error as exc:
        return BloatMeasurement("failed", "Nothing was measured: the audit trail "
                                "(kasho_ops.bloat_measurements in the metrics store) is "
                                f"unavailable: {describe_error(exc)}", audited=False)
    with audit:
        try:
            result = _measure(config, request)
        except _Refused as exc:
            result = BloatMeasurement(exc.outcome, str(exc))
        try:
            _append(audit, request, result)
        except psycopg.Error as exc:
            return BloatMeasurement(result.outcome, f"{result.message} (the audit row could "
                                    f"not be written: {describe_error(exc)})", audited=False)
    return result


def _measure(config: Config, request: BloatRequest) -> BloatMeasurement:
    try:
        authorize(request.actor, "exact_bloat")
    except AccessDenied as exc:
        raise _Refused("denied", str(exc)) from None
    if not config.dashboard.actions_enabled:
        raise _Refused("refused", "actions are disabled; set [dashboard] actions_enabled = "
                       "true to allow exact bloat measurements")
    if request.method not in METHODS:
        raise _Refused("refused", f"unknown method {request.method!r}; use "
                       f"{' or '.join(METHODS)}")
    try:
        target = config.target(request.target)
    except ConfigError as exc:
        raise _Refused("refused", str(exc)) from None
    try:
        return _read(target, config, request)
    except psycopg.errors.LockNotAvailable:
        raise _Refused("failed", f"{request.schemaname}.{request.relname}: a lock arrived "
                       "before the measurement could start (lock_timeout); nothing was "
                       "waited for, try again later") from None
    except psycopg.errors.QueryCanceled:
        raise _Refused("failed", f"{request.schemaname}.{request.relname}: stopped after "
                       f"{STATEMENT_TIMEOUT_MS // 1000} s (statement_timeout); use the "
                       "approximate measure for a large table") from None
    except psycopg.Error as exc:
        raise _Refused("failed", f"{request.schemaname}.{request.relname}: "
                       f"{describe_error(exc)}") from None


_RELATION = """
SELECT c.oid, c.relkind, am.amname,
       EXISTS (SELECT 1 FROM pg_locks l
               WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
                 AND l.relation IN (c.oid, coalesce(x.indrelid, c.oid))
                 AND l.database = (SELECT oid FROM pg_database
                                   WHERE datname = current_database())) AS locked
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_am am ON am.oid = c.relam
LEFT JOIN pg_index x ON x.indexrelid = c.oid
WHERE n.nspname = %(schema)s AND c.relname = %(name)s
"""


def _read(target: Target, config: Config, request: BloatRequest) -> BloatMeasurement:
    where = f"{request.schemaname}.{request.relname}"
    kwargs = {**monitoring_connect_kwargs(target, config.collector), "dbname": request.dbname}
    with psycopg.connect(**kwargs, autocommit=True) as conn, conn.transaction():
        _row(conn, "SET TRANSACTION READ ONLY")
        _row(conn, "SELECT set_config('statement_timeout', %s, true)",
             [str(STATEMENT_TIMEOUT_MS)])
        relation = _row(conn, _RELATION, {"schema": request.schemaname,
                                          "name": request.relname})
        if relation is None:
            raise _Refused("refused", f"{where} does not exist in database {request.dbname}")
        if relation["locked"]:
            raise _Refused("refused", f"{where}: someone holds or awaits an ACCESS EXCLUSIVE "
                           "lock on it (DDL); measuring now would queue behind it, and "
                           "everything after behind us: try again later")
        kind = {"r": "table", "m": "table", "t": "table", "i": "index"}.get(relation["relkind"])
        if kind is None or (kind == "index" and relation["amname"] != "btree"):
            raise _Refused("refused", f"{where} is neither a table nor a B-tree index")
        size = _row(conn, "SELECT pg_relation_size(%s) AS size", [relation["oid"]])
        size_bytes = int(size["size"]) if size else 0
        if size_bytes > MAX_RELATION_BYTES:
            raise _Refused("refused", f"{where} is {format_byte_count(size_bytes)}, more than "
                           f"the {format_byte_count(MAX_RELATION_BYTES)} an exact measure may "
                           "read from the dashboard; run pgstattuple_approx in psql instead")
        found = _row(
            conn, "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
            "ON n.oid = e.extnamespace WHERE e.extname = 'pgstattuple'")
        if found is None:
            raise _Refused("refused", f"pgstattuple is not installed in database "
                           f"{request.dbname}: run CREATE EXTENSION pgstattuple; there (it "
                           "ships with PostgreSQL's contrib)")
        schema = sql.Identifier(str(found["nspname"]))
        started = time.perf_counter()
        if kind == "index":
            row = _row(conn, sql.SQL("SELECT * FROM {}.pgstatindex(%s::oid::regclass)")
                       .format(schema), [relation["oid"]])
            elapsed = (time.perf_counter() - started) * 1000
            return _index_result(where, row or {}, elapsed)
        function = "pgstattuple" if request.method == "exact" else "pgstattuple_approx"
        row = _row(conn, sql.SQL("SELECT * FROM {}.{}(%s::oid::regclass)").format(
            schema, sql.Identifier(function)), [relation["oid"]])
        elapsed = (time.perf_counter() - started) * 1000
        return _table_result(where, function, row or {}, elapsed)


def _row(conn: psycopg.Connection[Any], query: str | sql.Composable,
         params: Sequence[Any] | Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The first row of `query`, sent marked as Kasho Ops' (collectors/core/query_marker.py)."""
    text = query if isinstance(query, str) else query.as_string(conn)
    cursor = conn.cursor(row_factory=dict_row)
    cursor.execute(marked(text).encode(), params)
    return cursor.fetchone() if cursor.description else None


def _table_result(where: str, function: str, row: dict[str, Any],
                  elapsed_ms: float) -> BloatMeasurement:
    approx = function == "pgstattuple_approx"
    prefix = "approx_" if approx else ""
    live = int(row.get(f"{prefix}tuple_len") or 0)
    dead = int(row.get("dead_tuple_len") or 0)
    free = int(row.get(f"{prefix}free_space") or 0)
    size = int(row.get("table_len") or 0)
    free_percent = float(row.get(f"{prefix}free_percent") or 0)
    dead_percent = float(row.get("dead_tuple_percent") or 0)
    scanned = (f", {float(row.get('scanned_percent') or 0):.0f} % of pages read"
               if approx else "")
    return BloatMeasurement(
        "measured", f"{where}: {format_byte_count(size)}, {dead_percent:.1f} % dead rows and "
        f"{free_percent:.1f} % free space ({function}{scanned}, "
        f"{elapsed_ms / 1000:.1f} s)", kind="table", method=function, relation_bytes=size,
        live_bytes=live, dead_bytes=dead, free_bytes=free,
        live_percent=float(row.get(f"{prefix}tuple_percent") or 0),
        dead_percent=dead_percent, free_percent=free_percent, duration_ms=elapsed_ms)


def _index_result(where: str, row: dict[str, Any], elapsed_ms: float) -> BloatMeasurement:
    size = int(row.get("index_size") or 0)
    density = float(row.get("avg_leaf_density") or 0)
    fragmentation = float(row.get("leaf_fragmentation") or 0)
    return BloatMeasurement(
        "measured", f"{where}: {format_byte_count(size)}, leaf pages {density:.1f} % full, "
        f"{fragmentation:.1f} % fragmented (pgstatindex, {elapsed_ms / 1000:.1f} s)",
        kind="index", method="pgstatindex", relation_bytes=size, leaf_density=density,
        leaf_fragmentation=fragmentation, duration_ms=elapsed_ms)


def _append(conn: psycopg.Connection[Any], request: BloatRequest,
            result: BloatMeasurement) -> None:
    conn.execute(
        "INSERT INTO kasho_ops.bloat_measurements (actor, actor_role, target, datname, "
        "schemaname, relname, kind, method, outcome, error, duration_ms, relation_bytes, "
        "live_bytes, dead_bytes, free_bytes, live_percent, dead_percent, free_percent, "
        "leaf_density, leaf_fragmentation) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
        "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [request.actor.name, request.actor.role, request.target, request.dbname,
         request.schemaname, request.relname,
         result.kind, result.method, result.outcome, None if result.ok else result.message,
         result.duration_ms, result.relation_bytes, result.live_bytes, result.dead_bytes,
         result.free_bytes, result.live_percent, result.dead_percent, result.free_percent,
         result.leaf_density, result.leaf_fragmentation])
