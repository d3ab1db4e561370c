"""The Storage, Maintenance and Indexes pages in AppTest: on a store holding a real
collection of a database with problems, on a target never collected, and with the store
unreachable (one red line, the password redacted)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard.core import store as dashboard_store
from demo.cluster import LocalCluster
from tests.integration.collector_setup import monitor_dsn
from tests.integration.storage_setup import (
    collect,
    dead_rows,
    failed_concurrent_index,
    storage_collector,
    storage_config,
)
from tests.pg import free_port
from tests.shown import shown

pytestmark = pytest.mark.single_major  # the pages read the store
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PAGES = ("features/storage/page.py", "features/maintenance/page.py",
         "features/indexes/page.py")


@pytest.fixture(autouse=True)
def empty_caches() -> None:
    st.cache_data.clear()


def write_config(path: Path, store_dsn: str, target_dsn: str) -> Path:
    path.write_text(f'[store]\ndsn = "{store_dsn}"\n\n[auth]\nnone_role = "admin"\n\n'
                    f'[[targets]]\nname = "local"\ndsn = "{target_dsn}"\n')
    return path


def open_page(config: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> AppTest:
    monkeypatch.setenv("KASHO_OPS_CONFIG", str(config))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(script)
    at.query_params.update({"range": "24h", "target": "local"})
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    parts = [shown(e.value) for kind in ("markdown", "caption", "text", "info", "success",
                                         "warning", "error", "code") for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


def frames_text(at: AppTest) -> str:
    return "\n".join(e.value.to_string() for e in at.get("dataframe"))


def test_pages_show_a_collected_database_with_problems(
        pg_cluster: LocalCluster, fresh_database: str, fresh_store: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = pg_cluster.dsn(fresh_database)
    dead_rows(dsn, "ledger", rows=3000, updates=2)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE INDEX ledger_balance_idx ON ledger (balance)")
        conn.execute("CREATE INDEX ledger_balance_copy ON ledger (balance)")
    failed_concurrent_index(dsn, "ledger", "balance", "ledger_balance_key")
    target_dsn = monitor_dsn(pg_cluster, fresh_database)
    with storage_collector(storage_config(fresh_store, "local", target_dsn)) as collector:
        collect(collector)
    config = write_config(tmp_path / "k.toml", fresh_store, target_dsn)

    storage = open_page(config, monkeypatch, PAGES[0])
    assert [m.label for m in storage.metric] == ["On disk", "Growth", "WAL", "Disk full"]
    assert "public.ledger" in frames_text(storage)
    assert "No capacity configured" in texts(storage)  # no disk_capacity_bytes
    assert "Not measured" in texts(storage)  # host_filesystem is off
    assert "Per-table history is kept for 1 of 1 tables" in texts(storage)

    maintenance = open_page(config, monkeypatch, PAGES[1])
    assert "autovacuum is off for this table" in frames_text(maintenance)
    assert maintenance.metric[1].value == "1"  # tables needing vacuum
    assert "no forecast yet" in texts(maintenance).lower()

    indexes = open_page(config, monkeypatch, PAGES[2])
    found = frames_text(indexes)
    for expected in ("public.ledger_balance_key", "public.ledger_balance_copy", "invalid",
                     "duplicate", "unused"):
        assert expected in found, expected
    assert "DROP INDEX CONCURRENTLY public.ledger_balance_key;" in texts(indexes)
    assert "hypopg is not installed" in texts(indexes)


@pytest.mark.parametrize("script", PAGES)
def test_a_target_never_collected_says_so(pg_cluster: LocalCluster, fresh_store: str,
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          script: str) -> None:
    config = write_config(tmp_path / "k.toml", fresh_store, monitor_dsn(pg_cluster))
    at = open_page(config, monkeypatch, script)
    assert "is `kasho-ops collect` running?" in texts(at)


def test_an_unreachable_store_is_one_redacted_line(pg_cluster: LocalCluster, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    store = f"host=127.0.0.1 port={free_port()} dbname=kasho_ops user=u password=hunter2"
    config = write_config(tmp_path / "k.toml", store, monitor_dsn(pg_cluster))
    # Each read waits out the pool's wait for a session before its one direct attempt says
    # why: a shorter wait gives the same line sooner.
    monkeypatch.setattr(dashboard_store, "CONNECT_TIMEOUT_SECONDS", 1)
    for script in PAGES:
        at = open_page(config, monkeypatch, script)
        (error,) = at.error
        message = shown(error.value)
        assert "Cannot read the metrics store" in message
        assert "hunter2" not in message and "password=***" in message
