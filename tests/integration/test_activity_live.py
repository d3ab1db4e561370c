"""The live "now" read against real sessions: the chain as a blocking tree, masked query
text, our own reader left out, and a down target reported in one line."""

from __future__ import annotations

import psycopg
import pytest

from collectors.core.errors import TargetUnavailable
from collectors.live.activity import LiveActivity, blocking_forest
from demo.cluster import LocalCluster
from tests.integration.activity_setup import lock_chain
from tests.integration.collector_setup import make_config, monitor_dsn
from tests.pg import HeldSession, free_port


def test_snapshot_shows_the_chain_as_one_tree_with_masked_text(
        pg_cluster: LocalCluster, fresh_database: str, store_dsn: str) -> None:
    config = make_config(store_dsn, {"local": monitor_dsn(pg_cluster, fresh_database)})
    live = LiveActivity(config.collector)
    talker = HeldSession(pg_cluster.dsn(fresh_database), "crm")
    try:
        talker.execute("SELECT 'alice@example.com' AS email, 4111 AS card")
        with lock_chain(pg_cluster, fresh_database) as chain:
            snapshot = live.snapshot(config.targets[0])
            a, b, c = chain.a.pid, chain.b.pid, chain.c.pid
        with psycopg.connect(pg_cluster.dsn()) as conn:
            reader = conn.execute("SELECT application_name, backend_type FROM "
                                  "pg_stat_activity WHERE pid = %s",
                                  [snapshot.reader_pid]).fetchone()
    finally:
        talker.close()
        live.close()
    assert reader == ("kasho-ops", "client backend")
    by_pid = {s.pid: s for s in snapshot.sessions}
    assert snapshot.reader_pid not in by_pid
    assert snapshot.max_connections == 200
    assert (by_pid[a].state, by_pid[a].blocking_pids) == ("idle in transaction", ())
    assert (by_pid[b].wait_event_type, by_pid[b].blocking_pids) == ("Lock", (a,))
    assert (by_pid[c].wait_event_type, by_pid[c].blocking_pids) == ("Lock", (b,))
    assert by_pid[c].query == "SELECT count(*) FROM ledger"
    assert by_pid[talker.pid].query == "SELECT '?' AS email, ? AS card"
    assert by_pid[talker.pid].query_seconds is None  # idle: no query running
    assert by_pid[b].query_seconds is not None and by_pid[b].transaction_seconds is not None
    forest = blocking_forest(snapshot.sessions)
    assert [(n.pid, n.depth) for n in forest[0].walk()] == [(a, 0), (b, 1), (c, 2)]
    assert len(forest) == 1


@pytest.mark.single_major  # no server answers: nothing of a major to read
def test_a_down_target_is_one_line_without_the_password(store_dsn: str) -> None:
    dead = f"host=127.0.0.1 port={free_port()} dbname=x user=y password=hunter2"
    config = make_config(store_dsn, {"dead": dead})
    live = LiveActivity(config.collector)
    with pytest.raises(TargetUnavailable) as excinfo:
        live.snapshot(config.targets[0])
    live.close()
    assert "target dead: cannot connect" in str(excinfo.value)
    assert "hunter2" not in str(excinfo.value) and "\n" not in str(excinfo.value)
