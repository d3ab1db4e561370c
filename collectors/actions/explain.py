"""EXPLAIN a collected statement on demand: a DBA action, never part of a scheduled collection.

The statement text is hostile input (anyone who can log in to the monitored server wrote
it), so the security boundary is the server, not a reading of the text: everything goes
over the extended query protocol (`one_statement`), where PostgreSQL refuses to parse more
than one statement, inside a READ ONLY transaction under a statement timeout. The statement
is PREPAREd and planned with EXPLAIN EXECUTE, never executed (no ANALYZE, ever): with the
DBA's sample values for a custom plan, or with NULLs under plan_cache_mode =
force_generic_plan for the generic plan. `check_statement`, which reads the text with the
one SQL lexer (collectors/core/sqltext.py), only refuses early and says why in plain words.

Normalized texts carry `$n` placeholders whose types pg_stat_statements forgot; where the
server cannot infer one (`$1 / $2`: "operator is not unique: unknown / unknown"), the
statement is prepared again with the types its operators imply (`parameter_types`).

EXPLAIN checks the statement's table privileges, which the monitoring role (pg_monitor) does
not have: a target's `explain_dsn` names a role that has them; it is used for nothing else.
`audited_explain` records the attempt in kasho_ops.explain_runs before anything runs and its
outcome in kasho_ops.explain_outcomes after (both append-only, never the sample values).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from collectors.actions.audit import audit_round_trip, connect_audit
from collectors.core.access import AccessDenied, Actor, authorize
from collectors.core.config import CollectorSettings, Config, Target
from collectors.core.connections import TrackedConnection, describe_error, session_options
from collectors.core.deadlines import answer_within, connect_within, deadline_seconds, tcp_kwargs
from collectors.core.errors import KashoOpsError, NoAnswer
from collectors.core.query_marker import marked
from collectors.core.sqltext import (
    Token,
    highest_parameter,
    significant,
    split_statements,
    tokenize,
)

log = logging.getLogger(__name__)

EXPLAINABLE = ("select", "insert", "update", "delete", "with")
PREPARED_NAME = "kasho_ops_explain"
EXPLAIN_APPLICATION_NAME = "kasho-ops-explain"
DEFAULT_TIMEOUT_MS = 5000
# The server could not type a placeholder: ambiguous operator, undetermined type, no such
# operator for unknown inputs, or a mismatch an explicit type resolves.
UNTYPED_PARAMETER_ERRORS = ("42725", "42P18", "42883", "42804")
_ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "^"})
_QUOTED_VALUE = re.compile(r'"[^"]*"')


class ExplainRefused(KashoOpsError):
    """The text is not a single plannable statement; the message says why."""

    outcome = "refused"

    def __init__(self, message: str, audit_error: str | None = None) -> None:
        super().__init__(message)
        # What the audit trail stores: the message without any sample value in it.
        self.audit_error = audit_error if audit_error is not None else message


class ExplainFailed(ExplainRefused):
    """The server could not plan it (permissions, timeout, syntax); the message says why."""

    outcome = "failed"


@dataclass(frozen=True)
class ExplainResult:
    plan: str
    tables: tuple[str, ...]
    generic: bool
    method: str  # what ran, for the page: "PREPARE + EXPLAIN EXECUTE (generic plan)", ...
    parameter_types: tuple[str, ...] = ()  # declared where the server could not infer them


@dataclass(frozen=True)
class CheckedStatement:
    text: str
    parameter_count: int
    tokens: tuple[Token, ...]


def check_statement(text: str) -> CheckedStatement:
    """Accept exactly one SELECT/INSERT/UPDATE/DELETE/WITH statement; count its $n params.

    A friendly early refusal only: the server enforces one statement (`one_statement`)."""
    tokens = tokenize(text)
    if any(not t.terminated for t in tokens):
        raise ExplainRefused("the text ends inside a string, quoted name or comment (it was "
                             "probably cut short), so it cannot be planned")
    statements = split_statements(tokens)
    if not statements:
        raise ExplainRefused("there is no statement to explain")
    if len(statements) > 1:
        raise ExplainRefused("only one statement can be explained; remove what follows ';'")
    first = statements[0][0]
    if first.word not in EXPLAINABLE:
        raise ExplainRefused(f"only {', '.join(w.upper() for w in EXPLAINABLE)} statements can "
                             f"be explained, not {first.text.upper()}")
    body = text[:statements[0][-1].end].strip()
    return CheckedStatement(text=body, parameter_count=highest_parameter(tokens),
                            tokens=tuple(tokenize(body)))


def parameter_types(statement: CheckedStatement) -> tuple[str, ...]:
    """A type for each $n where its neighbours imply one: numeric beside an arithmetic
    operator, text beside ||; unknown (the server infers it) everywhere else."""
    types = ["unknown"] * statement.parameter_count
    tokens = significant(statement.tokens)
    for index, token in enumerate(tokens):
        if token.kind != "parameter":
            continue
        number = int(token.text[1:].replace("_", ""))
        neighbours = {t.text for t in (tokens[index - 1] if index else None,
                                       tokens[index + 1] if index + 1 < len(tokens) else None)
                      if t is not None and t.kind == "operator"}
        if neighbours & _ARITHMETIC:
            types[number - 1] = "numeric"
        elif "||" in neighbours and types[number - 1] == "unknown":
            types[number - 1] = "text"
    return tuple(types)


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


def one_statement(conn: psycopg.Connection[Any], query: str | sql.Composable,
                  params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    """Run `query`, marked as Kasho Ops' (collectors/core/query_marker.py), over the
    extended query protocol and return its rows.

    psycopg sends a query without parameters with the simple protocol, which runs every
    statement in the string; asking for binary results makes it use PQsendQueryParams
    (Parse/Bind/Execute), and the server refuses to parse more than one statement there:
    "cannot insert multiple commands into a prepared statement"."""
    text = query if isinstance(query, str) else query.as_string(conn)
    with conn.cursor(binary=True) as cursor:
        cursor.execute(marked(text).encode(), params)
        return cursor.fetchall() if cursor.description else []


def explain_connect_kwargs(target: Target, settings: CollectorSettings,
                           dbname: str) -> dict[str, Any]:
    """libpq parameters of the EXPLAIN session: the target's explain_dsn role if set (else
    the monitoring role), in database `dbname`; our safety settings win over the DSN's."""
    base = (psycopg.conninfo.conninfo_to_dict(target.explain_dsn.reveal())
            if target.explain_dsn is not None else target.connect_kwargs())
    return {**base, "dbname": dbname, "application_name": EXPLAIN_APPLICATION_NAME,
            **tcp_kwargs(settings.connect_timeout_seconds),
            "options": session_options(settings), "autocommit": True}


