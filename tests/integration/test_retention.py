"""Retention per table: old daily partitions go, rollups stay for their own (longer) time,
statement texts go only when no kept row refers to them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from collectors.core.config import parse_config
from collectors.core.metric_groups import load_catalog
from collectors.core.redact import Secret
from collectors.core.store import MetricStore
from tests.pg import copy_into_store
from tests.query_history import STAT_COLUMNS

pytestmark = pytest.mark.single_major  # store DDL and SQL functions only

TODAY = datetime.now(UTC).date()


def at(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def statement_row(day: date, queryid: int) -> tuple:
    return (at(day), "kasho", 60.0, queryid, 1, 10, True, 5, 50.0, 600.0, 0, 0.0, 5,
            100, 2, 0, 0, 0, 0, 0.0, 0.0, 0, 0, None)


def partitions(store_dsn: str, table: str) -> list[date]:
    with psycopg.connect(store_dsn) as conn:
        return [r[0] for r in conn.execute(
            "SELECT day FROM kasho_ops.partition_sizes WHERE table_name = %s ORDER BY day",
            [table])]


def texts(store_dsn: str) -> list[int]:
    with psycopg.connect(store_dsn) as conn:
        return [r[0] for r in conn.execute(
            "SELECT queryid FROM kasho_ops.query_texts ORDER BY 1")]


def test_old_partitions_go_rollups_stay_and_unreferenced_texts_are_pruned(
        fresh_store: str) -> None:
    old, recent = 111, 222
    days = {name: TODAY - timedelta(days=n) for name, n in
            (("d40", 40), ("d10", 10), ("d5", 5), ("d1", 1), ("d0", 0))}
    with psycopg.connect(fresh_store, autocommit=True) as conn:
        copy_into_store(conn, "query_stats", STAT_COLUMNS,
                        [statement_row(days["d10"], old), statement_row(days["d5"], old),
                         statement_row(days["d1"], recent), statement_row(days["d0"], recent)])
        for queryid, day in ((old, days["d10"]), (recent, days["d1"])):
            conn.execute("INSERT INTO kasho_ops.query_texts VALUES "
                         "('kasho', %s, 1, 10, %s, 'kasho', 'app', 'SELECT 1')",
                         [queryid, at(day)])
        copy_into_store(conn, "database_size", ("collected_at", "target", "datname",
                                                "size_bytes"),
                        [(at(days[d]), "kasho", "kasho", 1) for d in ("d40", "d10", "d0")])
        copy_into_store(conn, "collector_runs", ("started_at", "target", "metric_group",
                                                 "duration_ms", "rows_written", "error"),
                        [(at(days[d]), "kasho", "database_size", 1.0, 1, None)
                         for d in ("d40", "d0")])
    config = parse_config({"store": {"dsn": fresh_store}, "retention": {"collector_runs": 14}},
                          environ={}, known_groups=set(load_catalog()))
    store = MetricStore(config.store.dsn)
    store.open()
    try:
        result = store.maintain(TODAY, config.store.retention_for)
        assert result is not None
        # Per-interval statements keep 3 days; their hourly and daily rollups 90 and 730.
        assert partitions(fresh_store, "query_stats") == [days["d1"], days["d0"],
                                                          TODAY + timedelta(days=1)]
        assert days["d10"] in partitions(fresh_store, "query_stats_daily")
        assert days["d10"] in partitions(fresh_store, "query_stats_hourly")
        assert partitions(fresh_store, "database_size") == [days["d10"], days["d0"],
                                                            TODAY + timedelta(days=1)]
        assert partitions(fresh_store, "collector_runs") == [days["d0"],
                                                             TODAY + timedelta(days=1)]
        assert sorted(result.dropped_partitions) == sorted([
            f"query_stats_p{days['d10']:%Y%m%d}", f"query_stats_p{days['d5']:%Y%m%d}",
            f"database_size_p{days['d40']:%Y%m%d}", f"collector_runs_p{days['d40']:%Y%m%d}"])
        with psycopg.connect(fresh_store) as conn:
            calls = conn.execute("SELECT sum(calls) FROM kasho_ops.query_stats_daily "
                                 "WHERE queryid = %s", [old]).fetchone()
        assert calls == (10,)  # both old intervals, still answering long ranges
        assert result.pruned_texts == 0 and texts(fresh_store) == [old, recent]

        # Once its rollups go too, nothing refers to the old statement's text any more.
        result = store.maintain(TODAY, lambda table: 2)
        assert result is not None
        assert result.pruned_texts == 1
        assert texts(fresh_store) == [recent]
    finally:
        store.close()


def test_maintenance_runs_in_one_collector_at_a_time(fresh_store: str) -> None:
    store = MetricStore(Secret(fresh_store))
    store.open()
    try:
        with psycopg.connect(fresh_store) as other, other.transaction():
            other.execute("SELECT pg_advisory_xact_lock(hashtext('kasho_ops.maintain'))")
            assert store.maintain(TODAY, lambda table: 30) is None
        assert store.maintain(TODAY, lambda table: 30) is not None
    finally:
        store.close()
