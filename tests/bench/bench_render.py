"""Render time of every dashboard page in Chromium with 7 days of stored history: the time
from navigation to the last chart drawn, the dashboard's CPU per page load, and ten
browser sessions loading a page at once.

Run: make bench PYTEST_ARGS="-k render"
 (or: .venv/bin/pytest -m bench -s -p no:cacheprovider tests/bench/bench_render.py)

The store (a cluster of its own) holds 7 days of one busy target at production intervals:
connections, limits and session ages every 15 s, database stats every minute, sizes every
5 minutes, lock waits and an incident, 40 statements in pg_stat_statements every minute with
their hourly and daily rollups, and average active sessions every minute. The target is
the store's own server, so the live Activity page has a server to read.

Measured per page on the 7-day range, each in a new tab of a browser that has loaded the
dashboard before (its cache holds the scripts), after one load that counts the page's
charts (every measurement waits for that many drawn):
  cold   a load just after the window moved (the cache keys change every 30 s, so every
         read and figure misses the cache);
  warm   the median of WARM_LOADS loads after it (reads shared from the cache);
  cpu    the dashboard process's CPU seconds (user + system) per warm load;
  10x    ten users (ten browsers, each warmed by one earlier visit) loading the page at
         once just after the window moved (the cache keys change every 30 s, so every read
         misses once): median and slowest of the ten.
Goals (issue 14): under 1.5 s per page on a quiet machine, under 0.15 s CPU per page load,
ten concurrent sessions under 5 s.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster
from tests.active_sessions_history import seed_active_sessions
from tests.conftest import MONITOR_ROLE
from tests.e2e.activity_history import seed_activity_history
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, seed_realistic_store, wait_for_health
from tests.integration.activity_setup import own_cluster
from tests.integration.collector_setup import write_config_file
from tests.pg import free_port
from tests.query_history import KASHO_STATEMENTS, seed_query_history, tail_statements

pytestmark = pytest.mark.bench
ROOT = Path(__file__).resolve().parents[2]
TARGET = "kasho"
DAYS = 7
PAGES = ("overview", "queries", "connections", "activity", "locks")
RANGE = "7d"
WARM_LOADS = 3
CPU_LOADS = 3
SESSIONS = 10
LOAD_TIMEOUT_MS = 600_000
WINDOW_STEP_SECONDS = 30
STABLE_SECONDS = 6
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Drawn: every plotly chart has its plot layer, and the script is no longer running.
CHARTS_DRAWN = """([wanted]) => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(p => p.querySelector('.cartesianlayer .trace')).length >= wanted
    && !document.querySelector('[data-testid=stStatusWidget]')"""
COUNT_CHARTS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(p => p.querySelector('.cartesianlayer .trace')).length"""


@pytest.fixture(scope="module")
def history_store() -> Iterator[LocalCluster]:
    with own_cluster() as cluster:
        MigrationRunner(cluster.dsn(), "monitoring").up()
        now = datetime.now(UTC)
        clock = time.monotonic()
        seed_realistic_store(cluster.dsn(), TARGET, now, hours=24 * DAYS)
        seed_activity_history(cluster.dsn(), TARGET, now, hours=24 * DAYS)
        statements = seed_query_history(cluster.dsn(), TARGET, now, timedelta(days=DAYS),
                                        [*KASHO_STATEMENTS, *tail_statements(30)])
        sessions = seed_active_sessions(cluster.dsn(), TARGET, now, timedelta(days=DAYS))
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))"
                                ).fetchone()
        print(f"\nseeded {DAYS} days in {time.monotonic() - clock:.0f} s: {statements:,} "
              f"statement rows, {sessions:,} active-session rows, store {size[0] if size else '?'}")
        yield cluster


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def wait_for_window_step() -> None:
    """Sleep to just after the next 30-s window step: every cached read key changes."""
    time.sleep(WINDOW_STEP_SECONDS - time.time() % WINDOW_STEP_SECONDS + 0.5)


async def load_once(browser: object, url: str, wanted: int) -> float:
    """One navigation in a new tab of `browser` (a browser context: its HTTP cache holds the
    dashboard's scripts after the first load, as a returning user's does)."""
    page = await browser.new_page()  # type: ignore[attr-defined]
    try:
        start = time.perf_counter()
        await page.goto(url, wait_until="commit")
        await page.wait_for_function(CHARTS_DRAWN, arg=[wanted], timeout=LOAD_TIMEOUT_MS,
                                     polling=50)
        return time.perf_counter() - start
    finally:
        await page.close()


async def count_charts(browser: object, url: str) -> int:
    """How many charts the page draws: the count once it has held still for STABLE_SECONDS
    with the script finished."""
    page = await browser.new_page()  # type: ignore[attr-defined]
    try:
        await page.goto(url)
        await page.wait_for_function(CHARTS_DRAWN, arg=[1], timeout=LOAD_TIMEOUT_MS)
        count, since = -1, time.monotonic()
        while time.monotonic() - since < STABLE_SECONDS:
            now = int(await page.evaluate(COUNT_CHARTS))
            running = await page.evaluate(
                "() => !!document.querySelector('[data-testid=stStatusWidget]')")
            if now != count or running:
                count, since = now, time.monotonic()
            await page.wait_for_timeout(250)
        return count
    finally:
        await page.close()


