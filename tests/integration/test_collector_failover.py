"""Two collector processes share six targets through the store's leases; one is killed with
SIGKILL, the other takes its targets over, and no (target, group) is ever collected twice."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from demo.cluster import LocalCluster

# Leases live in the store; the monitored server's version plays no part.
pytestmark = pytest.mark.single_major

ROOT = Path(__file__).resolve().parents[2]
TARGETS = [f"t{i}" for i in range(6)]
INTERVAL = 2
LEASE_SECONDS = 3
GROUPS = ["connections", "connection_limits"]


def rows(dsn: str, query: str, params: object = None) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def start_collector(config: Path, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "collectors.cli", "collect", "--config", str(config)]
    for group in GROUPS:
        argv += ["--group", group]
    with open(log, "wb") as out:
        return subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def wait_for(what: str, check: object, timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()  # type: ignore[operator]
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_collector_s_targets_are_taken_over_and_none_collected_twice(
        pg_cluster: LocalCluster, fresh_store: str, tmp_path: Path) -> None:
    # Two collectors x six targets x one session each: a role without the test role's limit.
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS failover_monitor")
        conn.execute("CREATE ROLE failover_monitor LOGIN IN ROLE pg_monitor")
    config = tmp_path / "k.toml"
    intervals = "\n".join(f"{g} = {INTERVAL}" for g in GROUPS)
    dsn = pg_cluster.dsn(user="failover_monitor")
    targets = "".join(f'[[targets]]\nname = "{t}"\ndsn = "{dsn}"\n\n' for t in TARGETS)
    config.write_text(f'[store]\ndsn = "{fresh_store}"\n\n[collector]\n'
                      f"lease_seconds = {LEASE_SECONDS}\nmax_connections_per_target = 1\n\n"
                      f"[intervals]\n{intervals}\n\n{targets}")
    first = start_collector(config, tmp_path / "first.log")
    second = start_collector(config, tmp_path / "second.log")
    try:
        def balanced() -> dict[str, int] | None:
            held = dict(rows(fresh_store, "SELECT collector_id, count(*) FROM "
                             "kasho_ops.target_leases WHERE expires_at > now() GROUP BY 1"))
            return held if sorted(held.values()) == [3, 3] else None

        wait_for("both collectors to hold three targets each", balanced)
        pids = dict(rows(fresh_store, "SELECT pid, collector_id FROM kasho_ops.collectors"))
        victim_id = pids[first.pid]
        victim_targets = [r[0] for r in rows(
            fresh_store, "SELECT target FROM kasho_ops.target_leases WHERE collector_id = %s",
            [victim_id])]
        # Both collect for a few intervals, then the first dies without a word.
        wait_for("runs by both collectors", lambda: len(rows(
            fresh_store, "SELECT DISTINCT collector_id FROM kasho_ops.collector_runs "
            "WHERE error IS NULL")) == 2)
        time.sleep(2 * INTERVAL)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = datetime.now(UTC)

        def taken_over() -> list[tuple] | None:
            found = rows(fresh_store, "SELECT target, min(started_at) FROM "
                         "kasho_ops.collector_runs WHERE collector_id <> %s AND error IS NULL "
                         "AND started_at > %s AND target = ANY(%s) GROUP BY 1",
                         [victim_id, killed_at, victim_targets])
            return found if len(found) == len(victim_targets) else None

        taken = wait_for("the survivor to collect the dead collector's targets", taken_over)
        takeover = max((at - killed_at).total_seconds() for _, at in taken)  # type: ignore[union-attr]
        print(f"\ntakeover after SIGKILL: {takeover:.1f} s (lease {LEASE_SECONDS} s, "
              f"interval {INTERVAL} s)")
        time.sleep(2 * INTERVAL)  # the survivor keeps collecting all six
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        second.wait(30)
        first.wait(30)
    assert second.returncode == 0, (tmp_path / "second.log").read_text()

    runs = rows(fresh_store, "SELECT target, metric_group, started_at, collector_id "
                             "FROM kasho_ops.collector_runs WHERE error IS NULL ORDER BY 3")
    assert {r[3] for r in runs} == {victim_id, pids[second.pid]}
    assert not [r for r in runs if r[3] == victim_id and r[2] > killed_at]
    by_series: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for target, group, started_at, _ in runs:
        by_series[(target, group)].append(started_at)
    assert set(by_series) == {(t, g) for t in TARGETS for g in GROUPS}
    for series, times in by_series.items():
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        # A second collector on the same series would put runs well inside one interval.
        assert min(gaps) >= INTERVAL / 2, (series, gaps)
    # A clean stop hands every lease back at once.
    assert rows(fresh_store, "SELECT count(*) FROM kasho_ops.target_leases") == [(0,)]
    assert os.path.exists(tmp_path / "second.log")
