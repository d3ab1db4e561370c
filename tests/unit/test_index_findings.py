"""Indexes page findings: kinds, write cost, how sure, the DDL a DBA would run; tables that
may lack an index; index cache hit ratios; and the advice action's pure parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from collectors.actions.index_advice import (
    Candidate,
    IndexAdvice,
    SeqScan,
    quote_identifier,
    seq_scans,
    total_cost,
    uses_index,
)
from dashboard.features.indexes import logic

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def index_row(name: str, findings: list[str], **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "schemaname": "public", "relname": "transfers", "indexrelname": name,
        "findings": findings, "index_bytes": 8_000_000.0, "idx_scan": 0,
        "constraint_name": None, "build_in_progress": False, "duplicate_of": None,
        "redundant_with": None, "table_index_writes": 900_000, "first_table_index_writes": 0,
        "collected_at": NOW, "first_collected_at": NOW - timedelta(days=3)}
    row.update(overrides)
    return row


def age(days: float | None) -> logic.StatisticsAge:
    return logic.StatisticsAge(None if days is None else NOW - timedelta(days=days), days)


def test_findings_carry_why_how_sure_write_cost_and_ddl() -> None:
    rows = pd.DataFrame([
        index_row("transfers_account_idx", ["unused", "redundant"],
                  redundant_with="transfers_account_created_idx"),
        index_row("transfers_id_key", ["duplicate"], duplicate_of="transfers_pkey",
                  constraint_name="transfers_id_key", index_bytes=9e6),
        index_row("transfers_currency_key", ["invalid"], index_bytes=1e6),
        index_row("transfers_currency_key_ccnew", ["invalid"], index_bytes=2e6),
    ])
    found = logic.index_findings(rows, age(45))
    assert [(f.kind, f.relation) for f in found] == [
        ("invalid", "public.transfers_currency_key_ccnew"),
        ("invalid", "public.transfers_currency_key"),
        ("duplicate", "public.transfers_id_key"),
        ("redundant", "public.transfers_account_idx"),
        ("unused", "public.transfers_account_idx")]
    ccnew, invalid, duplicate, redundant, unused = found
    assert ccnew.ddl == "DROP INDEX CONCURRENTLY public.transfers_currency_key_ccnew;"
    assert invalid.ddl.endswith("REINDEX INDEX CONCURRENTLY public.transfers_currency_key;")
    assert duplicate.ddl == "ALTER TABLE public.transfers DROP CONSTRAINT transfers_id_key;"
    assert duplicate.how_sure == "certain (identical definitions)"
    assert "leads transfers_account_created_idx" not in redundant.why
    assert "Its columns lead transfers_account_created_idx" in redundant.why
    assert unused.writes_per_day == pytest.approx(300_000)  # 900,000 over 3 days
    assert "(300,000 entries a day)" in unused.why
    assert unused.how_sure.startswith("high: no scan in 45 days")


@pytest.mark.parametrize(("days", "expected"), [
    (None, "unknown: the statistics' age is unknown."),
    (3.5, "low: statistics are only 3.5 days old"),
    (12, "medium: 12 days of statistics"),
    (90, "high: no scan in 90 days"),
])
def test_unused_is_only_as_sure_as_the_statistics_are_old(days: float | None,
                                                           expected: str) -> None:
    (unused,) = logic.index_findings(pd.DataFrame([index_row("i", ["unused"])]), age(days))
    assert unused.how_sure.startswith(expected)
    assert unused.how_sure.endswith("Scans on standbys are not counted here.")


def test_an_index_being_built_is_not_called_broken() -> None:
    (building,) = logic.index_findings(pd.DataFrame([index_row(
        "transfers_new_idx", ["invalid"], build_in_progress=True)]), age(10))
    assert building.ddl == "—" and building.why.startswith("Being built now")


def test_write_cost_falls_back_to_the_lifetime_average() -> None:
    rows = pd.DataFrame([index_row("i", ["unused"], first_collected_at=pd.NaT,
                                   first_table_index_writes=np.nan)])
    assert logic.index_writes_per_day(rows, age(10)).tolist() == [90_000]
    assert pd.isna(logic.index_writes_per_day(rows, age(None))[0])


def test_names_that_need_quoting_are_quoted_in_ddl() -> None:
    (unused,) = logic.index_findings(pd.DataFrame([index_row(
        'Odd "Idx"', ["unused"], schemaname="Sales")]), age(40))
    assert unused.ddl == 'DROP INDEX CONCURRENTLY "Sales"."Odd ""Idx""";'
    assert quote_identifier("accounts") == "accounts" and quote_identifier("2x") == '"2x"'


