"""No business query reads `transactions` with a sequential scan, at any size up to 10 million
rows and beyond.

Building 10 million rows takes minutes, so the default run proves it by scale instead (the
benchmark in tests/bench/bench_business.py checks the plans at 1M and 10M for real). For a
fixed window, the share of a 90-day history a query reads does not depend on the table's
size, so the index plan's cost and a sequential scan's cost both grow roughly in proportion
to the rows. The test seeds two histories of the same shape, 4x apart, and for every query
on `transactions` at both sizes asserts that the plan uses no sequential scan on it and
measures the margin: what a sequential scan would cost over what the chosen plan costs. From
how the margin changes between the two sizes it projects the margin at 10 million rows and
asserts that a sequential scan would still cost at least 1.5x the chosen plan there.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster
from tests.integration.business_setup import BUSINESS_GROUPS, business_group
from tests.pg import create_database, drop_database

pytestmark = pytest.mark.single_major  # Kasho's planner: PostgreSQL 15

SIZES = (25_000, 100_000)
TARGET_ROWS = 10_000_000
# The windows a collector reads: one interval in steady state, the widest catch-up window.
WINDOWS = (timedelta(seconds=60), timedelta(days=2))
SEQUENTIAL_ONLY = ("SET enable_indexscan = off", "SET enable_bitmapscan = off",
                   "SET enable_indexonlyscan = off")


@pytest.fixture(scope="module")
def histories(pg_cluster: LocalCluster) -> Iterator[dict[int, str]]:
    from demo.seed import seed

    names = {}
    for size in SIZES:
        name = create_database(pg_cluster.dsn(), f"plans{size}")
        MigrationRunner(pg_cluster.dsn(name), "kasho").up()
        with psycopg.connect(pg_cluster.dsn(name), autocommit=True) as conn:
            seed(conn, users=size // 100, accounts=size // 50, transactions=size, days=90)
            conn.execute("VACUUM ANALYZE")
        names[size] = name
    yield {size: pg_cluster.dsn(name) for size, name in names.items()}
    for name in names.values():
        drop_database(pg_cluster.dsn(), name)


def plan_of(conn: psycopg.Connection[Any], query: str, params: Any) -> dict[str, Any]:
    plan: dict[str, Any] = conn.execute("EXPLAIN (FORMAT JSON) " + query,
                                        params).fetchone()[0][0]["Plan"]
    return plan


def transaction_scans(plan: dict[str, Any]) -> list[str]:
    own = [plan["Node Type"]] if plan.get("Relation Name") == "transactions" else []
    return own + [scan for child in plan.get("Plans", []) for scan in transaction_scans(child)]


def queries_on_transactions(conn: psycopg.Connection[Any]) -> Iterator[tuple[str, str, Any]]:
    """(label, SQL, parameters) of every business query that reads transactions."""
    newest = conn.execute("SELECT max(created_at) FROM transactions").fetchone()[0]
    for name in BUSINESS_GROUPS:
        query = business_group(name).sql_for(15)
        if "FROM transactions" not in query:
            continue
        if business_group(name).incremental is None:
            yield name, query, None
            continue
        for window in WINDOWS:
            yield f"{name} {window}", query, {"since": newest - window, "until": newest}


def margins(dsn: str) -> dict[str, float]:
    """Per query: a sequential scan's cost over the chosen plan's; asserts the chosen plan
    reads transactions through an index."""
    found = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for label, query, params in list(queries_on_transactions(conn)):
            chosen = plan_of(conn, query, params)
            scans = transaction_scans(chosen)
            assert scans and "Seq Scan" not in scans, (label, scans)
            with conn.transaction():
                for setting in SEQUENTIAL_ONLY:
                    conn.execute(setting.replace("SET", "SET LOCAL"))
                forced = plan_of(conn, query, params)
                assert set(transaction_scans(forced)) == {"Seq Scan"}, label
            found[label] = forced["Total Cost"] / chosen["Total Cost"]
    return found


def test_no_business_query_scans_transactions_sequentially_at_any_size(
        histories: dict[int, str]) -> None:
    small, large = (margins(histories[size]) for size in SIZES)
    assert set(small) == set(large) and len(small) == 1 + len(WINDOWS)
    steps_to_target = math.log(TARGET_ROWS / SIZES[1]) / math.log(SIZES[1] / SIZES[0])
    for label in small:
        trend = large[label] / small[label]  # per 4x more rows
        projected = large[label] * min(trend, 1.0) ** steps_to_target
        assert trend > 0.8 and projected >= 1.5, (label, small[label], large[label], projected)
