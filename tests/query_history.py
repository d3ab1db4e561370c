"""Query-statistics history for page tests and the benchmark, written through the real store
writer (MetricStore.write: COPY, partitions, the hourly rollup trigger, texts once).

The shape is an OLTP primary's: a few hot statements every interval, a long tail that runs
now and then, one report that is heavy on I/O and temp, and one statement that regresses
(3x slower) `REGRESSION_AGO` before `now`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from collectors.core.engine import text_batch
from collectors.core.metric_groups import load_catalog
from collectors.core.redact import Secret
from collectors.core.store import RUN_COLUMNS, Batch, MetricStore, RunRecord

REGRESSION_AGO = timedelta(minutes=40)
STAT_COLUMNS = ("collected_at", "target", "interval_seconds", "queryid", "dbid", "userid",
                "toplevel", "calls", "total_exec_time_ms", "exec_time_squares_ms2", "plans",
                "total_plan_time_ms", "rows", "shared_blks_hit", "shared_blks_read",
                "shared_blks_dirtied", "shared_blks_written", "temp_blks_read",
                "temp_blks_written", "blk_read_time_ms", "blk_write_time_ms", "wal_records",
                "wal_bytes", "stats_since")


@dataclass(frozen=True)
class Statement:
    queryid: int
    query: str
    datname: str
    rolname: str
    calls_per_minute: float  # at full load
    mean_ms: float
    rows_per_call: float
    read_fraction: float = 0.002  # of shared blocks, read from outside the cache
    temp_blocks_per_call: float = 0.0
    writes: bool = False

    @property
    def dbid(self) -> int:
        return 16384 + sum(map(ord, self.datname))

    @property
    def userid(self) -> int:
        return 10 + sum(map(ord, self.rolname))


REGRESSED = Statement(7_001, "SELECT * FROM transactions WHERE account_id = $1 AND status = $2 "
                      "ORDER BY created_at DESC LIMIT $3", "kasho", "kasho_app", 300, 2.0, 20)
KASHO_STATEMENTS = (
    Statement(7_002, "SELECT id, balance, currency FROM accounts WHERE id = $1", "kasho",
              "kasho_app", 1800, 0.05, 1),
    Statement(7_003, "UPDATE accounts SET balance = balance + $1 WHERE id = $2", "kasho",
              "kasho_app", 600, 0.12, 1, writes=True),
    Statement(7_004, "INSERT INTO transactions (account_id, amount, currency, status) VALUES "
              "($1, $2, $3, $4) RETURNING id", "kasho", "kasho_app", 600, 0.2, 1, writes=True),
    REGRESSED,
    Statement(7_005, "-- name: TopSpenders :many\nSELECT u.email, sum(t.amount) FROM users u "
              "JOIN accounts a ON a.user_id = u.id JOIN transactions t ON t.account_id = a.id "
              "WHERE t.created_at >= $1 "
              "GROUP BY u.email ORDER BY 2 DESC LIMIT $2", "kasho_reporting", "reporter",
              2, 850.0, 50, read_fraction=0.3, temp_blocks_per_call=4000),
    Statement(7_006, "BEGIN", "kasho", "kasho_app", 1200, 0.002, 0),
    Statement(7_007, "COMMIT", "kasho", "kasho_app", 1200, 0.3, 0),
)


def tail_statements(count: int, first_queryid: int = 100_000) -> list[Statement]:
    """`count` distinct rarely-run statements (the long tail)."""
    rng = random.Random(count)
    return [Statement(first_queryid + i, f"SELECT col_{i % 17}, count(*) FROM kasho_t{i % 97} "
                      f"WHERE k{i} = $1 GROUP BY 1", "kasho", "kasho_app",
                      rng.choice((0.02, 0.05, 0.2, 1.0)), rng.uniform(0.1, 30.0),
                      rng.uniform(1, 100)) for i in range(count)]


def _load(t: datetime, now: datetime) -> float:
    hour = t.hour + t.minute / 60
    return 0.35 + 0.55 * max(0.0, math.sin(math.pi * (hour - 6) / 14)) + 0.05 * (
        (now - t).total_seconds() < 3600)


def stat_row(statement: Statement, t: datetime, target: str, interval: float, calls: int,
             slow: float, rng: random.Random) -> tuple:
    mean = statement.mean_ms * slow * rng.uniform(0.9, 1.1)
    stddev = mean * 0.3
    total = mean * calls
    blocks = max(1, int(calls * (3 + statement.rows_per_call)))
    reads = int(blocks * statement.read_fraction)
    temp = int(calls * statement.temp_blocks_per_call)
    return (t, target, interval, statement.queryid, statement.dbid, statement.userid, True,
            calls, total, calls * (stddev ** 2 + mean ** 2), calls, calls * 0.02, int(
                calls * statement.rows_per_call), blocks - reads, reads,
            calls if statement.writes else 0, calls // 10 if statement.writes else 0,
            temp // 2, temp - temp // 2, reads * 0.05, 0.0,
            calls * 2 if statement.writes else 0, calls * 180 if statement.writes else 0, None)


def interval_rows(statements: list[Statement], t: datetime, now: datetime, target: str,
                  interval: float, rng: random.Random) -> Iterator[tuple]:
    """The rows one collection at `t` would write: statements that ran in the interval."""
    level = _load(t, now)
    for statement in statements:
        expected = statement.calls_per_minute * level * interval / 60
        calls = int(expected) + (rng.random() < expected - int(expected))
        if calls <= 0:
            continue
        slow = 3.0 if statement is REGRESSED and t >= now - REGRESSION_AGO else 1.0
        yield stat_row(statement, t, target, interval, calls, slow, rng)


def seed_query_history(store_dsn: str, target: str, now: datetime, duration: timedelta,
                       statements: list[Statement] | None = None, interval: float = 60.0,
                       seed: int = 11) -> int:
    """Write `duration` of per-interval rows ending at `now`; returns the rows written."""
    statements = list(statements or KASHO_STATEMENTS)
    group = load_catalog()["query_stats"]
    rng = random.Random(seed)
    store = MetricStore(Secret(store_dsn))
    store.open()
    written = 0
    try:
        texts = [{"queryid": s.queryid, "dbid": s.dbid, "userid": s.userid,
                  "datname": s.datname, "rolname": s.rolname, "query": s.query}
                 for s in statements]
        start = now - duration
        store.write_now([text_batch(group, target, start, texts)])
        steps = int(duration.total_seconds() // interval)
        batch_rows: list[tuple] = []
        for step in range(steps, -1, -1):
            t = now - timedelta(seconds=step * interval)
            batch_rows.extend(interval_rows(statements, t, now, target, interval, rng))
            last = step == 0
            next_day = (t + timedelta(seconds=interval)).date() != t.date()
            if batch_rows and (last or next_day or len(batch_rows) >= 200_000):
                by_day: dict = {}
                for row in batch_rows:
                    by_day.setdefault(row[0].date(), []).append(row)
                store.write_now([Batch("query_stats", STAT_COLUMNS, tuple(rows), day)
                             for day, rows in by_day.items()])
                runs = sorted({row[0] for row in batch_rows})
                store.write_now([Batch("collector_runs", RUN_COLUMNS, tuple(
                    RunRecord(t, target, "query_stats", 40.0, 0, None).as_row()
                    for t in runs if t.date() == day),
                    day) for day in {t.date() for t in runs}])
                written += len(batch_rows)
                batch_rows = []
    finally:
        store.close()
    return written
