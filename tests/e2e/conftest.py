"""Fixtures for the browser tests: a store holding hours of realistic samples, a real
`kasho-ops dashboard` server, and Debian's Chromium driven by playwright."""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import expect

from demo.cluster import LocalCluster
from tests.ci import missing_tool
from tests.conftest import store_copy
from tests.integration.collector_setup import write_config_file
from tests.pg import copy_into_store, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
SEEDED_TARGET = "kasho-primary"
EMPTY_TARGET = "kasho-replica"
HOURS_OF_HISTORY = 7
# database_size collection "stopped" this long ago, so the page must show it stale.
SIZE_COLLECTION_STOPPED = timedelta(minutes=40)
# Most steps on a page wait for store reads and a Streamlit rerun, which on a loaded 2-core
# machine (other suites beside this one) take well over playwright's 5 s default. An
# expectation returns as soon as it holds: the longer limit costs nothing when it passes.
EXPECT_TIMEOUT_MS = 30_000
expect.set_options(timeout=EXPECT_TIMEOUT_MS)


def seed_realistic_store(store_dsn: str, target: str, now: datetime,
                         hours: int = HOURS_OF_HISTORY, seed: int = 7) -> None:
    """Hours of samples shaped like a busy OLTP primary: a morning ramp in traffic, an
    idle-in-transaction episode, a cache-unfriendly report, steady database growth, and
    database_size collection that stopped SIZE_COLLECTION_STOPPED ago."""
    rng = random.Random(seed)
    start = now - timedelta(hours=hours)

    def load(t: datetime) -> float:  # 0..1 traffic shape over the period
        x = (t - start) / (now - start)
        return 0.35 + 0.45 * math.sin(math.pi * x) + 0.08 * math.sin(12 * math.pi * x)

    sizes, runs = [], []
    t = start
    size_stop = now - SIZE_COLLECTION_STOPPED
    while t <= size_stop:
        x = (t - start) / (now - start)
        sizes += [(t, target, "kasho", int(4.21e9 + 1.6e8 * x + rng.uniform(0, 2e6))),
                  (t, target, "kasho_reporting", int(8.6e8 + 3.5e7 * x)),
                  (t, target, "postgres", 7_631_663)]
        runs.append((t, target, "database_size", rng.uniform(40, 90), 3, None))
        t += timedelta(seconds=300)

    connections, limits = [], []
    t = start
    while t <= now:
        level = load(t)
        episode = start + timedelta(hours=hours * 0.55) <= t <= start + timedelta(
            hours=hours * 0.62)
        shape = [
            ("kasho", "kasho_app", "kasho-api", "10.0.1.21", "active",
             max(1, round(22 * level + rng.gauss(0, 2)))),
            ("kasho", "kasho_app", "kasho-api", "10.0.1.21", "idle",
             max(0, round(60 * level + 18 + rng.gauss(0, 3)))),
            ("kasho", "kasho_app", "kasho-worker", "10.0.1.34", "active",
             max(0, round(6 * level + rng.gauss(0, 1)))),
            ("kasho", "kasho_app", "kasho-worker", "10.0.1.34", "idle in transaction",
             (9 + rng.randint(0, 3)) if episode else rng.choice([0, 0, 0, 1])),
            ("kasho_reporting", "reporter", "metabase", "10.0.2.5", "idle",
             8 + rng.randint(0, 2)),
            ("postgres", "kasho_ops_monitor", "kasho-ops", "127.0.0.1", "active", 1),
        ]
        for datname, user, app, addr, state, count in shape:
            if count:
                connections.append((t, target, datname, user, app, addr, state, count,
                                    0, rng.uniform(0, 30)))
        in_use = sum(row[-1] for row in shape)
        limits.append((t, target, 200, 3, in_use))
        for group in ("connections", "connection_limits"):
            runs.append((t, target, group, rng.uniform(2, 9), len(shape), None))
        t += timedelta(seconds=15)

    stats = []
    t = start + timedelta(seconds=60)
    while t <= now:
        level = load(t)
        report = start + timedelta(hours=hours * 0.3) <= t <= start + timedelta(
            hours=hours * 0.36)
        commits = int(60 * (900 * level + rng.gauss(0, 40)))
        rollbacks = int(commits * rng.uniform(0.002, 0.006))
        hits = int(commits * 42)
        reads = int(hits * (0.045 if report else rng.uniform(0.0015, 0.004)))
        stats.append((t, target, 60.0, "kasho", 90, commits, rollbacks, reads, hits,
                      hits * 3, commits * 2, commits // 3, commits // 2, commits // 40,
                      0, 1 if report else 0, 8_388_608 if report else 0, 0, 12.5, 3.1, None))
        stats.append((t, target, 60.0, "kasho_reporting", 9, 120, 0, 400 if report else 10,
                      9_000, 30_000, 2_000, 0, 0, 0, 0, 0, 0, 0, 1.0, 0.0, None))
        runs.append((t, target, "database_stats", rng.uniform(4, 12), 2, None))
        t += timedelta(seconds=60)

    with psycopg.connect(store_dsn, autocommit=True) as conn:
        copy_into_store(conn, "database_size",
                        ("collected_at", "target", "datname", "size_bytes"), sizes)
        copy_into_store(conn, "connections",
                        ("collected_at", "target", "datname", "usename", "application_name",
                         "client_addr", "state", "connections", "waiting_on_lock",
                         "longest_in_state_seconds"), connections)
        copy_into_store(conn, "connection_limits",
                        ("collected_at", "target", "max_connections", "reserved_connections",
                         "client_connections"), limits)
        copy_into_store(conn, "database_stats", (
            "collected_at", "target", "interval_seconds", "datname", "backends", "xact_commit",
            "xact_rollback", "blks_read", "blks_hit", "tup_returned", "tup_fetched",
            "tup_inserted", "tup_updated", "tup_deleted", "conflicts", "temp_files",
            "temp_bytes", "deadlocks", "blk_read_time_ms", "blk_write_time_ms",
            "stats_reset"), stats)
        copy_into_store(conn, "collector_runs", ("started_at", "target", "metric_group",
                                                 "duration_ms", "rows_written", "error"), runs)


