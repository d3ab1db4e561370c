"""Maintenance page logic: why a table waits for vacuum, analyze status, progress,
wraparound in words, horizon holders, bloat and how sure it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from dashboard.features.maintenance import logic

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def table_row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "schemaname": "public", "relname": "accounts", "relkind": "r", "n_dead_tup": 6000,
        "dead_tuple_ratio": 0.75, "vacuum_threshold": 450.0, "needs_vacuum": True,
        "autovacuum_enabled": True, "last_vacuum": None, "last_autovacuum": None,
        "n_mod_since_analyze": 0, "analyze_threshold": 150.0, "needs_analyze": False,
        "never_analyzed": False, "last_analyze": NOW, "last_autoanalyze": None,
        "n_ins_since_vacuum": 0, "insert_threshold": 1000.0}
    row.update(overrides)
    return row


STATE = logic.AutovacuumState(enabled=True, track_counts=True, workers_busy=1, max_workers=3,
                              naptime_seconds=60.0)


@pytest.mark.parametrize(("overrides", "state", "holder", "expected"), [
    ({"autovacuum_enabled": False}, STATE, None, "autovacuum is off for this table"),
    ({}, logic.AutovacuumState(False, True, 0, 3, 60.0), None, "autovacuum is off on the server"),
    ({}, logic.AutovacuumState(True, False, 0, 3, 60.0), None, "track_counts is off"),
    ({"last_autovacuum": NOW - timedelta(seconds=30)}, STATE, "transaction 4242, xmin age 9",
     "vacuumed moments ago, yet the dead rows remain: something holds the xmin horizon back "
     "(transaction 4242, xmin age 9)"),
    ({}, logic.AutovacuumState(True, True, 3, 3, 60.0), None,
     "all 3 autovacuum workers are busy"),
    ({"last_autovacuum": NOW - timedelta(days=2)}, STATE, None,
     "past its trigger point; autovacuum should start on it within 60 s"),
    ({"n_dead_tup": 0, "n_ins_since_vacuum": 40_000, "insert_threshold": 8_100.0}, STATE,
     None, "40,000 rows inserted since the last vacuum passed the insert trigger (8,100)"),
])
def test_vacuum_diagnosis(overrides: dict[str, object], state: logic.AutovacuumState,
                          holder: str | None, expected: str) -> None:
    assert logic.vacuum_diagnosis(pd.Series(table_row(**overrides)), state, NOW,
                                  holder).startswith(expected)


def test_vacuum_table_lists_the_most_overdue_first_then_tables_below_their_trigger() -> None:
    rows = pd.DataFrame([
        table_row(relname="small", n_dead_tup=600, vacuum_threshold=500.0),
        table_row(relname="quiet", n_dead_tup=10, needs_vacuum=False, dead_tuple_ratio=0.01),
        table_row(relname="clean", n_dead_tup=0, needs_vacuum=False, dead_tuple_ratio=0.0),
        table_row(relname="appended", n_dead_tup=0, dead_tuple_ratio=0.0,
                  n_ins_since_vacuum=2000, insert_threshold=1200.0),
        table_row(),
    ])
    table = logic.vacuum_table(rows, STATE, NOW)
    assert list(table["table"]) == ["public.accounts", "public.appended", "public.small",
                                    "public.quiet"]
    assert list(table["over by"][:3]) == [5550, 800, 100] and pd.isna(table.loc[3, "over by"])
    assert table.loc[3, "why"] == "below its trigger point"


def test_analyze_table_explains_never_analyzed_stale_and_partitioned() -> None:
    rows = pd.DataFrame([
        table_row(relname="payments", n_mod_since_analyze=500, needs_analyze=True),
        table_row(relname="audit", never_analyzed=True, last_analyze=None),
        table_row(relname="events", relkind="p", never_analyzed=True, last_analyze=None),
        table_row(relname="fresh"),
    ])
    table = logic.analyze_table(rows).set_index("table")
    assert list(table.index) == ["public.payments", "public.audit", "public.events"]
    assert table.loc["public.payments", "over by"] == 350
    assert table.loc["public.payments", "why"].startswith("statistics are stale")
    assert table.loc["public.audit", "why"].startswith("never analyzed")
    assert "autovacuum never analyzes it" in table.loc["public.events", "why"]


def test_progress_table_names_who_started_it_and_handles_an_empty_run() -> None:
    progress = pd.DataFrame([
        {"run_at": NOW, "pid": 11.0, "operation": "VACUUM", "relation": "public.accounts",
         "datname": "kasho", "phase": "scanning heap", "percent_done": 42.0,
         "running_seconds": 95.0, "autovacuum": True, "to_prevent_wraparound": True},
        {"run_at": NOW, "pid": 12.0, "operation": "CREATE INDEX CONCURRENTLY",
         "relation": "public.transactions", "datname": "kasho", "phase": "building index",
         "percent_done": np.nan, "running_seconds": 3.0, "autovacuum": False,
         "to_prevent_wraparound": False}])
    table = logic.progress_table(progress)
    assert table.loc[0, "started by"] == "autovacuum (to prevent wraparound)"
    assert table.loc[0, "progress"] == pytest.approx(0.42)
    assert table.loc[1, "started by"] == "a session" and table.loc[0, "running for"] == "95 s"
    empty_run = pd.DataFrame([{"run_at": NOW, "pid": np.nan}])
    assert logic.progress_table(empty_run).empty


def wraparound_row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "datname": "kasho", "xid_age": 157_300_000, "freeze_max_age": 200_000_000,
        "status": "forecast", "history_hours": 24.0, "samples": 1440,
        "xids_per_day": 2_400_000.0, "xid_r2": 0.99, "days_to_emergency": 826.0}
    row.update(overrides)
    return row


def test_wraparound_texts_say_when_and_how_sure() -> None:
    (far,) = logic.wraparound_texts(pd.DataFrame([wraparound_row()]))
    assert far.headline == "no emergency within 10 days"  # 826 days from 24 h of history
    assert far.fraction_of_stop == pytest.approx(157_300_000 / logic.XID_STOP_AGE)
    assert "42,700,000 XIDs before autovacuum forces a freeze" in far.detail
    assert far.confidence == "rate steady (r² 0.99) over 24.0 h, 1440 samples"
    (near,) = logic.wraparound_texts(pd.DataFrame([wraparound_row(
        xid_age=2_100_000_000, days_to_emergency=6.4, history_hours=200.0, xid_r2=0.4)]))
    assert near.headline == "emergency in 6 days" and near.severity == "critical"
    assert "past autovacuum_freeze_max_age" in near.detail and "bursty" in near.confidence
    (young,) = logic.wraparound_texts(pd.DataFrame([wraparound_row(
        status="insufficient history", samples=4, days_to_emergency=None)]))
    assert young.headline == "no forecast yet" and "4 samples so far" in young.detail


def test_horizon_table_names_each_kind_and_what_to_do() -> None:
    holders = pd.DataFrame([
        {"kind": "replication slot", "holder": "analytics", "pid": None, "datname": "kasho",
         "usename": "", "application_name": "pgoutput", "state": "inactive", "xmin_age": 9000,
         "held_seconds": None, "catalog_only": True, "holds_horizon": False},
        {"kind": "transaction", "holder": "4242", "pid": 4242, "datname": "kasho",
         "usename": "report", "application_name": "month-end", "state": "idle in transaction",
         "xmin_age": 12000, "held_seconds": 3600.0, "catalog_only": False,
         "holds_horizon": True}])
    table = logic.horizon_table(holders, NOW)
    assert list(table["who"]) == ["pid 4242 month-end (idle in transaction)",
                                  "slot analytics (inactive, catalog only)"]
    assert list(table["holds it"]) == ["yes", ""]
    assert table.loc[0, "held for"] == "60.0 min"
    assert table.loc[1, "what to do"].startswith("a slot whose consumer lags")
    assert logic.horizon_holder_label(holders) == "transaction 4242, xmin age 12,000"


def test_bloat_confidence_and_table_with_the_latest_exact_measurement() -> None:
    estimates = pd.DataFrame([
        {"schemaname": "public", "relname": "transactions", "kind": "table",
         "relation_bytes": 1e9, "bloat_bytes": 4e8, "bloat_ratio": 0.4, "reltuples": 1e6,
         "modified_since_analyze": 1e4, "width_source": "column types and pg_stats",
         "suppressed_reason": None},
        {"schemaname": "public", "relname": "accounts_pkey", "kind": "index",
         "relation_bytes": 2e8, "bloat_bytes": 1e7, "bloat_ratio": 0.05, "reltuples": 1e6,
         "modified_since_analyze": 0, "width_source": "column types", "suppressed_reason": None},
        {"schemaname": "public", "relname": "users", "kind": "table", "relation_bytes": 5e8,
         "bloat_bytes": None, "bloat_ratio": None, "reltuples": 1e5,
         "modified_since_analyze": 5e4, "width_source": None,
         "suppressed_reason": "column email: pg_stats hides its statistics"}])
    measured = pd.DataFrame([{"schemaname": "public", "relname": "transactions",
                              "kind": "table", "outcome": "measured", "measured_at": NOW,
                              "dead_percent": 1.5, "free_percent": 38.2,
                              "leaf_density": None}])
    table = logic.bloat_table(estimates, measured)
    assert list(table["relation"]) == ["public.transactions", "public.accounts_pkey",
                                       "public.users"]
    assert list(table["how sure"]) == ["medium: average widths from pg_stats",
                                       "within the estimate's margin (±20 %)", "not estimated"]
    assert table.loc[0, "exact (latest)"] == "1.5 % dead, 38.2 % free"
    assert table.loc[2, "not estimated because"].startswith("column email")
    stale = pd.Series({"reltuples": 1000, "modified_since_analyze": 500, "bloat_ratio": 0.5,
                       "width_source": "column types", "suppressed_reason": None})
    assert logic.bloat_confidence(stale) == "low: statistics predate many changes"
