"""/metrics served by the collector: parsed by prometheus_client's own text parser, with
postgres_exporter's names where they overlap, kasho_ops_* for the rest and the alert states;
served from memory, so a scrape still answers (with the last values) while the monitored
server is down."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from demo.cluster import LocalCluster
from tests.conftest import MONITOR_ROLE
from tests.integration.alert_setup import alerting_collector, collect, oncall_config
from tests.integration.collector_setup import monitor_dsn, write_config_file
from tests.pg import free_port, held_sessions

pytestmark = pytest.mark.single_major  # store reads and rules, the same on every major
TARGET = "kasho-primary"
GROUPS = ["connections", "connection_limits", "database_stats", "database_size",
          "transaction_ages", "server_state", "lock_waits"]


def scrape(port: int) -> tuple[str, dict[str, list[tuple[dict[str, str], float]]]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = response.read().decode()
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return text, samples


def value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str,
          **labels: str) -> float:
    found = [v for got, v in samples.get(name, []) if labels.items() <= got.items()]
    assert len(found) == 1, f"{name}{labels}: {found} in {sorted(samples)}"
    return found[0]


@pytest.fixture
def own_cluster() -> Iterator[LocalCluster]:
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-metrics-"))
    cluster = LocalCluster(base, free_port())
    cluster.start()
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {MONITOR_ROLE} LOGIN")
        conn.execute(f"GRANT pg_monitor TO {MONITOR_ROLE}")
        conn.execute('CREATE DATABASE "odd ""name"" db"')
    yield cluster
    cluster.destroy()
    shutil.rmtree(base, ignore_errors=True)


def test_metrics_parse_with_exporter_names_alert_states_and_survive_an_outage(
        own_cluster: LocalCluster, fresh_store: str) -> None:
    port = free_port()
    config = oncall_config(fresh_store, {TARGET: monitor_dsn(own_cluster)},
                           {"rules": {"connection_use": {"warning": 1, "for": "0s"}}},
                           metrics={"listen": f"127.0.0.1:{port}"})
    with alerting_collector(config, GROUPS) as (collector, _):
        with held_sessions(own_cluster.dsn(), 3):
            collect(collector, *GROUPS)
            with psycopg.connect(own_cluster.dsn(), autocommit=True) as conn:
                for _ in range(5):
                    conn.execute("SELECT 1")
            collect(collector, "database_stats", "connections")
            text, samples = scrape(port)
        assert value(samples, "pg_up", target=TARGET) == 1
        assert value(samples, "pg_settings_max_connections", target=TARGET) == 100
        assert value(samples, "pg_stat_activity_count", target=TARGET, datname="postgres",
                     state="idle", usename="postgres", application_name="kasho-test") == 3
        commits = value(samples, "pg_stat_database_xact_commit_total", target=TARGET,
                        datname="postgres")
        assert commits > 5
        assert value(samples, "pg_database_size_bytes", target=TARGET,
                     datname='odd "name" db') > 1_000_000
        assert value(samples, "pg_replication_is_replica", target=TARGET) == 0
        assert value(samples, "pg_postmaster_start_time_seconds", target=TARGET) > 1.7e9
        assert value(samples, "kasho_ops_connection_limits_client_connections",
                     target=TARGET) >= 4
        assert value(samples, "kasho_ops_collector_run_failed", target=TARGET,
                     group="database_stats") == 0
        assert value(samples, "kasho_ops_alert_state", target=TARGET, rule="connection_use",
                     instance="", severity="warning", state="firing") == 1
        assert value(samples, "kasho_ops_alert_value", target=TARGET,
                     rule="connection_use") >= 1
        # The label value with quotes is escaped in the text itself.
        assert 'datname="odd \\"name\\" db"' in text

        own_cluster.stop()
        _, during_outage = scrape(port)  # answered from memory, no server to ask
        assert value(during_outage, "pg_stat_database_xact_commit_total", target=TARGET,
                     datname="postgres") == commits
        collect_down = collector.collect(
            {g.name: g for g in collector.groups}["connection_limits"], config.targets[0])
        assert collect_down.target_unreachable
        _, after = scrape(port)
        assert value(after, "pg_up", target=TARGET) == 0


def test_the_collector_service_serves_metrics(pg_cluster: LocalCluster, fresh_store: str,
                                              tmp_path: Path) -> None:
    port = free_port()
    config = write_config_file(
        tmp_path / "k.toml", fresh_store, {TARGET: monitor_dsn(pg_cluster)},
        extra=f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n')
    service = subprocess.Popen([sys.executable, "-m", "collectors.cli", "collect", "--config",
                                str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                _, samples = scrape(port)
                if samples.get("pg_up") and samples.get("pg_settings_max_connections"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the collector did not serve /metrics"
            assert service.poll() is None, service.communicate()[0]
            time.sleep(0.5)
        assert value(samples, "pg_up", target=TARGET) == 1
    finally:
        service.send_signal(signal.SIGTERM)
        output = service.communicate(timeout=60)[0]
    assert service.returncode == 0, output
    assert f"serving /metrics on http://127.0.0.1:{port}/metrics" in output
