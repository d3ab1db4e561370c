"""Index advice with hypopg: would an index make a collected statement cheaper to run?

A DBA action from the Indexes page, never scheduled. The statement (one SELECT, INSERT,
UPDATE, DELETE or WITH, checked as EXPLAIN checks it) is planned generically, never
executed, in a read-only transaction under a statement timeout on a monitoring session.
For every table the plan reads with a sequential scan, each column gets a hypothetical
B-tree index (hypopg_create_index: it exists only in this session's memory, no catalog
write, no lock) and the statement is planned again; the columns the planner then uses,
and the pair of the two best, are the candidates. No text is parsed to guess columns: the
planner's own choice is the evidence. The advice is the cheapest plan, with the DDL a DBA
would run (CREATE INDEX CONCURRENTLY), shown, never run. Plan costs are the planner's
estimates, not measurements.

Without hypopg installed in the statement's database it says so and what to install. It
plans as EXPLAIN does (collectors/actions/explain.py): through the target's `explain_dsn`
role (the table privileges the statement needs; else the monitoring role), one marked
statement per round trip over the extended protocol, in a READ ONLY transaction that is rolled back;
the actor's role needs the `explain` permission (operators and admins; checked here, not only by the
page). `advise_index` records every attempt in kasho_ops.index_advice_runs: no audit, no
advice.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from collectors.actions.audit import connect_audit
from collectors.actions.explain import (
    ExplainDenied,
    ExplainRefused,
    check_statement,
    explain_connect_kwargs,
    generic_plan_json,
    one_statement,
)
from collectors.core.access import AccessDenied, Actor, authorize
from collectors.core.config import CollectorSettings, Config, Target
from collectors.core.connections import TrackedConnection, describe_error

TIMEOUT_MS = 10_000
MAX_COLUMNS = 64  # per table: beyond that the candidates are the first 64 columns
WORTH_IT = 0.9  # advise only an index that brings the plan's cost below 90 % of before


class AdviceRefused(ExplainRefused):
    """The statement cannot be advised on (not plannable, no hypopg); the message says why."""

    outcome = "refused"


class AdviceFailed(AdviceRefused):
    """The server failed (permissions, timeout); the message says why."""

    outcome = "failed"


@dataclass(frozen=True)
class SeqScan:
    """A table the plan reads with a sequential scan."""

    schemaname: str
    relname: str
    rows: float  # the planner's row estimate for the scan node


@dataclass(frozen=True)
class Candidate:
    schemaname: str
    relname: str
    columns: tuple[str, ...]
    cost: float  # the whole plan's total cost with this hypothetical index
    used: bool  # the planner chose the hypothetical index

    @property
    def ddl(self) -> str:
        """What a DBA would run: shown, never run by Kasho Ops."""
        columns = ", ".join(quote_identifier(c) for c in self.columns)
        return (f"CREATE INDEX CONCURRENTLY ON {quote_identifier(self.schemaname)}."
                f"{quote_identifier(self.relname)} ({columns});")


@dataclass(frozen=True)
class IndexAdvice:
    cost_before: float
    seq_scans: tuple[SeqScan, ...]
    candidates: tuple[Candidate, ...]  # every hypothetical index the planner used, best first
    hypopg_version: str

    @property
    def best(self) -> Candidate | None:
        """The cheapest candidate, if it brings the cost below WORTH_IT of before."""
        if not self.candidates:
            return None
        best = self.candidates[0]
        return best if best.cost < self.cost_before * WORTH_IT else None


@dataclass(frozen=True)
class AdviceRequest:
    target: str
    dbname: str
    text: str
    actor: Actor  # who asked, and the role they held
    queryid: int | None = None


def quote_identifier(name: str) -> str:
    """An identifier as SQL would need it written (for DDL shown to people)."""
    if name.isidentifier() and name == name.lower() and name.isascii():
        return name
    return '"' + name.replace('"', '""') + '"'


def plan_nodes(plan: Any) -> Iterator[dict[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan, depth first."""
    if isinstance(plan, list):
        for item in plan:
            yield from plan_nodes(item)
    elif isinstance(plan, dict):
        if "Node Type" in plan:
            yield plan
        for key in ("Plan", "Plans"):
            if key in plan:
                yield from plan_nodes(plan[key])