def explain(target: Target, settings: CollectorSettings, dbname: str, text: str,
            parameters: Sequence[str | None] = (),
            timeout_ms: int = DEFAULT_TIMEOUT_MS) -> ExplainResult:
    """Plan `text` in database `dbname` of the target; raise ExplainRefused with the reason."""
    statement = check_statement(text)
    if parameters and len(parameters) != statement.parameter_count:
        raise ExplainRefused(f"the statement has {statement.parameter_count} parameters; "
                             f"{len(parameters)} values were given (one per line)")
    try:
        with connect_within(connection_class=TrackedConnection,
                            **explain_connect_kwargs(target, settings, dbname)) as conn, \
                answer_within(conn, deadline_seconds(timeout_ms)):
            return plan(conn, statement, parameters, timeout_ms)
    except NoAnswer as exc:  # a frozen server: the page says so within seconds
        raise ExplainFailed(f"EXPLAIN failed: {exc}") from None
    except psycopg.Error as exc:
        raise _failure(exc, target, parameters) from None


def plan(conn: psycopg.Connection[Any], statement: CheckedStatement,
         parameters: Sequence[str | None], timeout_ms: int = DEFAULT_TIMEOUT_MS
         ) -> ExplainResult:
    """PREPARE and EXPLAIN EXECUTE `statement` on an autocommit session, every round trip
    one statement over the extended protocol, inside one READ ONLY transaction that is
    rolled back. The security boundary: `check_statement` is not needed for safety."""
    generic = not parameters
    with conn.transaction(force_rollback=True):
        one_statement(conn, sql.SQL("SET TRANSACTION READ ONLY"))
        one_statement(conn, sql.SQL("SELECT set_config('statement_timeout', {}, true)").format(
            sql.Literal(str(timeout_ms))))
        if generic:
            one_statement(conn, sql.SQL(
                "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)"))
        declared = _prepare(conn, statement)
        values = list(parameters) if parameters else [None] * statement.parameter_count
        arguments = (sql.SQL("({})").format(sql.SQL(", ").join(
            sql.Literal(v) if v is not None else sql.SQL("NULL") for v in values))
            if values else sql.SQL(""))
        name = sql.Identifier(PREPARED_NAME)
        text_plan = one_statement(conn, sql.SQL("EXPLAIN EXECUTE {}{}").format(name, arguments))
        json_plan = one_statement(conn, sql.SQL("EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE {}{}")
                                  .format(name, arguments))
        one_statement(conn, sql.SQL("DEALLOCATE {}").format(name))  # not transactional
    method = "PREPARE + EXPLAIN EXECUTE" + (" (generic plan)" if generic else " (sample values)")
    return ExplainResult(plan="\n".join(r[0] for r in text_plan),
                         tables=plan_tables(json_plan[0][0] if json_plan else None),
                         generic=generic, method=method, parameter_types=declared)


def _prepare(conn: psycopg.Connection[Any], statement: CheckedStatement,
             prepared_name: str = PREPARED_NAME) -> tuple[str, ...]:
    """PREPARE the statement, letting the server infer its parameter types; where it cannot,
    again with the types its operators imply. Returns the types declared (none: inferred)."""
    name = sql.Identifier(prepared_name)
    body = sql.SQL(statement.text)  # sent as one statement: the server refuses more
    try:
        with conn.transaction():  # a savepoint: a failed PREPARE leaves the transaction usable
            one_statement(conn, sql.SQL("PREPARE {} AS {}").format(name, body))
        return ()
    except psycopg.Error as exc:
        types = parameter_types(statement)
        if exc.sqlstate not in UNTYPED_PARAMETER_ERRORS or set(types) == {"unknown"}:
            raise
    one_statement(conn, sql.SQL("PREPARE {} ({}) AS {}").format(
        name, sql.SQL(", ").join(sql.Identifier(t) for t in types), body))
    return types


