"""EXPLAIN a collected statement on demand: a DBA action, never part of a scheduled collection.

Only one SELECT, INSERT, UPDATE, DELETE or WITH statement is accepted; it is planned, never
executed (no ANALYZE, ever), inside a read-only transaction under a statement timeout on a
monitoring session (read-only, lock_timeout, application_name kasho-ops). Normalized texts
carry `$1`-style placeholders: PostgreSQL 16+ plans them with EXPLAIN (GENERIC_PLAN); older
servers PREPARE the statement and EXPLAIN EXECUTE it, with the DBA's sample values, or with
NULLs under plan_cache_mode = force_generic_plan for the generic plan. `audited_explain`
records every attempt in kasho_ops.explain_runs first (without the sample values).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from collectors.actions.audit import connect_audit
from collectors.core.access import AccessDenied, Actor, authorize
from collectors.core.config import CollectorSettings, Config, Target
from collectors.core.connections import describe_error, monitoring_connect_kwargs
from collectors.core.errors import KashoOpsError

EXPLAINABLE = ("select", "insert", "update", "delete", "with")
PREPARED_NAME = "kasho_ops_explain"
DEFAULT_TIMEOUT_MS = 5000
_TOKENS = re.compile(
    r"""--[^\n]*                     # line comment
      | /\*.*?\*/                    # block comment (not nested)
      | [eE]?'(?:[^']|'')*'          # string constant
      | "(?:[^"]|"")*"               # quoted identifier
      | \$\$.*?\$\$                   # dollar-quoted string
      | \$(?P<tag>[A-Za-z_]\w*)\$.*?\$(?P=tag)\$    # dollar-quoted string with a tag
      | \$(?P<param>\d+)             # parameter placeholder
      | (?P<semicolon>;)
      | (?P<word>[A-Za-z_]\w*)
    """, re.VERBOSE | re.DOTALL)


class ExplainRefused(KashoOpsError):
    """The text is not a single plannable statement; the message says why."""

    outcome = "refused"


class ExplainFailed(ExplainRefused):
    """The server could not plan it (permissions, timeout, syntax); the message says why."""

    outcome = "failed"


@dataclass(frozen=True)
class ExplainResult:
    plan: str
    tables: tuple[str, ...]
    generic: bool
    method: str  # what ran, for the page: "EXPLAIN (GENERIC_PLAN)" or "PREPARE + EXPLAIN EXECUTE"


@dataclass(frozen=True)
class CheckedStatement:
    text: str
    parameter_count: int


def check_statement(text: str) -> CheckedStatement:
    """Accept exactly one SELECT/INSERT/UPDATE/DELETE/WITH statement; count its $n params."""
    words: list[str] = []
    params = 0
    semicolon_at: int | None = None
    for match in _TOKENS.finditer(text):
        if semicolon_at is not None and not match.group(0).startswith(("--", "/*")):
            raise ExplainRefused("only one statement can be explained; remove what follows ';'")
        if match.group("semicolon"):
            semicolon_at = match.start()
        elif match.group("param"):
            params = max(params, int(match.group("param")))
        elif match.group("word"):
            words.append(match.group("word").lower())
    if not words:
        raise ExplainRefused("there is no statement to explain")
    if words[0] not in EXPLAINABLE:
        raise ExplainRefused(f"only {', '.join(w.upper() for w in EXPLAINABLE)} statements can "
                             f"be explained, not {words[0].upper()}")
    body = text[:semicolon_at] if semicolon_at is not None else text
    return CheckedStatement(text=body.strip(), parameter_count=params)


def parse_parameters(raw: str) -> list[str | None]:
    """The DBA's sample values, one per line; a line reading NULL is SQL NULL."""
    values: list[str | None] = []
    for line in raw.splitlines():
        value = line.strip()
        if value:
            values.append(None if value.upper() == "NULL" else value)
    return values


