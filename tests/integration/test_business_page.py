"""The Business and correlation pages rendered by AppTest from a store the real collector
filled from the seeded Kasho database: the numbers on the page equal SQL computed directly
on Kasho's tables for a fixed window, to the last decimal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from collectors.migrate import MigrationRunner
from dashboard.core.context import end_param
from demo.cluster import LocalCluster
from tests.conftest import KashoDatabase
from tests.integration.business_setup import collect_business_and_health, watermark_span
from tests.integration.collector_setup import monitor_dsn, write_config_file
from tests.pg import create_database, drop_database
from tests.shown import shown

pytestmark = pytest.mark.single_major  # the pages read the store

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TARGET, PLAIN = "kasho", "plain"


@pytest.fixture(scope="module")
def collected(pg_cluster: LocalCluster, kasho_database: KashoDatabase) -> Iterator[str]:
    """A store holding what the collector read from the seeded database (caught up)."""
    name = create_database(pg_cluster.dsn(), "store")
    store_dsn = pg_cluster.dsn(name)
    MigrationRunner(store_dsn, "monitoring").up()
    collect_business_and_health(store_dsn, monitor_dsn(pg_cluster),
                                kasho_database.business_dsn, kasho_database.admin_dsn)
    yield store_dsn
    drop_database(pg_cluster.dsn(), name)


@pytest.fixture(autouse=True)
def empty_caches() -> None:
    st.cache_data.clear()


@pytest.fixture
def app_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_cluster: LocalCluster,
            kasho_database: KashoDatabase) -> Any:
    def make(store_dsn: str, page: str, **query_params: str) -> AppTest:
        config = write_config_file(tmp_path / "kasho-ops.toml", store_dsn,
                                   {TARGET: monitor_dsn(pg_cluster),
                                    PLAIN: monitor_dsn(pg_cluster)},
                                   business={TARGET: kasho_database.business_dsn})
        monkeypatch.setenv("KASHO_OPS_CONFIG", str(config))
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params.update(query_params)
        at.run()
        at.switch_page(f"features/business/{page}")
        return at.run()

    return make


def fixed_window(store_dsn: str) -> tuple[datetime, datetime]:
    """Six whole hours ending at the last whole hour the collector has read."""
    _, watermark = watermark_span(store_dsn, "business_transactions")
    end = watermark.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return end - timedelta(hours=6), end


def money(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def page_text(at: AppTest) -> str:
    parts = [shown(e.value) for kind in ("markdown", "caption", "info", "title", "subheader")
             for e in at.get(kind)]
    parts += [shown(m.label) + shown(m.value) + shown(m.delta) for m in at.metric]
    parts += [at.dataframe[i].value.to_csv() for i in range(len(at.dataframe))]
    return "\n".join(parts)


def test_business_numbers_equal_sql_on_the_seeded_data(
        collected: str, kasho_database: KashoDatabase, app_for: Any) -> None:
    start, end = fixed_window(collected)
    at = app_for(collected, "page.py", target=TARGET, range="6h", end=end_param(end))
    assert not at.exception and not at.error
    assert [t.value for t in at.title] == ["Business"]
    assert shown(at.caption[0].value).startswith(
        f"**{TARGET}** · Last 6 hours · {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC")
    table = next(frame.value for frame in at.dataframe
                 if "Completed amount" in frame.value.columns)
    on_page = [(row["Currency"], int(row["Created"]), money(row["Amount"]),
                int(row["Completed"]), money(row["Completed amount"]), int(row["Failed"]))
               for row in table.to_dict("records")]
    with psycopg.connect(kasho_database.admin_dsn) as conn:
        expected = conn.execute("""
            WITH created AS (
                SELECT a.currency, count(*) AS created, sum(t.amount) AS amount
                FROM transactions t JOIN accounts a ON a.id = t.account_id
                WHERE t.created_at >= %(start)s AND t.created_at < %(end)s
                GROUP BY a.currency
            ), outcomes AS (  -- as created if never changed, else as changed to
                SELECT a.currency, t.status, t.amount
                FROM transactions t JOIN accounts a ON a.id = t.account_id
                WHERE t.created_at >= %(start)s AND t.created_at < %(end)s
                  AND NOT coalesce(t.updated_at > t.created_at, false)
                UNION ALL
                SELECT a.currency, t.status, t.amount
                FROM transactions t JOIN accounts a ON a.id = t.account_id
                WHERE t.updated_at >= %(start)s AND t.updated_at < %(end)s
                  AND t.updated_at > t.created_at
            )
            SELECT c.currency, c.created, c.amount,
                   count(o.*) FILTER (WHERE o.status = 'completed'),
                   coalesce(sum(o.amount) FILTER (WHERE o.status = 'completed'), 0),
                   count(o.*) FILTER (WHERE o.status = 'failed')
            FROM created c LEFT JOIN outcomes o USING (currency)
            GROUP BY c.currency, c.created, c.amount
            ORDER BY c.created DESC, c.currency""", {"start": start, "end": end}).fetchall()
    # Enough to compare (the seed's daily shape makes some 6-hour windows quieter).
    assert len(expected) == 7 and sum(row[1] for row in expected) > 20
    assert sorted(on_page) == sorted(expected)
    assert [row[0] for row in on_page] == [row[0] for row in expected]  # busiest first
    # The backlog was sampled now, after the pinned window: the page does not pretend.
    assert {shown(m.label): shown(m.value) for m in at.metric}["Pending backlog"] == "—"
    titles = [json.loads(chart.proto.spec)["layout"]["title"]["text"]
              for chart in at.get("plotly_chart")]
    assert titles == ["Transactions per minute, by type", "Failure rate and failures",
                      # the picker starts on the range's busiest currency (the table's first)
                      f"Amount per interval in {on_page[0][0]}, by type",
                      "Status changes per minute (settlements, chargebacks)",
                      "New users and accounts"]
    assert "No pending backlog samples in this range." in [shown(i.value) for i in at.info]


def test_the_latest_range_shows_the_backlog_and_balances_as_collected(
        collected: str, kasho_database: KashoDatabase, app_for: Any) -> None:
    at = app_for(collected, "page.py", target=TARGET, range="1h")
    assert not at.exception and not at.error
    with psycopg.connect(kasho_database.admin_dsn) as conn:
        pending, oldest = conn.execute("SELECT count(*), min(created_at) FROM transactions "
                                       "WHERE status = 'pending'").fetchone()
        balances = conn.execute(
            "SELECT currency, account_type, count(*), sum(balance), "
            "count(*) FILTER (WHERE balance < 0), "
            "coalesce(sum(balance) FILTER (WHERE balance < 0), 0) FROM accounts "
            "GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    tiles = {shown(m.label): (shown(m.value), shown(m.delta)) for m in at.metric}
    assert set(tiles) == {"Transactions/min", "Failure rate", "Pending backlog"}
    assert tiles["Pending backlog"][0] == f"{pending:,}"
    assert tiles["Pending backlog"][1].startswith("oldest ")
    table = next(frame.value for frame in at.dataframe if "Account type" in frame.value.columns)
    assert [(r["Currency"], r["Account type"], int(r["Accounts"]), money(r["Total"]),
             int(r["Negative"]), money(r["Negative total"]))
            for r in table.to_dict("records")] == balances
    assert oldest is not None


def test_pages_show_no_user_value(collected: str, kasho_database: KashoDatabase,
                                  app_for: Any) -> None:
    with psycopg.connect(kasho_database.admin_dsn) as conn:
        secrets = [v for (v,) in conn.execute(
            "SELECT email FROM users UNION ALL SELECT password_hash FROM users "
            "UNION ALL SELECT id::text FROM users UNION ALL SELECT id::text FROM accounts")]
    for page in ("page.py", "correlation_page.py"):
        at = app_for(collected, page, target=TARGET, range="24h")
        assert not at.exception
        text = page_text(at) + "".join(chart.proto.spec for chart in at.get("plotly_chart"))
        assert [s for s in secrets if s in text] == [], page


def test_the_correlation_view_stacks_business_and_health_on_one_axis(
        collected: str, app_for: Any) -> None:
    start, end = fixed_window(collected)
    at = app_for(collected, "correlation_page.py", target=TARGET, range="24h",
                 end=end_param(datetime.now(UTC) + timedelta(minutes=1)))  # all collected
    assert not at.exception and not at.error
    assert [t.value for t in at.title] == ["Business vs database"]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    panels = [a["text"] for a in spec["layout"]["annotations"]]
    assert panels[:4] == ["Payments: transactions created per minute",
                          "Payments: failed per minute", "Payments: pending now",
                          "Database: commits per second"]
    assert "Payment statements: mean time" in panels
    axes = sorted(k for k in spec["layout"] if k.startswith("xaxis"))
    assert len(axes) == len(panels)
    bottom = f"x{len(axes)}"  # every panel's time axis follows the bottom one
    assert [spec["layout"][axis].get("matches") for axis in axes] == \
        [bottom] * (len(axes) - 1) + [None]
    names = [trace["name"] for trace in spec["data"]]
    assert names[:3] == ["created per minute", "failed per minute", "pending"]
    assert start < end


def test_a_target_without_business_dsn_says_how_to_enable_it(collected: str,
                                                             app_for: Any) -> None:
    for page in ("page.py", "correlation_page.py"):
        at = app_for(collected, page, target=PLAIN, range="1h")
        assert not at.exception
        assert "give the target a `business_dsn`" in shown(at.info[0].value)
        assert not at.get("plotly_chart")


def test_the_overview_shows_the_business_headline_for_a_business_target(
        collected: str, app_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        pg_cluster: LocalCluster, kasho_database: KashoDatabase) -> None:
    config = write_config_file(tmp_path / "overview.toml", collected,
                               {TARGET: monitor_dsn(pg_cluster)},
                               business={TARGET: kasho_database.business_dsn})
    monkeypatch.setenv("KASHO_OPS_CONFIG", str(config))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"target": TARGET, "range": "24h"})
    at.run()
    at.switch_page("features/overview/page.py").run()  # the On call home opens first
    assert not at.exception
    labels = [shown(m.label) for m in at.metric]
    assert labels[-3:] == ["Kasho: transactions/min", "Kasho: failure rate",
                           "Kasho: pending backlog"]