def total_cost(plan: Any) -> float:
    """The top node's total cost."""
    top = next(plan_nodes(plan), None)
    return float(top["Total Cost"]) if top else 0.0


def seq_scans(plan: Any) -> tuple[SeqScan, ...]:
    """The tables read by sequential scans, once each, in plan order."""
    found: dict[tuple[str, str], SeqScan] = {}
    for node in plan_nodes(plan):
        if node.get("Node Type") == "Seq Scan" and "Relation Name" in node:
            key = (str(node.get("Schema", "public")), str(node["Relation Name"]))
            found.setdefault(key, SeqScan(*key, rows=float(node.get("Plan Rows", 0))))
    return tuple(found.values())


def uses_index(plan: Any, index_name: str) -> bool:
    return any(node.get("Index Name") == index_name for node in plan_nodes(plan))


def advise(target: Target, settings: CollectorSettings, dbname: str,
           text: str) -> IndexAdvice:
    """Plan `text` in database `dbname` with and without hypothetical indexes."""
    statement = check_statement(text)
    names = (f"kasho_ops_advice_{n}" for n in itertools.count())  # one per plan: see below
    try:
        with TrackedConnection.connect(**explain_connect_kwargs(target, settings, dbname)) \
                as conn, conn.transaction(force_rollback=True):
            one_statement(conn, sql.SQL("SET TRANSACTION READ ONLY"))
            one_statement(conn, sql.SQL("SELECT set_config('statement_timeout', {}, true)")
                          .format(sql.Literal(str(TIMEOUT_MS))))
            found = next(iter(one_statement(
                conn, "SELECT n.nspname, e.extversion FROM pg_extension e "
                "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'hypopg'")),
                None)
            if found is None:
                raise AdviceRefused(
                    f"hypopg is not installed in database {dbname}: run CREATE EXTENSION "
                    "hypopg; there (Debian/Ubuntu package postgresql-15-hypopg, or the one "
                    "for your major version); without it no index can be tried")
            schema, version = str(found[0]), str(found[1])
            before = generic_plan_json(conn, statement, next(names))
            scans = seq_scans(before)
            candidates = _try_candidates(conn, statement, schema, scans, names)
            one_statement(conn, sql.SQL("SELECT {}.hypopg_reset()").format(
                sql.Identifier(schema)))
    except ExplainRefused:
        raise
    except psycopg.Error as exc:
        raise AdviceFailed(f"index advice failed: {describe_error(exc)}") from None
    ranked = sorted(candidates, key=lambda c: (c.cost, len(c.columns)))
    return IndexAdvice(cost_before=total_cost(before), seq_scans=scans,
                       candidates=tuple(ranked), hypopg_version=version)


def _try_candidates(conn: psycopg.Connection[Any], statement: Any, hypopg_schema: str,
                    scans: tuple[SeqScan, ...], names: Iterator[str]) -> list[Candidate]:
    tried: list[Candidate] = []
    for scan in scans:
        columns = [str(r[0]) for r in one_statement(
            conn, "SELECT a.attname FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum LIMIT %s", [scan.schemaname, scan.relname, MAX_COLUMNS])]
        singles = [c for c in (_try(conn, statement, hypopg_schema, scan, (column,), names)
                               for column in columns) if c is not None and c.used]
        singles.sort(key=lambda c: c.cost)
        tried.extend(singles)
        if len(singles) >= 2:
            first, second = singles[0].columns[0], singles[1].columns[0]
            for pair in ((first, second), (second, first)):
                candidate = _try(conn, statement, hypopg_schema, scan, pair, names)
                if candidate is not None and candidate.used:
                    tried.append(candidate)
    return tried


