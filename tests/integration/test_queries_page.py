"""The Queries page in AppTest: statements collected from a real workload, the detail view
by URL, the regressions list from a week of history, and the missing-extension message."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from collectors.core.redact import Secret
from collectors.core.store import Batch, MetricStore
from dashboard.features.queries import logic as qa
from demo.cluster import LocalCluster
from tests.integration.collector_setup import (
    make_config,
    monitor_dsn,
    open_collector,
    write_config_file,
)
from tests.integration.test_query_stats import LEDGER_QUERY, run_times, statement_id
from tests.query_history import REGRESSION_AGO, seed_query_history
from tests.shown import shown

pytestmark = pytest.mark.single_major  # the page reads the store

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
# sqlc sends its annotation as the first line; pg_stat_statements keeps it in the text.
NAMED_QUERY = "-- name: SumLedger :one\nSELECT sum(amount) FROM ledger WHERE account_id = %s"


def queries_page(config: Path, monkeypatch: pytest.MonkeyPatch,
                 **params: str) -> AppTest:
    monkeypatch.setenv("KASHO_OPS_CONFIG", str(config))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("features/queries/page.py")
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def dataframe(at: AppTest, key: str):
    return next(d for d in at.get("dataframe") if d.key == key).value


@pytest.fixture
def collected_store(pg_cluster: LocalCluster, fresh_database: str, fresh_store: str,
                    tmp_path: Path) -> tuple[Path, str, tuple[int, int, int]]:
    """A store with two real query_stats collections: the ledger count ran 7 then 4 times."""
    with psycopg.connect(pg_cluster.dsn(fresh_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger (account_id int, amount numeric)")
        conn.execute("INSERT INTO ledger SELECT g % 10, g FROM generate_series(1, 100) g")
    app = pg_cluster.dsn(fresh_database)
    run_times(app, LEDGER_QUERY, 1)
    run_times(app, NAMED_QUERY, 1)
    key = statement_id(pg_cluster.dsn(), fresh_database, "SELECT count(*)")
    collector = open_collector(make_config(fresh_store, {"local": monitor_dsn(pg_cluster)}),
                               ["query_stats"])
    group, target = collector.groups[0], collector.config.targets[0]
    try:
        assert collector.collect(group, target).error is None  # the baseline
        for times in (7, 4):
            run_times(app, LEDGER_QUERY, times)
            run_times(app, NAMED_QUERY, times)
            assert collector.collect(group, target).error is None
    finally:
        collector.close()
        collector.store.close()
    config = write_config_file(tmp_path / "k.toml", fresh_store,
                               {"local": monitor_dsn(pg_cluster)},
                               "\n[auth]\nnone_role = \"operator\"\n")  # EXPLAIN needs it
    return config, fresh_database, key


def test_top_statements_show_the_collected_workload(
        collected_store: tuple[Path, str, tuple[int, int, int]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    config, dbname, _ = collected_store
    at = queries_page(config, monkeypatch, range="1h")
    assert at.title[0].value == "Queries"
    table = dataframe(at, "top_statements")
    ledger = table[table["statement"] == "SELECT count(*) FROM ledger WHERE account_id = $1"]
    assert ledger[["database", "role", "calls", "rows"]].values.tolist() == [
        [dbname, "postgres", 11, 11]]
    assert 1 < len(ledger["trend"].iloc[0]) <= qa.SPARKLINE_POINTS  # what the column shows
    assert at.get("plotly_chart"), "the load-shape chart is drawn"
    # The collector's own statements (the monitoring role) are hidden, and counted.
    assert not table["role"].eq("kasho_ops_monitor").any()
    hidden = [shown(c.value) for c in at.caption if "Kasho Ops statement" in shown(c.value)]
    assert len(hidden) == 1 and re.match(r"\d+ Kasho Ops statements? hidden", hidden[0])
    # Regressions cannot be judged on a few minutes of history: say so, not "none got slower".
    assert not at.success
    assert any(shown(i.value).startswith("Not enough history yet (statement statistics since ")
               for i in at.info)
    with_own = queries_page(config, monkeypatch, range="1h", own="1")
    assert dataframe(with_own, "top_statements")["role"].eq("kasho_ops_monitor").any()
    at.segmented_control(key="queries_rank").set_value("calls").run()
    assert at.query_params["rank"] == ["calls"] or at.query_params["rank"] == "calls"
    assert at.subheader[-1].value == "Top statements by calls"


def test_detail_view_by_url_shows_totals_text_and_explain(
        collected_store: tuple[Path, str, tuple[int, int, int]], pg_cluster: LocalCluster,
        fresh_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = fresh_store
    config, dbname, (queryid, dbid, userid) = collected_store
    at = queries_page(config, monkeypatch, range="1h", queryid=str(queryid), dbid=str(dbid),
                      userid=str(userid))
    assert shown(at.title[0].value) == "SELECT count(*) FROM ledger WHERE account_id = $1"
    assert any(f"database {dbname} · role postgres" in c.value
               and c.value.endswith(f"queryid {queryid}") for c in at.text)
    metrics = {shown(m.label): shown(m.value) for m in at.metric}
    assert metrics["calls"] == "11" and metrics["rows per call"] == "1.0"
    assert at.code[0].value == "SELECT count(*)\nFROM ledger\nWHERE account_id = $1"
    assert "Tables it touches (read from the text): ledger" in [t.value for t in at.text]
    assert len(at.get("plotly_chart")) == 1
    at.button[-1].click().run()  # EXPLAIN: the monitor role may not read the table
    assert shown(at.error[0].value).startswith(
        "EXPLAIN failed: permission denied for table ledger (EXPLAIN needs the table privileges")
    with psycopg.connect(pg_cluster.dsn(dbname), autocommit=True) as conn:
        conn.execute("GRANT SELECT ON ledger TO kasho_ops_monitor")
    at.text_area(key="explain_parameters").input("3").run()
    at.button[-1].click().run()
    assert not at.error
    plan = at.code[-1].value
    assert plan.startswith("Aggregate") and "Filter: (account_id = 3)" in plan
    with psycopg.connect(store) as conn:
        assert conn.execute("SELECT outcome, sample_values, queryid FROM kasho_ops.explain_audit "
                            "ORDER BY id").fetchall() == [("failed", False, queryid),
                                                          ("planned", True, queryid)]


def test_statements_lead_with_their_sqlc_name_and_are_found_by_it(
        collected_store: tuple[Path, str, tuple[int, int, int]], fresh_store: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    config, _, _ = collected_store
    store = fresh_store
    at = queries_page(config, monkeypatch, range="1h")
    statements = dataframe(at, "top_statements")["statement"].tolist()
    assert "SumLedger · SELECT sum(amount) FROM ledger WHERE account_id = $1" in statements
    assert "SumLedger" in at.multiselect(key="queries_names").options
    at.text_input(key="queries_search").input("sumledger").run()
    assert dataframe(at, "top_statements")["statement"].tolist() == [
        "SumLedger · SELECT sum(amount) FROM ledger WHERE account_id = $1"]
    load_shape = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert load_shape["data"][0]["name"] == "1. SumLedger"
    at.text_input(key="queries_search").input("").run()
    at.multiselect(key="queries_names").select("SumLedger").run()
    assert len(dataframe(at, "top_statements")) == 1
    with psycopg.connect(store) as conn:
        queryid, dbid, userid = conn.execute(
            "SELECT queryid, dbid, userid FROM kasho_ops.query_texts "
            "WHERE query LIKE '-- name: SumLedger%'").fetchone()
    at = queries_page(config, monkeypatch, range="1h", queryid=str(queryid), dbid=str(dbid),
                      userid=str(userid))
    assert at.title[0].value == "SumLedger"
    assert any(t.value.startswith(":one returns one row · database ")
               for t in at.text), [t.value for t in at.text]


def test_regressions_list_the_statement_that_got_slower(
        fresh_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    seed_query_history(fresh_store, "kasho-primary", now, timedelta(days=8))
    config = write_config_file(tmp_path / "k.toml", fresh_store,
                               {"kasho-primary": "host=127.0.0.1 dbname=kasho user=mon"})
    at = queries_page(config, monkeypatch, range="7d")
    regressions = dataframe(at, "regressions")
    # The statement's first words, cut at a word, never mid-word.
    assert regressions["statement"].tolist() == [
        "SELECT * FROM transactions WHERE account_id = $1 AND status = $2 ORDER BY created_at "
        "DESC…"]
    since = regressions["since"].iloc[0].to_pydatetime().replace(tzinfo=UTC)
    assert now - REGRESSION_AGO - timedelta(minutes=1) <= since <= now - REGRESSION_AGO
    assert 2.5 < regressions["slower"].iloc[0] < 3.5


def test_missing_extension_says_what_to_add(
        pg_cluster: LocalCluster, fresh_database: str, fresh_store: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    collector = open_collector(
        make_config(fresh_store, {"bare": monitor_dsn(pg_cluster, fresh_database)}),
        ["query_stats"])
    try:
        collector.collect(collector.groups[0], collector.config.targets[0])
    finally:
        collector.close()
        collector.store.close()
    config = write_config_file(tmp_path / "k.toml", fresh_store,
                               {"bare": monitor_dsn(pg_cluster, fresh_database)})
    at = queries_page(config, monkeypatch)
    assert shown(at.error[0].value) == (
        "The last query_stats collection failed: query_stats on bare: pg_stat_statements is "
        f"not installed in database {fresh_database}: run CREATE EXTENSION "
        "pg_stat_statements; there (postgresql.conf must also have shared_preload_libraries "
        "= 'pg_stat_statements'; adding it needs a restart)")


def test_evictions_in_the_range_are_called_out(
        fresh_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    seed_query_history(fresh_store, "kasho-primary", now, timedelta(hours=2))
    store = MetricStore(Secret(fresh_store))
    store.open()
    try:
        for minutes_ago in (5, 4, 90):  # two in the last hour, one before it
            t = now - timedelta(minutes=minutes_ago)
            store.write_now([Batch("query_stats_info", ("collected_at", "target",
                                                    "interval_seconds", "dealloc", "stats_reset"),
                               ((t, "kasho-primary", 60.0, 2, None),), t.date())])
    finally:
        store.close()
    config = write_config_file(tmp_path / "k.toml", fresh_store,
                               {"kasho-primary": "host=127.0.0.1 dbname=kasho user=mon"})
    at = queries_page(config, monkeypatch, range="1h")
    assert at.warning[0].value.startswith(
        "pg_stat_statements evicted its least-used entries 4 times in this range")


def test_a_planted_hostile_text_is_refused_on_the_page_and_nothing_runs(
        pg_cluster: LocalCluster, fresh_database: str, fresh_store: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Any login can leave a statement text shaped like this in pg_stat_statements; one
    EXPLAIN click on it must show why it is refused, and change nothing."""
    hostile = "SELECT 1 AS a$$; COMMIT; BEGIN READ WRITE; DELETE FROM ledger; --$$"
    with psycopg.connect(pg_cluster.dsn(fresh_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger (id int)")
        conn.execute("INSERT INTO ledger VALUES (1), (2), (3)")
        conn.execute("GRANT SELECT, DELETE ON ledger TO kasho_ops_monitor")
    with psycopg.connect(fresh_store, autocommit=True) as conn:
        conn.execute("INSERT INTO kasho_ops.query_texts VALUES ('local', 4242, 1, 1, now(), "
                     "%s, 'app', %s)", [fresh_database, hostile])
    config = write_config_file(tmp_path / "k.toml", fresh_store,
                               {"local": monitor_dsn(pg_cluster)},
                               "\n[auth]\nnone_role = \"operator\"\n")  # EXPLAIN needs it
    at = queries_page(config, monkeypatch, range="1h", queryid="4242")
    assert shown(at.title[0].value) == "SELECT 1 AS a$$; …"
    next(b for b in at.button if b.label == "EXPLAIN").click().run()
    assert [shown(e.value) for e in at.error] == [
        "only one statement can be explained; remove what follows ';'"]
    with psycopg.connect(pg_cluster.dsn(fresh_database)) as conn:
        assert conn.execute("SELECT count(*) FROM ledger").fetchone() == (3,)
    with psycopg.connect(fresh_store) as conn:
        assert conn.execute("SELECT queryid, outcome FROM kasho_ops.explain_audit").fetchall() \
            == [(4242, "refused")]