def table_row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "schemaname": "public", "relname": "transactions", "n_live_tup": 1_000_000.0,
        "total_bytes": 2e9, "seq_scan": 1100, "first_seq_scan": 100,
        "seq_tup_read": 1_000_100_000, "first_seq_tup_read": 100_000, "collected_at": NOW,
        "first_collected_at": NOW - timedelta(days=1)}
    row.update(overrides)
    return row


def test_tables_scanned_sequentially_often_and_wide_may_lack_an_index() -> None:
    rows = pd.DataFrame([
        table_row(),
        table_row(relname="small", n_live_tup=500.0),
        table_row(relname="rare", seq_scan=105, seq_tup_read=5_100_000),
        table_row(relname="narrow", seq_tup_read=2_000_000),
    ])
    (finding,) = logic.missing_index_findings(rows, age(10))
    assert finding.relation == "public.transactions" and finding.scans == 1000
    assert finding.why == ("1,000 sequential scans a day over the range, reading 1,000,000 rows "
                           "each (1,000,000,000 rows a day) of 1,000,000.")
    assert finding.ddl == "—" and finding.how_sure.startswith("a hint")


def test_index_cache_table_orders_by_disk_reads() -> None:
    rows = pd.DataFrame([
        index_row("a", [], idx_blks_read=10, first_idx_blks_read=0, idx_blks_hit=990,
                  first_idx_blks_hit=0, idx_scan=50, first_idx_scan=0),
        index_row("b", [], idx_blks_read=500, first_idx_blks_read=100, idx_blks_hit=600,
                  first_idx_blks_hit=0, idx_scan=9, first_idx_scan=0)])
    table = logic.index_cache_table(rows)
    assert list(table["index"]) == ["public.b", "public.a"]
    assert table.loc[0, "read from disk"] == 400 * 8192
    assert table.loc[1, "hit ratio"] == pytest.approx(0.99)


PLAN = [{"Plan": {"Node Type": "Hash Join", "Total Cost": 1500.0, "Plans": [
    {"Node Type": "Seq Scan", "Relation Name": "transactions", "Schema": "public",
     "Plan Rows": 20, "Total Cost": 1400.0},
    {"Node Type": "Index Scan", "Relation Name": "accounts", "Schema": "public",
     "Index Name": "<13543>btree_accounts_user_id", "Total Cost": 8.0}]}}]


def test_plan_reading() -> None:
    assert total_cost(PLAN) == 1500.0
    assert seq_scans(PLAN) == (SeqScan("public", "transactions", 20.0),)
    assert uses_index(PLAN, "<13543>btree_accounts_user_id")
    assert not uses_index(PLAN, "<1>btree_transactions_description")


def test_advice_is_only_given_when_it_pays() -> None:
    good = Candidate("public", "transactions", ("description",), 8.0, True)
    small = Candidate("public", "transactions", ("status",), 950.0, True)
    assert IndexAdvice(1000.0, (), (good, small), "1.3.1").best is good
    assert IndexAdvice(1000.0, (), (small,), "1.3.1").best is None  # 5 %: not worth writes
    assert good.ddl == "CREATE INDEX CONCURRENTLY ON public.transactions (description);"