def _try(conn: psycopg.Connection[Any], statement: Any, hypopg_schema: str, scan: SeqScan,
         columns: tuple[str, ...], names: Iterator[str]) -> Candidate | None:
    """Plan with one hypothetical index; None when hypopg cannot build it (a type without
    a B-tree operator class, say)."""
    definition = sql.SQL("CREATE INDEX ON {}.{} ({})").format(
        sql.Identifier(scan.schemaname), sql.Identifier(scan.relname),
        sql.SQL(", ").join(map(sql.Identifier, columns))).as_string(conn)
    try:
        with conn.transaction():  # a savepoint: a failed candidate does not end the others
            row = next(iter(one_statement(
                conn, sql.SQL("SELECT indexrelid, indexname FROM {}.hypopg_create_index(%s)")
                .format(sql.Identifier(hypopg_schema)), [definition])), None)
            if row is None:
                return None
            plan = generic_plan_json(conn, statement, next(names))
            one_statement(conn, sql.SQL("SELECT {}.hypopg_drop_index(%s)").format(
                sql.Identifier(hypopg_schema)), [row[0]])
    except psycopg.errors.QueryCanceled:
        raise
    except psycopg.Error:
        return None
    return Candidate(scan.schemaname, scan.relname, columns, total_cost(plan),
                     uses_index(plan, str(row[1])))


@dataclass(frozen=True)
class AdviceResult:
    outcome: str  # advised | no_advice | denied | refused | failed
    message: str
    advice: IndexAdvice | None = None


def advise_index(config: Config, request: AdviceRequest) -> AdviceResult:
    """`advise`, recorded in kasho_ops.index_advice_runs of the store: no audit, no advice.
    The one entry point of this action (a role check wraps it)."""
    try:
        audit = connect_audit(config.store.audit_writer_dsn, "index_advice_runs")
    except psycopg.Error as exc:
        return AdviceResult("failed", "Nothing was planned: the audit trail "
                            "(kasho_ops.index_advice_runs in the metrics store) is unavailable: "
                            f"{describe_error(exc)}")
    with audit:
        advice: IndexAdvice | None = None
        try:
            try:
                authorize(request.actor, "explain")
            except AccessDenied as exc:
                raise ExplainDenied(str(exc)) from None
            advice = advise(config.target(request.target), config.collector, request.dbname,
                            request.text)
        except ExplainRefused as exc:
            result = AdviceResult(exc.outcome, str(exc))
        else:
            best = advice.best
            if best is None:
                result = AdviceResult("no_advice", _no_advice_message(advice), advice)
            else:
                result = AdviceResult(
                    "advised", f"An index on {best.schemaname}.{best.relname} "
                    f"({', '.join(best.columns)}) lowers the plan's estimated cost from "
                    f"{advice.cost_before:,.0f} to {best.cost:,.0f}.", advice)
        best = advice.best if advice else None
        audit.execute(
            "INSERT INTO kasho_ops.index_advice_runs (actor, actor_role, target, datname, "
            "queryid, outcome, error, suggested_index, cost_before, cost_after) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [request.actor.name, request.actor.role, request.target, request.dbname,
             request.queryid, result.outcome,
             result.message if result.outcome in ("denied", "refused", "failed") else None,
             best.ddl if best else None, advice.cost_before if advice else None,
             best.cost if best else None])
    return result


def _no_advice_message(advice: IndexAdvice) -> str:
    if not advice.seq_scans:
        return ("The plan reads no table with a sequential scan: an index would not change "
                "how this statement finds its rows.")
    names = ", ".join(f"{s.schemaname}.{s.relname}" for s in advice.seq_scans)
    if not advice.candidates:
        return (f"Sequential scans on {names}, but the planner used none of the hypothetical "
                "indexes on their columns: the scans read most of the table anyway, or the "
                "table is small enough that an index does not pay.")
    best = advice.candidates[0]
    return (f"The best hypothetical index ({', '.join(best.columns)} on "
            f"{best.schemaname}.{best.relname}) only lowers the estimated cost from "
            f"{advice.cost_before:,.0f} to {best.cost:,.0f}: not worth the writes it costs.")
