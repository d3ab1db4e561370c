"""/metrics text (pure): escaping, counters from the raw sample, names and top-N limits."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from collectors.core.baselines import BaselineUpdate
from collectors.core.config import Target
from collectors.core.deltas import Baseline, SeriesState
from collectors.core.engine import GroupRows
from collectors.core.metric_groups import load_catalog
from collectors.core.redact import Secret
from collectors.core.store import RunRecord
from collectors.exporters.prometheus import Family, LatestValues, render

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TARGET = Target("kasho-primary", Secret("host=x"))


def record(group: str, error: str | None = None) -> RunRecord:
    return RunRecord(T0, TARGET.name, group, 12.0, 1, error)


def parsed(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def test_render_escapes_label_values_and_help() -> None:
    family = Family("kasho_ops_x", "gauge", "line one\nline \\ two")
    family.samples[(("datname", 'a"b\\c\nd'), ("target", "t"))] = 1.5
    text = render([family])
    assert '{datname="a\\"b\\\\c\\nd",target="t"} 1.5' in text
    assert parsed(text)["kasho_ops_x"] == [({"datname": 'a"b\\c\nd', "target": "t"}, 1.5)]


def test_counter_groups_export_raw_cumulative_values_and_gauges_their_rows() -> None:
    catalog = load_catalog()
    latest = LatestValues(lambda: 7)
    stats = catalog["database_stats"]
    counters = stats.counters
    raw = {("kasho",): SeriesState("2026-01-01T00:00:00+00:00",
                                   tuple(1000 + i for i in range(len(counters))))}
    update = BaselineUpdate(TARGET.name, "database_stats", None,
                            Baseline(T0, T0, counters, raw), {}, [], True)
    latest.observe(stats, TARGET, GroupRows([{"datname": "kasho", "backends": 4,
                                              "xact_commit": 5, "stats_reset": T0}], 15,
                                            baseline=update), record("database_stats"))
    conns = catalog["connections"]
    rows = [{"datname": "kasho", "usename": "app", "application_name": "api",
             "client_addr": addr, "state": "idle", "connections": n, "waiting_on_lock": 0,
             "longest_in_state_seconds": 1.0} for addr, n in (("127.0.2.1", 2), ("127.0.2.2", 3))]
    latest.observe(conns, TARGET, GroupRows(rows, 15), record("connections"))
    samples = parsed(latest.render())
    assert samples["pg_stat_database_xact_commit_total"] == [
        ({"datname": "kasho", "target": TARGET.name}, 1000.0)]
    assert samples["pg_stat_database_numbackends"] == [
        ({"datname": "kasho", "target": TARGET.name}, 4.0)]
    assert samples["pg_stat_database_stats_reset"][0][1] == T0.timestamp()
    assert samples["pg_stat_activity_count"] == [(
        {"application_name": "api", "datname": "kasho", "state": "idle", "target": TARGET.name,
         "usename": "app"}, 5.0)]
    assert samples["kasho_ops_connections_waiting_on_lock"]  # kept per client address
    assert samples["pg_up"] == [({"target": TARGET.name}, 1.0)]
    assert samples["kasho_ops_store_points_dropped_total"] == [({}, 7.0)]


def test_an_unreachable_target_is_down_and_statements_are_limited_to_the_top() -> None:
    latest = LatestValues()
    groups = load_catalog()
    query_stats = groups["query_stats"]
    def values(q: int) -> tuple[float, ...]:
        named = {"calls": q, "total_exec_time_ms": float(q)}
        return tuple(named.get(c, 0) for c in query_stats.counters)

    series = {(q, 1, 1, True): SeriesState(None, values(q)) for q in range(1, 151)}
    update = BaselineUpdate(TARGET.name, "query_stats", None,
                            Baseline(T0, T0, query_stats.counters, series), {}, [], True)
    latest.observe(query_stats, TARGET, GroupRows([], 15, baseline=update),
                   record("query_stats"))
    latest.observe(groups["connection_limits"], TARGET, None,
                   RunRecord(T0, TARGET.name, "connection_limits", 5.0, 0, "refused",
                             target_unreachable=True))  # the latest word on the target
    samples = parsed(latest.render())
    assert samples["pg_up"] == [({"target": TARGET.name}, 0.0)]
    calls = samples["kasho_ops_query_stats_calls_total"]
    assert len(calls) == 100
    assert min(v for _, v in calls) == 51