async def measure(base_url: str, pid: int) -> list[tuple[str, int, float, float, float, float,
                                                         float]]:
    from playwright.async_api import async_playwright

    results = []
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                    args=CHROMIUM_ARGS)
        browser = await chromium.new_context(viewport={"width": 1600, "height": 1000})
        # Ten users, each with a browser that has loaded the dashboard before.
        users = [await chromium.new_context(viewport={"width": 1600, "height": 1000})
                 for _ in range(SESSIONS)]
        for user in users:
            await load_once(user, f"{base_url}/overview?target={TARGET}&range=1h", 1)
        try:
            for name in PAGES:
                url = f"{base_url}/{name}?target={TARGET}&range={RANGE}"
                wanted = await count_charts(browser, url)
                wait_for_window_step()  # every read and figure misses the cache again
                cold = await load_once(browser, url, wanted)
                warm = [await load_once(browser, url, wanted) for _ in range(WARM_LOADS)]
                before = cpu_seconds(pid)
                for _ in range(CPU_LOADS):
                    await load_once(browser, url, wanted)
                cpu = (cpu_seconds(pid) - before) / CPU_LOADS
                wait_for_window_step()
                concurrent = await asyncio.gather(*(load_once(user, url, wanted)
                                                    for user in users))
                results.append((name, wanted, cold, statistics.median(warm), cpu,
                                statistics.median(concurrent), max(concurrent)))
                print(f"{name}: {results[-1][1:]}", flush=True)
        finally:
            await chromium.close()
    return results


@pytest.mark.timeout(3600)
def test_render_time_of_every_page_with_seven_days_of_history(
        history_store: LocalCluster, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found")
    config = write_config_file(tmp_path / "k.toml", history_store.dsn(),
                               {TARGET: history_store.dsn("postgres", MONITOR_ROLE)})
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "KASHO_OPS_CONFIG"}
    log = tmp_path / "dashboard.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "collectors.cli", "dashboard", "--config", str(config),
             "--port", str(port)], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base_url, process, log)
        results = asyncio.run(measure(base_url, process.pid))
    finally:
        process.terminate()
        process.wait(10)
    lines = [f"{DAYS} days of history, range {RANGE}, Chromium 1600x1000, {os.cpu_count()} "
             f"cores, load average {os.getloadavg()[0]:.1f}",
             f"{'page':<12} {'charts':>6} {'cold s':>7} {'warm s':>7} {'cpu s/load':>10} "
             f"{'10x median s':>12} {'10x max s':>9}"]
    lines += [f"{name:<12} {charts:>6} {cold:>7.2f} {warm:>7.2f} {cpu:>10.3f} "
              f"{median:>12.2f} {slowest:>9.2f}"
              for name, charts, cold, warm, cpu, median, slowest in results]
    report = "\n".join(lines)
    print("\n" + report)
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "bench_render.txt").write_text(report + "\n")
    assert [r[0] for r in results] == list(PAGES)
    assert all(r[1] >= 1 for r in results), "every page draws at least one chart"


@pytest.mark.timeout(3600)
def test_server_side_script_time_of_every_page(history_store: LocalCluster, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard's own share of a page load, without the browser: each page's script
    run in Streamlit's AppTest, cold (just after the window moved: every read and figure
    misses the cache) and warm (the median of WARM_LOADS runs after it)."""
    from streamlit.testing.v1 import AppTest

    config = write_config_file(tmp_path / "k.toml", history_store.dsn(),
                               {TARGET: history_store.dsn("postgres", MONITOR_ROLE)})
    monkeypatch.setenv("KASHO_OPS_CONFIG", str(config))
    results = []
    for name in PAGES:
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=600)
        at.query_params.update({"target": TARGET, "range": "15m"})
        at.run()  # the root page forwards to the Overview
        at.switch_page(f"features/{name}/page.py")
        at.query_params.update({"target": TARGET, "range": RANGE})
        wait_for_window_step()
        start = time.perf_counter()
        at.run()
        cold = time.perf_counter() - start
        assert not at.exception, at.exception
        warm = []
        for _ in range(WARM_LOADS):
            start = time.perf_counter()
            at.run()
            warm.append(time.perf_counter() - start)
        results.append((name, cold, statistics.median(warm)))
    lines = [f"server side (AppTest), {DAYS} days, range {RANGE}, load average "
             f"{os.getloadavg()[0]:.1f}", f"{'page':<12} {'cold s':>7} {'warm s':>7}"]
    lines += [f"{name:<12} {cold:>7.2f} {warm:>7.2f}" for name, cold, warm in results]
    report = "\n".join(lines)
    print("\n" + report)
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "bench_render_server.txt").write_text(report + "\n")
