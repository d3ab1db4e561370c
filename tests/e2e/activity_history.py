"""Hours of session, wait and lock samples shaped like an incident, for the browser tests
of the Connections and Locks pages (the live Activity page reads a real server instead).

Matches the idle-in-transaction episode of conftest.seed_realistic_store: a worker holds a
transaction open, and for part of it a queue of sessions waits behind it."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import psycopg

from tests.e2e.conftest import HOURS_OF_HISTORY
from tests.pg import copy_into_store

ROOT_PID = 4242


def seed_activity_history(store_dsn: str, target: str, now: datetime,
                          hours: int = HOURS_OF_HISTORY, seed: int = 11) -> None:
    rng = random.Random(seed)
    start = now - timedelta(hours=hours)
    episode = (start + timedelta(hours=hours * 0.55), start + timedelta(hours=hours * 0.62))
    incident = (start + timedelta(hours=hours * 0.58), start + timedelta(hours=hours * 0.60))
    ages, waits, locks, prepared, runs, stats = [], [], [], [], [], []
    t, step = start, 0
    while t <= now:
        in_episode = episode[0] <= t <= episode[1]
        in_incident = incident[0] <= t <= incident[1]
        held = (t - episode[0]).total_seconds() if in_episode else rng.uniform(0, 2)
        queue = 2 + int(6 * (t - incident[0]) / (incident[1] - incident[0])) if in_incident \
            else 0
        ages.append((t, target, "kasho", 20 + rng.randint(0, 8), 10 if in_episode else 0,
                     queue, held if in_episode else 0.0, rng.uniform(0.05, 3.0),
                     max(held, rng.uniform(0.1, 4.0))))
        for wait_type, wait_event, count in (
                ("CPU", "CPU", 8 + rng.randint(0, 6)), ("IO", "DataFileRead", rng.randint(0, 4)),
                ("LWLock", "WALWrite", rng.randint(0, 2)), ("Client", "ClientRead",
                                                            rng.randint(1, 3)),
                ("Lock", "transactionid", queue)):
            if count:
                waits.append((t, target, "client backend", wait_type, wait_event, count))
        for i in range(queue):
            waited = (t - incident[0]).total_seconds() - 9 * i
            locks.append((t, target, 5000 + i, "kasho", "kasho_app", "kasho-api", "10.0.1.21",
                          "transactionid" if i == 0 else "tuple",
                          "ShareLock" if i == 0 else "ExclusiveLock", "accounts",
                          [ROOT_PID if i == 0 else 5000 + i - 1], ROOT_PID, i + 1,
                          max(waited, 0.5), max(waited, 0.5) + 0.2, "idle in transaction",
                          "kasho-worker", held))
        for group, rows in (("session_ages", 1), ("wait_events", 4), ("lock_waits", queue)):
            runs.append((t, target, group, rng.uniform(1, 6), rows, None))
        if step % 20 == 0:  # every 5 minutes
            prepared.append((t, target, 10, 0, 0.0, ""))
            runs.append((t, target, "prepared_transactions", 1.0, 1, None))
        if in_incident and step % 4 == 0:  # every minute
            stats.append((t, target, 60.0, "kasho_batch", 3, 40, 2, 0, 100, 0, 0, 0, 0, 0,
                          0, 0, 0, 1, 0.0, 0.0, None))
        t += timedelta(seconds=15)
        step += 1
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        copy_into_store(conn, "session_ages", (
            "collected_at", "target", "datname", "active", "idle_in_transaction",
            "waiting_on_lock", "longest_idle_in_transaction_seconds", "longest_query_seconds",
            "longest_transaction_seconds"), ages)
        copy_into_store(conn, "wait_events", (
            "collected_at", "target", "backend_type", "wait_event_type", "wait_event",
            "sessions"), waits)
        copy_into_store(conn, "lock_waits", (
            "collected_at", "target", "pid", "datname", "usename", "application_name",
            "client_addr", "locktype", "mode", "relation", "blocking_pids",
            "root_blocker_pid", "chain_depth", "wait_seconds", "transaction_seconds",
            "root_blocker_state", "root_blocker_application_name",
            "root_blocker_transaction_seconds"), locks)
        copy_into_store(conn, "prepared_transactions", (
            "collected_at", "target", "max_prepared_transactions", "prepared",
            "oldest_seconds", "oldest_datname"), prepared)
        copy_into_store(conn, "database_stats", (
            "collected_at", "target", "interval_seconds", "datname", "backends", "xact_commit",
            "xact_rollback", "blks_read", "blks_hit", "tup_returned", "tup_fetched",
            "tup_inserted", "tup_updated", "tup_deleted", "conflicts", "temp_files",
            "temp_bytes", "deadlocks", "blk_read_time_ms", "blk_write_time_ms",
            "stats_reset"), stats)
        copy_into_store(conn, "collector_runs", ("started_at", "target", "metric_group",
                                                 "duration_ms", "rows_written", "error"), runs)
