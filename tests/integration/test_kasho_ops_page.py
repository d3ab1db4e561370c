"""The Kasho Ops page on a store that real collections and a real lease renewal wrote."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from collectors.core.leases import LeaseKeeper
from demo.cluster import LocalCluster
from tests.integration.collector_setup import monitor_dsn, open_collector, write_config_file

pytestmark = pytest.mark.single_major  # the page reads the store

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def test_page_shows_collectors_runs_sizes_retention_and_forecast(
        pg_cluster: LocalCluster, fresh_store: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    config_file = write_config_file(tmp_path / "k.toml", fresh_store,
                                    {"local": monitor_dsn(pg_cluster)},
                                    extra="\n[retention]\nconnections = 9\n")
    from collectors.core.config import load_config
    from collectors.core.metric_groups import load_catalog

    config = load_config(config_file, known_groups=set(load_catalog()))
    collector = open_collector(config, ["connections", "database_size", "query_stats"])
    try:
        keeper = LeaseKeeper(collector.store.connection, ["local"], 30, "test-collector")
        assert keeper.renew() == ({"local"}, set())
        collector.run_once()
    finally:
        collector.close()
        collector.store.close()

    st.cache_data.clear()
    monkeypatch.setenv("KASHO_OPS_CONFIG", str(config_file))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("features/kasho_ops/page.py")
    at.query_params.update({"range": "1h", "target": "local"})
    at.run()
    assert not at.exception, at.exception
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Collectors alive"] == "1"
    assert tiles["Runs failed"] == "0 of 3"
    frames = [df.value for df in at.dataframe]
    live = frames[0]
    assert list(live["collector_id"]) == ["test-collector"] and list(live["targets"]) == [1.0]
    runs = frames[1]
    assert sorted(runs["group"]) == ["connections", "database_size", "query_stats"]
    sizes = frames[2].set_index("table")
    assert sizes.loc["connections", "retention (days)"] == 9  # [retention] in force
    assert sizes.loc["collector_runs", "retention (days)"] == 30
    assert sizes.loc["database_size", "retention (days)"] == 30
    assert len(at.get("plotly_chart")) >= 3  # duration, size per day, forecast
