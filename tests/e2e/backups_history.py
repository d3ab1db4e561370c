"""A store holding what a week of pgBackRest and replication looks like on a busy primary
and its standby: weekly fulls, daily differentials and hourly incrementals, archiving with a
failure episode, restore drills (one failed), two streaming standbys, a forgotten logical
slot whose WAL keeps growing, and a standby replaying behind."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta
from typing import Any

import psycopg

from collectors.backups.collect import BACKUP_COLUMNS, STANZA_COLUMNS
from collectors.backups.jobs import STATE_COLUMNS
from tests.pg import copy_into_store

PRIMARY, STANDBY = "kasho-primary", "kasho-replica"
HOURS = 7
GB, MB = 1024**3, 1024**2


def segment(n: int) -> str:
    return f"00000001{n // 256:08X}{n % 256:08X}"


def backups(now: datetime) -> list[tuple[Any, ...]]:
    """Fulls 8 and 1 days ago, differentials every other night, incrementals every hour."""
    rows: list[tuple[Any, ...]] = []
    day0 = now.replace(hour=1, minute=30, second=0, microsecond=0) - timedelta(days=8)

    def add(label: str, kind: str, start: datetime, minutes: float, size: int,
            prior: str | None) -> None:
        stop = start + timedelta(minutes=minutes)
        first = int((start - day0).total_seconds() // 60) + 4000
        rows.append((label, kind, prior, start, stop, minutes * 60, 41 * GB, size,
                     int(size * 0.31), int(size * 0.31), segment(first), segment(first + 2),
                     None, None, False, 0 if prior is None else 1))

    for full_day in (0, 7):
        start = day0 + timedelta(days=full_day)
        full = f"{start:%Y%m%d-%H%M%S}F"
        add(full, "full", start, 47, 41 * GB, None)
        for day in range(1, 7 if full_day == 0 else 1):
            if day % 2 == 0:
                when = start + timedelta(days=day)
                add(f"{full}_{when:%Y%m%d-%H%M%S}D", "diff", when, 9, 3 * GB, full)
        if full_day == 7:
            hour = start + timedelta(hours=1)
            while hour < now - timedelta(minutes=20):
                add(f"{full}_{hour:%Y%m%d-%H%M%S}I", "incr", hour, 1.5, 350 * MB, full)
                hour += timedelta(hours=1)
    return rows


def seed_backups_store(store_dsn: str, now: datetime, seed: int = 11) -> None:
    rng = random.Random(seed)
    start = now - timedelta(hours=HOURS)
    kept = backups(now)
    oldest_stop = min(row[4] for row in kept)
    stanza_rows, backup_rows, runs = [], [], []
    t = start
    while t <= now:
        stanza_rows.append((
            t, PRIMARY, "main", 0, "ok", False, "aes-256-cbc", 0, "ok", "15",
            "7312849125561122451", "15-1", segment(4000), segment(17000), t - timedelta(
                seconds=40), True, 13000, 0, None, oldest_stop, t - timedelta(seconds=40), 2,
            "count", 7, None, "full", len(kept), "2.45", None))
        runs.append((t, PRIMARY, "pgbackrest", rng.uniform(250, 900), len(kept) + 1, None))
        t += timedelta(minutes=5)
    latest = stanza_rows[-1][0]
    backup_rows = [(latest, PRIMARY, "main", *row) for row in kept]

    counts: list[tuple[Any, ...]] = []
    backlog: list[tuple[Any, ...]] = []
    archiving, standbys, slots, recovery, replica = [], [], [], [], []
    t = start
    failing = (start + timedelta(hours=3.1), start + timedelta(hours=3.3))
    while t <= now:
        x = (t - start) / (now - start)
        broken = failing[0] <= t <= failing[1]
        ready = int(1 + 14 * (t - failing[0]) / (failing[1] - failing[0])) if broken else \
            rng.choice([0, 0, 0, 1])
        counts.append((t, PRIMARY, 60.0, 0 if broken else rng.randint(2, 5),
                       rng.randint(2, 4) if broken else 0, None))
        archiving.append((t, PRIMARY, segment(16000 + int(x * 900)),
                          t - timedelta(seconds=rng.uniform(5, 50)),
                          segment(16000 + int(x * 900)) if broken else None,
                          t - timedelta(seconds=20) if broken else None, False,
                          f"3E/{int(x * 1e6):X}", segment(16001 + int(x * 900)), ready,
                          ready * 16 * MB + rng.randint(0, 16 * MB), "on",
                          "pgbackrest --stanza=main archive-push %p", 60, 16 * MB))
        backlog.append((t, PRIMARY, ready, t - timedelta(seconds=50 * ready) if ready else None))
        load = 0.5 + 0.5 * math.sin(math.pi * x)
        for name, addr, pid, sync, scale in (("replica1", "127.0.2.11", 4121, "async", 1.0),
                                             ("replica2", "127.0.2.12", 4188, "sync", 0.2)):
            lag = int(rng.uniform(0.2, 1.0) * load * scale * 24 * MB)
            standbys.append((t, PRIMARY, pid, name, addr, "streaming", sync, 1, lag // 8,
                             lag // 4, lag // 2, lag, 0.02 * load, 0.05 * load,
                             scale * load * rng.uniform(0.5, 3.0), t, start, f"{name}_slot"))
        for name, active, retained in (("replica1_slot", True, rng.randint(1, 30) * MB),
                                       ("replica2_slot", True, rng.randint(1, 8) * MB),
                                       ("old_analytics", False, int((2.1 + 4.4 * x) * GB))):
            slots.append((t, PRIMARY, name, "logical" if name == "old_analytics"
                          else "physical", "pgoutput" if name == "old_analytics" else "",
                          "kasho" if name == "old_analytics" else "", False, active,
                          None if not active else 4000, "extended" if retained > 4 * GB
                          else "reserved", None, retained, None,
                          183_000 + int(x * 90_000) if name == "old_analytics" else None))
        recovery.append((t, PRIMARY, False, None, None, None, None, None, None, None, None,
                         None, None, None, None))
        delay = 0.4 + 38 * math.exp(-((x - 0.7) ** 2) / 0.004) + rng.uniform(0, 0.6)
        replica.append((t, STANDBY, True, "3E/1000", "3E/0F00", int(delay * 2 * MB),
                        t - timedelta(seconds=delay), delay, False, "streaming", "127.0.2.10",
                        5432, "replica1_slot", t, 1))
        for target, group in ((PRIMARY, "replication_standbys"),
                              (PRIMARY, "replication_slots"), (PRIMARY, "recovery_status"),
                              (PRIMARY, "wal_archiving"), (PRIMARY, "wal_archive_counts"),
                              (PRIMARY, "wal_archive_backlog"),
                              (STANDBY, "recovery_status")):
            runs.append((t, target, group, rng.uniform(1, 6), 1, None))
        t += timedelta(seconds=60)

    drills = [
        (now - timedelta(days=6, hours=2), "schedule", None, 1260.0, "passed", None),
        (now - timedelta(days=3, hours=5), "command", now - timedelta(days=3, hours=6), 35.0,
         "failed", "no good backup that ended before 2025-01-01 00:00:00 UTC"),
        (now - timedelta(hours=2, minutes=10), "schedule", None, 1185.0, "passed", None),
    ]
    states = [("archiving", "ok", "archiving works; last archived " + segment(16900)),
              ("archive_backlog", "ok", "0 WAL files wait to be archived"),
              ("pgbackrest", "ok", "stanza main: ok"),
              ("full_backup_age", "ok", "last good full backup finished 23.2 h ago"),
              ("backup_age", "ok", "last good backup finished 0.5 h ago (recent enough)"),
              ("backup_errors", "ok", "0 backups with checksum errors"),
              ("wal_gap", "ok", "archived WAL is continuous"),
              ("pitr_window", "ok", "restorable window of 7.9 days"),
              ("restore_drill", "ok", "the last restore drill passed"),
              ("slot_retention", "warning", "inactive slot old_analytics keeps 6,656 MB of WAL "
                                            "(more than 5120 MB)"),
              ("replication_lag_bytes", "ok", "standby replica1 replays 9.0 MB behind"),
              ("replication_lag_seconds", "ok", "standby replica1 replays 1.2 s behind")]
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        copy_into_store(conn, "pgbackrest_stanzas", STANZA_COLUMNS, stanza_rows)
        copy_into_store(conn, "pgbackrest_backups", BACKUP_COLUMNS, backup_rows)
        copy_into_store(conn, "wal_archiving", WAL_ARCHIVING_COLUMNS, archiving)
        copy_into_store(conn, "wal_archive_backlog", ("collected_at", "target", "ready_count",
                                                      "oldest_ready_at"), backlog)
        copy_into_store(conn, "wal_archive_counts", ("collected_at", "target", "interval_seconds",
                                                     "archived_count", "failed_count",
                                                     "stats_reset"), counts)
        copy_into_store(conn, "replication_standbys", STANDBY_COLUMNS, standbys)
        copy_into_store(conn, "replication_slots", SLOT_COLUMNS, slots)
        copy_into_store(conn, "recovery_status", RECOVERY_COLUMNS, recovery + replica)
        copy_into_store(conn, "recovery_states", STATE_COLUMNS,
                        [(now, PRIMARY, name, severity, None, None, message)
                         for name, severity, message in states]
                        + [(now, STANDBY, "replication_lag_bytes", "ok", None, None,
                            "this standby has 1.5 MB received but not replayed"),
                           (now, STANDBY, "replication_lag_seconds", "ok", None, None,
                            "this standby's replay is 1.0 s behind")])
        copy_into_store(conn, "collector_runs", ("started_at", "target", "metric_group",
                                                 "duration_ms", "rows_written", "error"), runs)
        for started, trigger, requested, seconds, outcome, error in drills:
            checks = [{"name": "restored", "passed": outcome == "passed",
                       "detail": error or "backup restored"}]
            conn.execute(
                "INSERT INTO kasho_ops.restore_drills (target, stanza, started_at, finished_at,"
                " duration_seconds, trigger, requested_time, backup_label, recovered_to, "
                "newest_transaction_at, restore_seconds, recovery_seconds, outcome, checks, "
                "row_counts, error) VALUES (%s, 'main', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " %s, %s, %s, %s)",
                [PRIMARY, started, started + timedelta(seconds=seconds), seconds, trigger,
                 requested, None if error else kept[-3][0],
                 None if error else started - timedelta(minutes=1),
                 None if error else started - timedelta(minutes=1, seconds=2),
                 None if error else seconds * 0.8, None if error else seconds * 0.15, outcome,
                 json.dumps(checks), json.dumps({} if error else {
                     "users": 10_412, "accounts": 20_877, "transactions": 1_083_551}), error])


WAL_ARCHIVING_COLUMNS = (
    "collected_at", "target", "last_archived_wal", "last_archived_time", "last_failed_wal",
    "last_failed_time", "in_recovery", "current_wal_lsn", "current_wal_file",
    "archive_lag_segments", "archive_lag_bytes", "archive_mode",
    "archive_command", "archive_timeout_seconds", "wal_segment_size_bytes")
STANDBY_COLUMNS = (
    "collected_at", "target", "pid", "application_name", "client_addr", "state", "sync_state",
    "sync_priority", "sent_lag_bytes", "write_lag_bytes", "flush_lag_bytes",
    "replay_lag_bytes", "write_lag_seconds", "flush_lag_seconds", "replay_lag_seconds",
    "reply_time", "backend_start", "slot_name")
SLOT_COLUMNS = (
    "collected_at", "target", "slot_name", "slot_type", "plugin", "database", "temporary",
    "active", "active_pid", "wal_status", "safe_wal_size_bytes", "retained_wal_bytes",
    "confirmed_flush_lag_bytes", "xmin_age")
RECOVERY_COLUMNS = (
    "collected_at", "target", "in_recovery", "receive_lsn", "replay_lsn",
    "receive_replay_lag_bytes", "last_replay_time", "replay_delay_seconds", "replay_paused",
    "receiver_status", "upstream_host", "upstream_port", "upstream_slot",
    "last_msg_receipt_time", "timeline")
