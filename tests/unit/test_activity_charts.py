"""Pure builders of the Connections, Activity and Locks pages: exact tables, traces and
warnings from small frames, with Kasho Ops' own sessions apart."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from collectors.live.activity import ActivitySnapshot, Session, blocking_forest
from dashboard.core.own import OwnActivity
from dashboard.core.timeseries import Collection
from dashboard.core.units import format_seconds
from dashboard.core.utilization import Utilization, latest_utilization
from dashboard.features.activity import logic as activity_logic
from dashboard.features.connections import charts as connections_charts
from dashboard.features.connections import logic as connections_logic
from dashboard.features.locks import charts as locks_charts
from dashboard.features.locks import logic as locks_logic

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def limits(*client_connections: int, max_connections: int = 100,
           reserved: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"collected_at": [at(i) for i in range(len(client_connections))],
                         "max_connections": max_connections, "reserved_connections": reserved,
                         "client_connections": list(client_connections)})


@pytest.mark.parametrize(("used", "level"), [(72, "ok"), (73, "warning"), (87, "warning"),
                                             (88, "critical"), (97, "critical")])
def test_utilization_levels_are_measured_against_the_usable_slots(used: int,
                                                                  level: str) -> None:
    utilization = latest_utilization(limits(10, used))
    assert utilization is not None
    assert (utilization.usable, utilization.client_connections, utilization.level) == (
        97, used, level)


def test_near_exhaustion_message_names_the_numbers_and_what_to_do() -> None:
    utilization = latest_utilization(limits(95))
    assert utilization is not None and utilization.message() == (
        "Connection pool nearly exhausted: 95 of 97 usable connections in use (98 %); 2 left "
        "before "
        "new sessions are refused (max_connections 100 minus 3 reserved). Look for "
        "idle-in-transaction sessions and the application holding the most connections.")
    assert latest_utilization(limits()) is None


def minute_collection(minutes: int = 2) -> Collection:
    return Collection("connections", 60, 60, at(0), at(minutes), at(minutes),
                      {pd.Timestamp(at(i)): 1 for i in range(minutes)}, (), at(-60), at(1))


def test_utilization_figure_draws_use_usable_and_warning_line() -> None:
    use = connections_logic.use_on_grid(limits(10, 20), minute_collection())
    figure = connections_charts.utilization_figure(use, ())
    assert figure is not None
    assert [(t.name, list(t.y)) for t in figure.data] == [
        ("in use (client backends)", [10, 20]),
        ("usable (max_connections − reserved)", [97, 97]),
        ("75 % of usable", [72.75, 72.75])]
    assert figure.layout.yaxis.tickformat == ",d"
    empty = connections_logic.use_on_grid(limits(), minute_collection(0))
    assert connections_charts.utilization_figure(empty, ()) is None


def test_breakdown_keeps_the_largest_series_sums_the_rest_and_hides_ours() -> None:
    frame = pd.DataFrame({"collected_at": [at(0)] * 5 + [at(1)] * 5,
                          "series": ["api", "worker", "cron", "psql", "kasho-ops"] * 2,
                          "own": [False, False, False, False, True] * 2,
                          "connections": [50, 10, 2, 1, 3, 60, 12, 2, 3, 3]})
    wide = connections_logic.breakdown_on_grid(frame, minute_collection(), show_own=False)
    figure = connections_charts.breakdown_figure(wide, (), "Connections by application", top=2)
    assert [(t.name, list(t.customdata)) for t in figure.data] == [
        ("api", [50, 60]), ("worker", [10, 12]), ("other (2)", [3, 5])]
    shown = connections_logic.breakdown_on_grid(frame, minute_collection(), show_own=True)
    assert "kasho-ops" in shown.columns
    states = pd.DataFrame({"collected_at": [at(0)] * 2, "series": ["idle", "active"],
                           "own": [False, False], "connections": [5, 1]})
    wide = connections_logic.breakdown_on_grid(states, minute_collection(1), False)
    assert [t.name for t in connections_charts.breakdown_figure(wide, (), "by state").data] == [
        "active", "idle"]  # states keep their conventional order and colours


LATEST = pd.DataFrame({
    "datname": ["kasho"] * 4, "usename": ["app", "app", "app", "etl"],
    "application_name": ["api", "api", "worker", "etl"], "client_addr": ["127.0.2.5"] * 4,
    "state": ["active", "idle", "idle in transaction", "idle in transaction (aborted)"],
    "connections": [5, 18, 2, 1], "waiting_on_lock": [1, 0, 0, 0],
    "longest_in_state_seconds": [1.0, 30.0, 400.0, 900.0]})


def test_breakdown_table_and_idle_in_transaction_table() -> None:
    table = connections_logic.breakdown_table(LATEST, "application_name")
    assert list(table.columns) == ["application_name", "connections", "share %", "waiting"]
    assert table.values.tolist() == [["api", 23, pytest.approx(100 * 23 / 26), 1],
                                     ["worker", 2, pytest.approx(100 * 2 / 26), 0],
                                     ["etl", 1, pytest.approx(100 * 1 / 26), 0]]
    idle = connections_logic.idle_in_transaction_table(LATEST)
    assert idle.values.tolist() == [["kasho", "etl", "etl", "127.0.2.5", True, 1, 900.0],
                                    ["kasho", "app", "worker", "127.0.2.5", False, 2, 400.0]]


def test_ages_use_a_readable_unit() -> None:
    ages = pd.DataFrame({"collected_at": [at(0), at(1)],
                         "longest_transaction_seconds": [30.0, 7200.0],
                         "longest_query_seconds": [1.0, 2.0],
                         "longest_idle_in_transaction_seconds": [0.0, 7100.0]})
    wide = connections_logic.ages_on_grid(ages, minute_collection())
    figure = connections_charts.session_ages_figure(wide, ())
    assert figure.layout.yaxis.title.text == "age (h)"
    assert list(figure.data[0].y) == [30 / 3600, 2.0]
    assert [format_seconds(s) for s in (None, 42, 450, 4 * 3600, 3 * 86400)] == [
        "—", "42 s", "7.5 min", "4.0 h", "3.0 d"]


def test_lock_history_has_waiting_sessions_and_longest_wait_on_its_own_axis() -> None:
    history = pd.DataFrame({"collected_at": [at(0), at(1)], "blocked_sessions": [0.0, 3.0],
                            "longest_wait_seconds": [0.0, 300.0]})
    wide = locks_logic.history_on_grid(history, minute_collection())
    figure = locks_charts.lock_history_figure(wide, ())
    assert [(t.name, list(t.y)) for t in figure.data] == [
        ("sessions waiting for a lock", [0.0, 3.0]), ("longest wait", [0.0, 5.0])]
    assert (figure.data[1].yaxis, figure.layout.yaxis2.title.text) == ("y2",
                                                                       "longest wait (min)")
    # Whole-number ticks on the count axis only, not on the minutes.
    assert (figure.layout.yaxis.tickformat, figure.layout.yaxis2.tickformat) == (",d", None)


def test_database_events_chart_only_when_something_happened() -> None:
    events = pd.DataFrame({"collected_at": [at(0), at(0), at(1)],
                           "datname": ["kasho", "batch", "batch"], "deadlocks": [0.0, 1, 2],
                           "xact_rollback": [5.0, 1, 1], "temp_files": [2.0, 0, 0],
                           "temp_bytes": [8192.0, 0, 0], "conflicts": [0.0, 0, 0]})
    c = Collection("database_stats", 60, 60, at(0), at(2), at(2),
                   {pd.Timestamp(at(0)): 1, pd.Timestamp(at(1)): 1}, (), at(-60), at(1))
    figure = locks_charts.database_events_figure(locks_logic.events_on_grid(events, c), ())
    assert [(t.name, list(t.y)) for t in figure.data] == [
        ("deadlocks", [1.0, 2.0]), ("recovery conflicts", [0.0, 0.0])]
    assert locks_logic.database_event_totals(events).values.tolist() == [
        ["batch", 3.0, 2.0, 0.0, 0.0, 0.0], ["kasho", 0.0, 5.0, 2.0, 8192.0, 0.0]]
    quiet = events.assign(deadlocks=0.0)
    assert locks_charts.database_events_figure(locks_logic.events_on_grid(quiet, c), ()) is None
    shown, hidden = locks_logic.visible_events(events, frozenset({"batch"}), False)
    assert (shown["datname"].unique().tolist(), hidden) == (["kasho"], 1)


def test_lock_waits_table_names_roots_including_prepared_and_cycles() -> None:
    waits = pd.DataFrame({
        "collected_at": pd.to_datetime([at(0)] * 3), "pid": [11, 12, 13],
        "datname": ["kasho"] * 3, "usename": ["app"] * 3, "application_name": ["api"] * 3,
        "client_addr": ["127.0.2.5"] * 3, "locktype": ["relation", "transactionid", "tuple"],
        "mode": ["ShareLock", "ShareLock", "ExclusiveLock"],
        "relation": ["accounts", "", "ledger"], "blocking_pids": [[10], [0], [14]],
        "root_blocker_pid": [10, 0, None], "chain_depth": [1, 1, None],
        "wait_seconds": [5.0, 2.0, 1.0], "transaction_seconds": [6.0, 2.0, 1.0],
        "root_blocker_state": ["idle in transaction", "prepared transaction", ""],
        "root_blocker_application_name": ["worker", "", ""],
        "root_blocker_transaction_seconds": [600.0, None, None]})
    table = locks_logic.lock_waits_table(waits)
    assert table[["pid", "waits for", "blocked by", "root blocker"]].values.tolist() == [
        [11, "ShareLock on accounts", "10", "10: idle in transaction · worker · xact 10.0 min"],
        [12, "ShareLock (transactionid)", "0", "a prepared transaction"],
        [13, "ExclusiveLock on ledger", "14", "none (wait cycle)"]]
    assert table["depth"].tolist() == [1, 1, pd.NA]  # whole numbers, blank for a cycle
    assert table["time (UTC)"].tolist() == ["2026-03-02 09:00:00"] * 3


def session(pid: int, state: str = "active", *blocking: int, app: str = "api",
            xact: float | None = 1.0, backend_type: str = "client backend") -> Session:
    return Session(pid=pid, datname="kasho", usename="app", application_name=app,
                   client_addr="127.0.2.5", backend_type=backend_type, state=state,
                   wait_event_type="Lock" if blocking else "",
                   wait_event="relation" if blocking else "", backend_start=None,
                   query_seconds=1.0 if state == "active" else None, transaction_seconds=xact,
                   state_seconds=2.0, blocking_pids=tuple(blocking), query=f"SELECT {pid}")


SNAPSHOT = ActivitySnapshot(taken_at=T0, reader_pid=99, max_connections=100, sessions=(
    session(1, "idle in transaction", xact=60.0, app="worker"),
    session(2, "active", 1, xact=30.0),
    session(3, "idle", xact=None),
    session(4, "active", xact=5.0, app="", backend_type="autovacuum worker"),
    session(5, "idle", xact=None, app="kasho-ops"),
))


def test_sessions_table_hides_idle_and_ours_and_puts_old_transactions_first() -> None:
    table, hidden = activity_logic.sessions_table(SNAPSHOT)
    assert (table["pid"].tolist(), hidden) == ([1, 2, 4], 0)
    assert table.loc[1, ["wait", "blocked by"]].tolist() == ["Lock: relation", "1"]
    assert table.loc[2, "application"] == "(autovacuum worker)"
    with_idle, _ = activity_logic.sessions_table(SNAPSHOT, show_idle=True)
    assert with_idle["pid"].tolist() == [1, 2, 4, 3, 5]
    # An idle session has no transaction age: None (shown "—"), not 0.
    assert pd.isna(with_idle.loc[3, "xact age (s)"]) and pd.isna(with_idle.loc[3,
                                                                              "query age (s)"])
    ours = OwnActivity(frozenset({"kasho_ops_monitor"}))
    mine = SNAPSHOT.sessions[4].__class__(**{**SNAPSHOT.sessions[4].__dict__,
                                             "usename": "kasho_ops_monitor"})
    snapshot = ActivitySnapshot(T0, 99, 100, (*SNAPSHOT.sessions[:4], mine), 3)
    hiding, hidden = activity_logic.sessions_table(snapshot, True, ours, show_own=False)
    assert (hiding["pid"].tolist(), hidden) == ([1, 2, 4, 3], 1)


def test_activity_counts_use_the_one_utilization_and_include_the_reader() -> None:
    snapshot = ActivitySnapshot(T0, 99, 100, SNAPSHOT.sessions, reserved_connections=3)
    counts = activity_logic.activity_counts(snapshot)
    assert counts == activity_logic.ActivityCounts(
        utilization=Utilization(T0, 5, 100, 3), active=2, idle_in_transaction=1,
        waiting_on_lock=1, kasho_ops=2)
    assert (counts.utilization.tile_value, counts.utilization.tile_delta) == ("5 / 97",
                                                                              "5 % of usable")


def test_blocking_tree_table_indents_waiters_under_their_blocker() -> None:
    sessions = [session(1, "idle in transaction"), session(2, "active", 1),
                session(3, "active", 2), session(4, "active", 0)]
    table = activity_logic.blocking_tree_table(blocking_forest(sessions))
    assert table[["session", "state", "blocks"]].values.tolist() == [
        ["1", "idle in transaction", "1"], ["└─ 2", "active", "1"],
        [f"{activity_logic.INDENT}└─ 3", "active", ""], ["0 prepared transaction", "", "1"],
        ["└─ 4", "active", ""]]


def test_the_selected_row_names_its_session_and_what_may_be_done() -> None:
    tables = activity_logic
    table, _ = tables.sessions_table(SNAPSHOT, show_idle=True)
    pids = table["pid"].tolist()
    chosen = tables.selected_session(SNAPSHOT, table, [1])
    assert chosen is not None and chosen.pid == pids[1]
    assert tables.selected_session(SNAPSHOT, table, []) is None
    assert tables.selected_session(SNAPSHOT, table, [len(pids)]) is None
    # The key names the rows in order: the same row number in another list is another key.
    assert tables.selection_key(table) == tables.selection_key(table.copy())
    assert tables.selection_key(table) != tables.selection_key(table.iloc[::-1])
    client = next(s for s in SNAPSHOT.sessions if s.backend_type == "client backend")
    assert tables.action_block_reason(client, frozenset()) is None
    assert tables.action_block_reason(client, frozenset({client.pid})) == (
        f"pid {client.pid} is one of this dashboard's own sessions")
    worker = replace(client, backend_type="autovacuum worker")
    assert tables.action_block_reason(worker, frozenset()) == (
        f"pid {client.pid} is a autovacuum worker: only client sessions can be cancelled or "
        "terminated")
