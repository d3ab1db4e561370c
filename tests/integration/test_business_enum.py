"""Kasho's documentation says "ENUM for status fields" while its DDL says VARCHAR: every
business group must give the same numbers on a copy whose status, transaction_type and
account_type are PostgreSQL enum types, through the same indexes."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from demo.cluster import LocalCluster
from demo.seed import ACCOUNT_TYPES, STATUSES, TRANSACTION_TYPES
from tests.conftest import KashoDatabase
from tests.integration.business_setup import (
    BUSINESS_GROUPS,
    business_config,
    business_engine,
    business_group,
    run_until_caught_up,
    store_rows,
)
from tests.integration.collector_setup import monitor_dsn

# Kasho runs PostgreSQL 15; the business SQL on 18 is covered by test_business_collect.
pytestmark = pytest.mark.single_major

ENUMS = {("transactions", "status"): ("transaction_status", STATUSES),
         ("transactions", "transaction_type"): ("transaction_type", TRANSACTION_TYPES),
         ("accounts", "account_type"): ("account_type", ACCOUNT_TYPES)}
VOLATILE = {"oldest_age_seconds"}  # the age of the oldest pending row grows while we compare


@pytest.fixture
def enum_copy(kasho_copy: KashoDatabase) -> KashoDatabase:
    """The copy converted as a DBA would: the partial index of pending rows compares status
    with a text literal, which an enum's cast to text (not immutable) cannot keep, so it is
    rebuilt on the enum."""
    with psycopg.connect(kasho_copy.admin_dsn, autocommit=True) as conn:
        conn.execute("DROP INDEX transactions_pending_created_at_idx")
        for (table, column), (type_name, values) in ENUMS.items():
            conn.execute(sql.SQL("CREATE TYPE {} AS ENUM ({})").format(
                sql.Identifier(type_name), sql.SQL(", ").join(map(sql.Literal, values))))
            conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}").format(
                sql.Identifier(table), sql.Identifier(column), sql.Identifier(type_name),
                sql.Identifier(column), sql.Identifier(type_name)))
            assert conn.execute(
                "SELECT data_type FROM information_schema.columns WHERE table_name = %s "
                "AND column_name = %s", [table, column]).fetchone() == ("USER-DEFINED",)
        conn.execute("CREATE INDEX transactions_pending_created_at_idx ON transactions "
                     "(created_at) WHERE status = 'pending'")
        conn.execute("ANALYZE")
    return kasho_copy


def read_group(dsn: str, name: str, window: dict[str, Any]) -> list[dict[str, Any]]:
    group = business_group(name)
    with psycopg.connect(dsn, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        rows = conn.execute(group.sql_for(15), window if group.incremental else None).fetchall()
    return sorted(({k: v for k, v in row.items() if k not in VOLATILE} for row in rows),
                  key=repr)


def scans(plan: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    found = [(plan["Node Type"], plan["Relation Name"], plan.get("Index Name"))] \
        if "Relation Name" in plan else []
    return found + [scan for child in plan.get("Plans", []) for scan in scans(child)]


def test_every_business_group_reads_the_same_numbers_from_enum_columns(
        kasho_database: KashoDatabase, enum_copy: KashoDatabase) -> None:
    with psycopg.connect(kasho_database.admin_dsn) as conn:
        newest = conn.execute("SELECT max(created_at) FROM transactions").fetchone()[0]
    window = {"since": newest - timedelta(days=8), "until": newest}
    for name in BUSINESS_GROUPS:
        as_varchar = read_group(kasho_database.business_dsn, name, window)
        as_enum = read_group(enum_copy.business_dsn, name, window)
        assert as_varchar, name
        assert as_enum == as_varchar, name


def test_enum_columns_keep_the_index_plans(kasho_database: KashoDatabase,
                                           enum_copy: KashoDatabase) -> None:
    """The pending backlog's partial index (status = 'pending') still matches the query's
    text comparison once status is an enum."""
    plans = {}
    for database in (kasho_database, enum_copy):
        with psycopg.connect(database.admin_dsn, autocommit=True) as conn:
            conn.execute("SET enable_seqscan = off")  # tiny tables: ask for the index path
            query = business_group("business_pending").sql_for(15)
            plan = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + sql.SQL(query)).fetchone()[0]
            plans[database.name] = scans(json.loads(plan)[0]["Plan"]
                                         if isinstance(plan, str) else plan[0]["Plan"])
    assert ("Index Scan", "transactions", "transactions_pending_created_at_idx") in \
        plans[enum_copy.name]
    assert plans[enum_copy.name] == plans[kasho_database.name]


def test_the_collector_runs_every_business_group_on_enum_columns(
        pg_cluster: LocalCluster, enum_copy: KashoDatabase, fresh_store: str) -> None:
    config = business_config(fresh_store, monitor_dsn(pg_cluster), enum_copy.business_dsn)
    with business_engine(config) as engine:
        for name in BUSINESS_GROUPS:
            group = business_group(name)
            if group.incremental:
                run_until_caught_up(engine, config, group)
            else:
                assert engine.run(group, config.targets[0]).error is None
    for name in BUSINESS_GROUPS:
        assert store_rows(fresh_store, sql.SQL("SELECT count(*) FROM kasho_ops.{}").format(
            sql.Identifier(name)).as_string(None))[0][0] > 0, name
    assert {row[0] for row in store_rows(
        fresh_store, "SELECT DISTINCT status FROM kasho_ops.business_transactions")} == \
        set(STATUSES)
