"""A password in a statement text, after a comment holding an apostrophe, never reaches the
store or a page: through real collection into query_texts, and through the live Activity page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from demo.cluster import LocalCluster
from tests.integration.collector_setup import make_config, monitor_dsn, open_collector
from tests.integration.test_activity_pages import open_page, write_config
from tests.pg import HeldSession

# The comment follows the first keyword: PostgreSQL 18 drops comments before it from
# pg_stat_statements texts, and the apostrophe must reach the store on every major.
LEAKY = "ALTER ROLE bob -- don't log this\nPASSWORD 'hunter2'"


@pytest.fixture
def bob(pg_cluster: LocalCluster) -> Iterator[str]:
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("CREATE ROLE bob")
    yield "bob"
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("DROP ROLE bob")


def everything_shown(at: AppTest) -> str:
    """Every text the page rendered: elements' values and every dataframe cell."""
    parts = [str(e.value) for kind in ("title", "caption", "markdown", "text", "code", "error",
                                       "warning", "info", "success", "metric")
             for e in at.get(kind)]
    parts += [frame.value.to_csv() for frame in at.get("dataframe")]
    return "\n".join(parts)


def test_collected_text_is_stored_masked(pg_cluster: LocalCluster, fresh_store: str,
                                         fresh_database: str, bob: str) -> None:
    collector = open_collector(make_config(fresh_store, {"local": monitor_dsn(pg_cluster)}),
                               ["query_stats"])
    group, target = collector.groups[0], collector.config.targets[0]
    try:
        assert collector.collect(group, target).error is None  # the baseline
        with psycopg.connect(pg_cluster.dsn(fresh_database), autocommit=True) as conn:
            conn.execute(LEAKY)
        assert collector.collect(group, target).error is None
    finally:
        collector.close()
        collector.store.close()
    with psycopg.connect(fresh_store) as conn:
        texts = [r[0] for r in conn.execute("SELECT query FROM kasho_ops.query_texts")]
        dumped = conn.execute("SELECT string_agg(t::text, ' ') FROM kasho_ops.query_texts t"
                              ).fetchone()
    # The comment's apostrophe opens no literal for PostgreSQL; masking hides its rest anyway.
    assert "ALTER ROLE bob -- don'?'\nPASSWORD '?'" in texts
    assert dumped is not None and "hunter2" not in dumped[0]


def test_activity_page_never_shows_it(pg_cluster: LocalCluster, store_dsn: str,
                                      fresh_database: str, bob: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path / "k.toml", store_dsn,
                          monitor_dsn(pg_cluster, fresh_database))
    admin = HeldSession(pg_cluster.dsn(fresh_database), "role-admin")
    try:
        admin.execute(LEAKY)  # now idle, pg_stat_activity.query holds the statement
        at = open_page(config, monkeypatch, "features/activity/page.py")
        at.toggle(key="activity_show_idle").set_value(True).run()
        assert not at.exception, at.exception
        shown = everything_shown(at)
    finally:
        admin.close()
    assert "ALTER ROLE bob PASSWORD '?'" in shown  # the session is listed, masked
    assert "hunter2" not in shown