def _failure(exc: psycopg.Error, target: Target,
             parameters: Sequence[str | None]) -> ExplainFailed:
    reason = describe_error(exc)
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        role = "its explain_dsn role" if target.explain_dsn else "the monitoring role"
        reason += (f" (EXPLAIN needs the table privileges the statement needs, which {role} "
                   f"lacks: give target {target.name} an explain_dsn role that has them; see "
                   "README, EXPLAIN)")
    return ExplainFailed(f"EXPLAIN failed: {reason}",
                         f"EXPLAIN failed: {without_values(reason, exc, parameters)}")


def without_values(message: str, exc: psycopg.Error | None,
                   parameters: Sequence[str | None]) -> str:
    """`message` with every sample value hidden: PostgreSQL's input errors (SQLSTATE class
    22, data exceptions) quote the offending value, "like this"."""
    if not parameters:
        return message
    if exc is not None and str(exc.sqlstate or "").startswith("22"):
        message = _QUOTED_VALUE.sub('"…"', message)
    for value in sorted((v for v in parameters if v), key=len, reverse=True):
        message = message.replace(value, "…")
    return message


def generic_plan_json(conn: psycopg.Connection[Any], statement: CheckedStatement,
                      name: str = PREPARED_NAME) -> Any:
    """The statement's generic plan as EXPLAIN (VERBOSE, FORMAT JSON) gives it, in the
    connection's open (read-only) transaction: PREPAREd under `name` and planned with
    EXPLAIN EXECUTE with NULLs under force_generic_plan, one statement per round trip over
    the extended protocol, never executed, and deallocated again, so a later call sees what
    changed meanwhile (a hypothetical index). Use a fresh `name` after a failed call: a
    prepared statement outlives the savepoint it was made in."""
    one_statement(conn, sql.SQL(
        "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)"))
    _prepare(conn, statement, name)
    arguments = (sql.SQL("({})").format(sql.SQL(", ").join(
        [sql.SQL("NULL")] * statement.parameter_count))
        if statement.parameter_count else sql.SQL(""))
    rows = one_statement(conn, sql.SQL("EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE {}{}").format(
        sql.Identifier(name), arguments))
    one_statement(conn, sql.SQL("DEALLOCATE {}").format(sql.Identifier(name)))
    return rows[0][0] if rows else None


class ExplainDenied(ExplainRefused):
    """The actor's role may not EXPLAIN (operators and admins may)."""

    outcome = "denied"


def audited_explain(config: Config, target_name: str, dbname: str, text: str,
                    parameters: Sequence[str | None], queryid: int | None,
                    actor: Actor) -> ExplainResult:
    """`explain`, with its attempt recorded in kasho_ops.explain_runs before it runs and its
    outcome in kasho_ops.explain_outcomes after: no audit, no EXPLAIN. An actor whose role
    lacks the permission is recorded and refused before anything reaches the server."""
    try:
        audit = connect_audit(config.store.audit_writer_dsn, "explain_outcomes")
        with audit:
            with audit_round_trip(audit):
                run = audit.execute(
                    "INSERT INTO kasho_ops.explain_runs (actor, actor_role, target, datname, "
                    "queryid, sample_values) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                    [actor.name, actor.role, target_name, dbname, queryid,
                     bool(parameters)]).fetchone()
            assert run is not None
            run_id = int(run[0])
            try:
                try:
                    authorize(actor, "explain")
                except AccessDenied as exc:
                    raise ExplainDenied(str(exc)) from None
                result = explain(config.target(target_name), config.collector, dbname, text,
                                 parameters)
            except ExplainRefused as exc:
                _record_outcome(audit, run_id, exc.outcome, exc.audit_error)
                raise
            except BaseException:
                _record_outcome(audit, run_id, "failed", "interrupted before an outcome")
                raise
            _record_outcome(audit, run_id, "planned", None)
            return result
    except (psycopg.Error, NoAnswer) as exc:
        raise ExplainFailed("EXPLAIN was not run: its audit trail (kasho_ops.explain_runs in "
                            f"the metrics store) is unavailable: {describe_error(exc)}") from None


def _record_outcome(audit: psycopg.Connection[Any], run_id: int, outcome: str,
                    error: str | None) -> None:
    try:
        with audit_round_trip(audit):
            audit.execute("INSERT INTO kasho_ops.explain_outcomes (run_id, outcome, error) "
                          "VALUES (%s, %s, %s)", [run_id, outcome, error])
    except (psycopg.Error, NoAnswer) as exc:  # the attempt is recorded; say it has no outcome
        log.error("EXPLAIN run %d (%s) has no outcome in the audit trail: %s", run_id, outcome,
                  describe_error(exc))