def plan_tables(plan_json: Any) -> tuple[str, ...]:
    """schema.table of every relation a JSON plan reads or writes, sorted, once each."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Relation Name" in node:
                schema = node.get("Schema")
                found.add(f"{schema}.{node['Relation Name']}" if schema else node["Relation Name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(plan_json)
    return tuple(sorted(found))


def explain(target: Target, settings: CollectorSettings, dbname: str, text: str,
            parameters: Sequence[str | None] = (),
            timeout_ms: int = DEFAULT_TIMEOUT_MS) -> ExplainResult:
    """Plan `text` in database `dbname` of the target; raise ExplainRefused with the reason."""
    statement = check_statement(text)
    if parameters and len(parameters) != statement.parameter_count:
        raise ExplainRefused(f"the statement has {statement.parameter_count} parameters; "
                             f"{len(parameters)} values were given (one per line)")
    kwargs = {**monitoring_connect_kwargs(target, settings), "dbname": dbname}
    try:
        with psycopg.connect(**kwargs, autocommit=True) as conn, conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute("SELECT set_config('statement_timeout', %s, true)",
                         [str(timeout_ms)])
            if conn.info.server_version >= 160000 and not parameters:
                return _explain_generic(conn, statement)
            return _explain_prepared(conn, statement, parameters)
    except psycopg.Error as exc:
        raise ExplainFailed(f"EXPLAIN failed: {describe_error(exc)}") from None


def _explain_generic(conn: psycopg.Connection[Any], statement: CheckedStatement) -> ExplainResult:
    body = sql.SQL(statement.text)  # checked above: one plannable statement, never executed
    text_plan = conn.execute(sql.SQL("EXPLAIN (GENERIC_PLAN) {}").format(body)).fetchall()
    json_plan = conn.execute(
        sql.SQL("EXPLAIN (GENERIC_PLAN, VERBOSE, FORMAT JSON) {}").format(body)).fetchone()
    return ExplainResult(plan="\n".join(r[0] for r in text_plan),
                         tables=plan_tables(json_plan[0] if json_plan else None),
                         generic=True, method="EXPLAIN (GENERIC_PLAN)")


def _explain_prepared(conn: psycopg.Connection[Any], statement: CheckedStatement,
                      parameters: Sequence[str | None]) -> ExplainResult:
    generic = not parameters
    values = list(parameters) if parameters else [None] * statement.parameter_count
    if generic:
        conn.execute("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
    name = sql.Identifier(PREPARED_NAME)
    # The prepared statement lives only as long as this dedicated session.
    conn.execute(sql.SQL("PREPARE {} AS {}").format(name, sql.SQL(statement.text)))
    arguments = (sql.SQL("({})").format(sql.SQL(", ").join(
        sql.Literal(v) if v is not None else sql.SQL("NULL") for v in values))
        if values else sql.SQL(""))
    text_plan = conn.execute(sql.SQL("EXPLAIN EXECUTE {}{}").format(name, arguments)).fetchall()
    json_plan = conn.execute(
        sql.SQL("EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE {}{}").format(name, arguments)).fetchone()
    method = "PREPARE + EXPLAIN EXECUTE" + (" (generic plan)" if generic else " (sample values)")
    return ExplainResult(plan="\n".join(r[0] for r in text_plan),
                         tables=plan_tables(json_plan[0] if json_plan else None),
                         generic=generic, method=method)


class ExplainDenied(ExplainRefused):
    """The actor's role may not EXPLAIN (operators and admins may)."""

    outcome = "denied"


def audited_explain(config: Config, target_name: str, dbname: str, text: str,
                    parameters: Sequence[str | None], queryid: int | None,
                    actor: Actor) -> ExplainResult:
    """`explain`, recorded in kasho_ops.explain_runs of the store: no audit, no EXPLAIN;
    an actor whose role lacks the permission is recorded and refused."""
    try:
        audit = connect_audit(config.store.audit_writer_dsn, "explain_runs")
    except psycopg.Error as exc:
        raise ExplainFailed("EXPLAIN was not run: its audit trail (kasho_ops.explain_runs in "
                            f"the metrics store) is unavailable: {describe_error(exc)}") from None
    with audit:
        outcome, error = "planned", None
        try:
            try:
                authorize(actor, "explain")
            except AccessDenied as exc:
                raise ExplainDenied(str(exc)) from None
            return explain(config.target(target_name), config.collector, dbname, text,
                           parameters)
        except ExplainRefused as exc:
            outcome, error = exc.outcome, str(exc)
            raise
        finally:
            audit.execute(
                "INSERT INTO kasho_ops.explain_runs (actor, actor_role, target, datname, "
                "queryid, sample_values, outcome, error) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [actor.name, actor.role, target_name, dbname, queryid, bool(parameters),
                 outcome, error])
