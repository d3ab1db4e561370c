"""Hours (or days) of stored active session samples shaped like a payments workload: average
active sessions by wait event and statement per interval, with Kasho Ops' own sampling
session among them, for the browser tests and the render benchmark."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

import psycopg

from tests.pg import copy_into_store
from tests.query_history import KASHO_STATEMENTS

COLUMNS = ("collected_at", "target", "interval_seconds", "samples", "datname", "usename",
           "application_name", "wait_event_type", "wait_event", "queryid", "sessions")


def seed_active_sessions(store_dsn: str, target: str, now: datetime, duration: timedelta,
                         interval: int = 60, seed: int = 5) -> int:
    """One stored interval every `interval` seconds over `duration`; returns rows written."""
    rng = random.Random(seed)
    start = now - duration
    rows, runs = [], []
    t = start + timedelta(seconds=interval)
    waits = (("CPU", "CPU", 0.9), ("IO", "DataFileRead", 0.5), ("Lock", "transactionid", 0.2),
             ("LWLock", "WALWrite", 0.1))
    while t <= now:
        level = 0.5 + 0.4 * math.sin(math.pi * (t - start) / duration)
        for statement in KASHO_STATEMENTS[:6]:
            for wait_type, wait_event, weight in waits:
                sessions = max(0.0, level * weight * rng.uniform(0.2, 1.2))
                if sessions > 0.02:
                    rows.append((t, target, float(interval), interval, statement.datname,
                                 statement.rolname, "kasho-api", wait_type, wait_event,
                                 statement.queryid, round(sessions, 3)))
        rows.append((t, target, float(interval), interval, "kasho", "kasho_ops_monitor",
                     "kasho-ops", "CPU", "CPU", 0, 0.02))
        runs.append((t, target, "active_sessions", 3.0, 1, None))
        t += timedelta(seconds=interval)
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        copy_into_store(conn, "active_sessions", COLUMNS, rows)
        copy_into_store(conn, "collector_runs", ("started_at", "target", "metric_group",
                                                 "duration_ms", "rows_written", "error"), runs)
    return len(rows)