# A chart counts as drawn once plotly drew a trace in it (cartesian charts in .cartesianlayer,
# gauges in .indicatorlayer). plotly adds a chart's .main-svg layers, two or more per chart,
# before it draws, so counting those returned before the charts were there.
CHARTS_DRAWN = """wanted => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(plot => plot.querySelector('.cartesianlayer .trace, .indicatorlayer .trace'))
    .length >= wanted"""
# A wait returns as soon as it holds: a long limit costs nothing on a quiet machine.
CHARTS_TIMEOUT_MS = 120_000


def wait_for_charts(page: Any, count: int) -> None:
    """Return once `count` plotly charts on the page (or the file it shows) have drawn."""
    page.wait_for_function(CHARTS_DRAWN, arg=count, timeout=CHARTS_TIMEOUT_MS)


def wait_for_health(base_url: str, process: subprocess.Popen[bytes], log: Path,
                    timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dashboard exited with {process.returncode}: "
                               f"{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(f"dashboard at {base_url} did not become healthy in {timeout:.0f} s")


@pytest.fixture
def seeded_store(fresh_store: str) -> str:
    seed_realistic_store(fresh_store, SEEDED_TARGET, datetime.now(UTC))
    return fresh_store


@pytest.fixture(scope="module")
def module_store(pg_cluster: LocalCluster, store_template: str) -> Iterator[str]:
    """A metrics store for a module whose tests only read it: seeded once, served by one
    dashboard."""
    with store_copy(pg_cluster, store_template) as dsn:
        yield dsn


@pytest.fixture(scope="module")
def module_seeded_store(module_store: str) -> str:
    """`seeded_store` for a module whose tests only read it."""
    seed_realistic_store(module_store, SEEDED_TARGET, datetime.now(UTC))
    return module_store


@contextmanager
def running_dashboard(config: Path, log: Path,
                      extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """A real `kasho-ops dashboard` on a free loopback port; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "KASHO_OPS_CONFIG"}
    env.update(extra_env or {})
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "collectors.cli", "dashboard", "--config", str(config),
             "--port", str(port)], cwd=PROJECT_ROOT, env=env, stdout=output,
            stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base_url, process, log)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def seeded_dashboard(store_dsn: str, directory: Path) -> Iterator[str]:
    """A dashboard on `store_dsn` with SEEDED_TARGET and EMPTY_TARGET configured (their
    servers are never read: the pages show the store); its config and log in `directory`."""
    config = write_config_file(
        directory / "kasho-ops.toml", store_dsn,
        {SEEDED_TARGET: "host=127.0.0.1 dbname=kasho user=kasho_ops_monitor",
         EMPTY_TARGET: "host=127.0.0.1 dbname=kasho user=kasho_ops_monitor"})
    with running_dashboard(config, directory / "dashboard.log") as base_url:
        yield base_url


@pytest.fixture
def dashboard_url(seeded_store: str, tmp_path: Path) -> Iterator[str]:
    """The dashboard serving the seeded store."""
    with seeded_dashboard(seeded_store, tmp_path) as base_url:
        yield base_url


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the browser tests (a launch costs seconds on a loaded
    machine); each test gets a context of its own in it (`chromium_page`)."""
    if not CHROMIUM.exists():
        missing_tool(f"{CHROMIUM} not found: install Debian's chromium package "
                    "(apt-get install chromium) to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def chromium_page(chromium: Any) -> Iterator[Any]:
    """A page in a fresh browser context (no cookies or storage from another test). Request
    it before the dashboard fixtures, so a missing browser skips the test before a server
    starts (in CI it fails it)."""
    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


# A browser test drives a real Streamlit server, a real browser and plotly's asynchronous
# drawing on a shared 2-core machine: one retry absorbs a late paint. A test that fails twice
# fails the run (pytest-rerunfailures reports the rerun).
BROWSER_RERUNS = 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in item.nodeid.replace("\\", "/") or item.nodeid.startswith("e2e/"):
            item.add_marker(pytest.mark.flaky(reruns=BROWSER_RERUNS))
