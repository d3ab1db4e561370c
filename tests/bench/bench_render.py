"""Render time of every dashboard page in Chromium with 7 days of stored history: the time
from navigation to the last chart drawn, the dashboard's CPU per page load, and ten
browser sessions loading a page at once.

Run: make bench PYTEST_ARGS="-k render"
 (or: .venv/bin/pytest -m bench -s -p no:cacheprovider tests/bench/bench_render.py;
  KASHO_OPS_BENCH_PAGES=overview,queries measures only those pages)

The store (a cluster of its own) holds 7 days of one busy target at production intervals:
connections, limits and session ages every 15 s, database stats every minute, sizes every
5 minutes, lock waits and an incident, 40 statements in pg_stat_statements every minute with
their hourly and daily rollups, average active sessions every minute, the storage groups
(collected for real from the target, then grown back 7 days) and an on-call incident. The
target is the store's own server, so the live Activity page has a server to read.

Measured per page on the 7-day range, after one load that counts the page's charts (every
measurement waits for that many drawn, and for the page's script to finish). A user alone
first (tab and nav), then ten users with a tab open each (10x):
  tab cold  a new tab just after the window moved (the cache keys change every 30 s, so
            every read and figure misses the cache), in a browser that has loaded the
            dashboard before (its HTTP cache holds the scripts);
  tab warm  the median of WARM_LOADS new tabs after it (reads shared from the cache);
  nav       the median of WARM_LOADS clicks on the page's sidebar link in a tab already
            showing another page: how a user moves between pages (Streamlit swaps the page
            in place, its scripts and plotly already loaded);
  cpu cold  the dashboard process's CPU seconds (user + system) for the cold tab: what one
            load pays per page and window however many users there are;
  cpu tab / cpu nav   the dashboard process's CPU seconds per warm load;
  10x nav   ten users, each with a dashboard tab open, clicking the page's link at once just
            after the window moved (every read misses once): median and slowest of the ten;
  10x tab   the same ten opening the page in a new tab at once: median.
  served    ten sessions asking for the page at once over Streamlit's own websocket protocol,
            just after the window moved, with no browser: the time from the request to the
            page's script finished (what the dashboard alone takes to serve ten users whose
            browsers run on their own machines), and the dashboard's CPU per session.
The floor row is a two-page Streamlit app (one st.plotly_chart of three points per page,
nothing read) served the same way in the same run: a new tab, ten new tabs at once and ten
users clicking to its other page at once. It is the share that Streamlit's and plotly's own
JavaScript take on this machine, which no page of ours can go below.
Goals (issue 14): under 1.5 s per page on a quiet machine, under 0.15 s CPU per page load,
ten concurrent sessions under 5 s.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collectors.dashboard_server import TUNING
from collectors.migrate import MigrationRunner
from dashboard.navigation import PAGES as PAGE_SPECS
from demo.cluster import LocalCluster
from tests.active_sessions_history import seed_active_sessions
from tests.conftest import MONITOR_ROLE
from tests.e2e.activity_history import seed_activity_history
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, seed_realistic_store, wait_for_health
from tests.e2e.oncall_seed import seed_incident
from tests.integration.activity_setup import own_cluster
from tests.integration.collector_setup import write_config_file
from tests.pg import free_port
from tests.query_history import KASHO_STATEMENTS, seed_query_history, tail_statements
from tests.storage_history import SHAPES, seed_history_before

pytestmark = pytest.mark.bench
ROOT = Path(__file__).resolve().parents[2]
TARGET = "kasho"
DAYS = 7
# Every page, or those named in KASHO_OPS_BENCH_PAGES (comma-separated url paths).
PAGES = tuple(name for name in os.environ.get("KASHO_OPS_BENCH_PAGES", "").split(",") if name
              ) or tuple(spec.url_path for spec in PAGE_SPECS)
# Every page, Audit included: the benchmark's anonymous user is an admin.
AS_ADMIN = '\n[auth]\nmode = "none"\nnone_role = "admin"\n'
HOME = "overview"  # where each user's tab starts before clicking to a page
RANGE = "7d"
WARM_LOADS = 3
SESSIONS = 10
TAB_10X_PAGES = ("overview", "queries")
LOAD_TIMEOUT_MS = 600_000
WINDOW_STEP_SECONDS = 30
STABLE_SECONDS = 6
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SCREENSHOTS = ROOT / "test-artifacts" / "pages"
# The storage groups collected for real, then grown back DAYS (database_size has its own
# seed in seed_realistic_store).
STORAGE_GROUPS = tuple(group for group in SHAPES if group != "database_size")
# Done: the page named `path` is shown (in-app navigation changes the path first), its
# script finished with nothing stale left, and `wanted` charts have their plot layer.
PAGE_DONE = """([path, wanted]) => location.pathname.endsWith('/' + path)
    && !document.querySelector('[data-testid=stStatusWidget]')
    && !document.querySelector('[data-stale=true]')
    && document.querySelectorAll('[data-testid=stMain] .element-container').length > 0
    && [...document.querySelectorAll('.js-plotly-plot')]
        .filter(p => p.querySelector('.cartesianlayer .trace, .indicatorlayer .trace'))
        .length >= wanted"""
COUNT_CHARTS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(p => p.querySelector('.cartesianlayer .trace, .indicatorlayer .trace')).length"""
FLOOR_APP = """import plotly.graph_objects as go
import streamlit as st


def page() -> None:
    st.title("Floor")
    st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])))


st.navigation([st.Page(page, title="One", url_path="one", default=True),
               st.Page(page, title="Two", url_path="two")]).run()
"""


@dataclass
class PageResult:
    name: str
    charts: int
    tab_cold: float
    tab_warm: float
    nav: float
    cpu_cold: float  # the dashboard's CPU for the cold tab: every read and figure made again
    cpu_tab: float
    cpu_nav: float
    browser_tab: float  # the browser's CPU seconds per load, beside the dashboard's
    browser_nav: float
    cpu_10x: float  # the dashboard's and the browser's CPU seconds per session, ten at once
    browser_10x: float
    nav_10x: list[float]
    tab_10x: list[float]


@pytest.fixture(scope="module")
def history_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with own_cluster() as cluster:
        MigrationRunner(cluster.dsn(), "monitoring").up()
        now = datetime.now(UTC)
        clock = time.monotonic()
        seed_realistic_store(cluster.dsn(), TARGET, now, hours=24 * DAYS)
        seed_activity_history(cluster.dsn(), TARGET, now, hours=24 * DAYS)
        statements = seed_query_history(cluster.dsn(), TARGET, now, timedelta(days=DAYS),
                                        [*KASHO_STATEMENTS, *tail_statements(30)])
        sessions = seed_active_sessions(cluster.dsn(), TARGET, now, timedelta(days=DAYS))
        seed_incident(cluster.dsn(), TARGET, now)
        config = write_config_file(tmp_path_factory.mktemp("collect") / "k.toml",
                                   cluster.dsn(),
                                   {TARGET: cluster.dsn("postgres", MONITOR_ROLE)})
        subprocess.run([sys.executable, "-m", "collectors.cli", "collect", "--once",
                        "--config", str(config),
                        *(arg for group in STORAGE_GROUPS for arg in ("--group", group))],
                       cwd=ROOT, check=True, capture_output=True, timeout=600)
        storage_rows = seed_history_before(cluster.dsn(), TARGET, days=DAYS,
                                           groups=STORAGE_GROUPS)
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))"
                                ).fetchone()
        print(f"\nseeded {DAYS} days in {time.monotonic() - clock:.0f} s: {statements:,} "
              f"statement rows, {sessions:,} active-session rows, {storage_rows:,} storage "
              f"rows, store {size[0] if size else '?'}")
        yield cluster


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def descendants(root: int) -> set[int]:
    """Every live process under `root`."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # ended while listed
            children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def browser_cpu_seconds(dashboard_pid: int) -> float:
    """CPU seconds of every process this benchmark started but the dashboard: Chromium, its
    renderers and Playwright's driver. A renderer that ended is counted in its parent's
    reaped-children time, so the sum only grows."""
    total = 0.0
    for pid in descendants(os.getpid()) - {dashboard_pid} - descendants(dashboard_pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(field) for field in fields[11:15]) / CLOCK_TICKS  # u, s, cu, cs
    return total


def wait_for_window_step() -> None:
    """Sleep to just after the next 30-s window step: every cached read key changes."""
    time.sleep(WINDOW_STEP_SECONDS - time.time() % WINDOW_STEP_SECONDS + 0.5)


async def new_tab(browser: Any, url: str, path: str, wanted: int) -> float:
    """Seconds from opening `url` in a new tab of `browser` (a browser context) to the page
    done; the tab is closed after."""
    page = await browser.new_page()
    try:
        start = time.perf_counter()
        await page.goto(url, wait_until="commit")
        await page.wait_for_function(PAGE_DONE, arg=[path, wanted], timeout=LOAD_TIMEOUT_MS,
                                     polling=50)
        return time.perf_counter() - start
    finally:
        await page.close()


async def open_home(browser: Any, base_url: str, path: str = HOME,
                    query: str = f"?target={TARGET}&range={RANGE}") -> Any:
    """A tab left open on page `path` (the HOME page on the 7-day range), every sidebar link
    listed."""
    page = await browser.new_page()
    await page.goto(f"{base_url}/{path}{query}")
    await page.wait_for_function(PAGE_DONE, arg=[path, 1], timeout=LOAD_TIMEOUT_MS)
    more = page.locator("[data-testid=stSidebarNavViewButton]")
    if await more.count() and (await more.inner_text()).startswith("View "):
        await more.click()
        await page.get_by_text("View less").wait_for(timeout=LOAD_TIMEOUT_MS)
    return page


async def navigate(page: Any, path: str, wanted: int) -> float:
    """Seconds from clicking the sidebar link to `path` in an open tab to the page done."""
    link = page.locator(f'[data-testid=stSidebarNav] a[href$="/{path}"]')
    start = time.perf_counter()
    await link.click()
    await page.wait_for_function(PAGE_DONE, arg=[path, wanted], timeout=LOAD_TIMEOUT_MS,
                                 polling=50)
    return time.perf_counter() - start


async def away(page: Any, path: str) -> None:
    """Click to a page other than `path`, so the next click on `path` is a real move."""
    other = HOME if path != HOME else "locks"
    await navigate(page, other, 0)


async def count_charts(browser: Any, url: str, path: str) -> int:
    """How many charts the page draws: the count once it has held still for STABLE_SECONDS
    with the script finished. The page, drawn, is saved to SCREENSHOTS."""
    page = await browser.new_page()
    try:
        await page.goto(url)
        await page.wait_for_function(PAGE_DONE, arg=[path, 0], timeout=LOAD_TIMEOUT_MS)
        count, since = -1, time.monotonic()
        while time.monotonic() - since < STABLE_SECONDS:
            now = int(await page.evaluate(COUNT_CHARTS))
            running = await page.evaluate(
                "() => !!document.querySelector('[data-testid=stStatusWidget]')")
            if now != count or running:
                count, since = now, time.monotonic()
            await page.wait_for_timeout(250)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{path}.png"), full_page=True)
        return count
    finally:
        await page.close()


async def measure_floor(base_url: str) -> tuple[float, float, float]:
    """The floor app: median new-tab time, the median of SESSIONS new tabs at once, and the
    median of SESSIONS users with a tab open clicking to its other page at once."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                    args=CHROMIUM_ARGS)
        try:
            users = [await chromium.new_context(viewport={"width": 1600, "height": 1000})
                     for _ in range(SESSIONS)]
            for user in users:
                await new_tab(user, f"{base_url}/", "", 1)
            warm = [await new_tab(users[0], f"{base_url}/", "", 1)
                    for _ in range(WARM_LOADS)]
            together = await asyncio.gather(*(new_tab(user, f"{base_url}/", "", 1)
                                              for user in users))
            tabs = [await open_home(user, base_url, "", "") for user in users]
            clicks = await asyncio.gather(*(navigate(tab, "two", 1) for tab in tabs))
            return statistics.median(warm), statistics.median(together), statistics.median(clicks)
        finally:
            await chromium.close()


class ProtocolSession:
    """A dashboard session driven over Streamlit's websocket protocol, as the browser drives
    it but with nothing drawn: what the dashboard alone takes to serve a page."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @classmethod
    async def open(cls, base_url: str) -> ProtocolSession:
        import websockets
        from websockets.typing import Origin, Subprotocol

        connection = await websockets.connect(
            base_url.replace("http://", "ws://") + "/_stcore/stream",
            subprotocols=[Subprotocol("streamlit")], origin=Origin(base_url), max_size=None)
        return cls(connection)

    async def show(self, path: str) -> float:
        """Seconds from asking for page `path` (as a sidebar click does) to its script
        finished; fails on a script that raised."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        request = BackMsg()
        request.rerun_script.query_string = f"target={TARGET}&range={RANGE}"
        request.rerun_script.page_name = path
        start = time.perf_counter()
        await self.connection.send(request.SerializeToString())
        while True:
            message = ForwardMsg()
            message.ParseFromString(await self.connection.recv())
            kind = message.WhichOneof("type")
            if kind == "delta" and message.delta.new_element.WhichOneof("type") == "exception":
                raise AssertionError(f"{path}: {message.delta.new_element.exception.message}")
            if kind == "script_finished":
                return time.perf_counter() - start

    async def close(self) -> None:
        await self.connection.close()


async def measure_served(base_url: str, pid: int) -> dict[str, tuple[list[float], float]]:
    """Per page: SESSIONS protocol sessions asking for it at once just after the window
    moved (every read misses once), and the dashboard's CPU per session."""
    sessions = [await ProtocolSession.open(base_url) for _ in range(SESSIONS)]
    try:
        for session in sessions:
            await session.show(HOME)
        served = {}
        for name in PAGES:
            other = HOME if name != HOME else "locks"
            await asyncio.gather(*(session.show(other) for session in sessions))
            wait_for_window_step()
            before = cpu_seconds(pid)
            times = await asyncio.gather(*(session.show(name) for session in sessions))
            served[name] = (list(times), (cpu_seconds(pid) - before) / SESSIONS)
        return served
    finally:
        for session in sessions:
            await session.close()


async def measure(base_url: str, pid: int) -> list[PageResult]:
    """One user first, alone (no other tab open: those refresh every 30 s and would be the
    load), then the ten users with a tab open each."""
    from playwright.async_api import async_playwright

    alone: dict[str, tuple[int, float, float, float, float, float, float, float, float]] = {}
    results = []
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                    args=CHROMIUM_ARGS)
        try:
            browser = await chromium.new_context(viewport={"width": 1600, "height": 1000})
            mine = await open_home(browser, base_url)
            for name in PAGES:
                url = f"{base_url}/{name}?target={TARGET}&range={RANGE}"
                wanted = await count_charts(browser, url, name)
                wait_for_window_step()  # every read and figure misses the cache again
                before = cpu_seconds(pid)
                cold = await new_tab(browser, url, name, wanted)
                cpu_cold = cpu_seconds(pid) - before
                before, browser_before = cpu_seconds(pid), browser_cpu_seconds(pid)
                warm = [await new_tab(browser, url, name, wanted) for _ in range(WARM_LOADS)]
                cpu_tab = (cpu_seconds(pid) - before) / WARM_LOADS
                browser_tab = (browser_cpu_seconds(pid) - browser_before) / WARM_LOADS
                nav, cpu_navs, browser_nav = [], [], 0.0
                for _ in range(WARM_LOADS):
                    await away(mine, name)
                    before, browser_before = cpu_seconds(pid), browser_cpu_seconds(pid)
                    nav.append(await navigate(mine, name, wanted))
                    cpu_navs.append(cpu_seconds(pid) - before)
                    browser_nav += (browser_cpu_seconds(pid) - browser_before) / WARM_LOADS
                alone[name] = (wanted, cold, statistics.median(warm), statistics.median(nav),
                               cpu_cold, cpu_tab, statistics.mean(cpu_navs), browser_tab,
                               browser_nav)
                print(f"{name} alone: {alone[name]}, cpu per click {cpu_navs}", flush=True)
            await mine.close()
            # Ten users, each with a browser that has the dashboard open.
            users = [await chromium.new_context(viewport={"width": 1600, "height": 1000})
                     for _ in range(SESSIONS)]
            tabs = [await open_home(user, base_url) for user in users]
            for name in PAGES:
                url = f"{base_url}/{name}?target={TARGET}&range={RANGE}"
                wanted = alone[name][0]
                await asyncio.gather(*(away(tab, name) for tab in tabs))
                wait_for_window_step()
                before, browser_before = cpu_seconds(pid), browser_cpu_seconds(pid)
                nav_10x = await asyncio.gather(*(navigate(tab, name, wanted) for tab in tabs))
                cpu_10x = (cpu_seconds(pid) - before) / SESSIONS
                browser_10x = (browser_cpu_seconds(pid) - browser_before) / SESSIONS
                # Ten new tabs at once is mostly ten browsers starting Streamlit and plotly:
                # measured where the issue measured it.
                tab_10x = (await asyncio.gather(*(new_tab(user, url, name, wanted)
                                                  for user in users))
                           if name in TAB_10X_PAGES else [math.nan])
                results.append(PageResult(name, *alone[name], cpu_10x, browser_10x,
                                          list(nav_10x), list(tab_10x)))
                print(f"{results[-1]}", flush=True)
        finally:
            await chromium.close()
    return results


def serve(argv: list[str], env: dict[str, str], log: Path, port_option: str = "--port"
          ) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen([*argv, port_option, str(port)], cwd=ROOT, env=env,
                                   stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    wait_for_health(base_url, process, log)
    return process, base_url


@pytest.mark.timeout(7200)
def test_render_time_of_every_page_with_seven_days_of_history(
        history_store: LocalCluster, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found")
    config = write_config_file(tmp_path / "k.toml", history_store.dsn(),
                               {TARGET: history_store.dsn("postgres", MONITOR_ROLE)},
                               extra=AS_ADMIN)
    env = {k: v for k, v in os.environ.items() if k != "KASHO_OPS_CONFIG"}
    floor_app = tmp_path / "floor.py"
    floor_app.write_text(FLOOR_APP)
    tuning = [arg for option, value in TUNING.items() for arg in (f"--{option}", value)]
    floor, floor_url = serve([sys.executable, "-m", "streamlit", "run", str(floor_app),
                              "--server.headless", "true", "--server.address", "127.0.0.1",
                              "--browser.gatherUsageStats", "false", *tuning],
                             env, tmp_path / "floor.log", "--server.port")
    try:
        floor_warm, floor_10x, floor_nav_10x = asyncio.run(measure_floor(floor_url))
        print(f"floor: new tab {floor_warm:.2f} s, ten new tabs at once {floor_10x:.2f} s, "
              f"ten clicks at once {floor_nav_10x:.2f} s", flush=True)
    finally:
        floor.terminate()
        floor.wait(10)
    process, base_url = serve([sys.executable, "-m", "collectors.cli", "dashboard",
                               "--config", str(config)], env, tmp_path / "dashboard.log")
    try:
        results = asyncio.run(measure(base_url, process.pid))
        served = asyncio.run(measure_served(base_url, process.pid))
    finally:
        process.terminate()
        process.wait(10)
    lines = [f"{DAYS} days of history, range {RANGE}, Chromium 1600x1000, {os.cpu_count()} "
             f"cores, load average {os.getloadavg()[0]:.1f} (1 min) at the end",
             "seconds; cpu = the dashboard's CPU per load, brw = the browser's (Chromium and its "
             "renderers) per load; 10x = ten sessions at once, per session; served = ten "
             "sessions at once over Streamlit's protocol, nothing drawn (the dashboard's "
             "share), cpu per session",
             f"{'page':<12} {'charts':>6} {'tab cold':>8} {'tab warm':>8} {'nav':>5} "
             f"{'cpu cold':>8} {'cpu tab':>7} {'brw tab':>7} {'cpu nav':>7} {'brw nav':>7} "
             f"{'10x nav med':>11} {'10x nav max':>11} {'10x cpu':>7} {'10x brw':>7} "
             f"{'10x tab med':>11} {'served med':>10} {'served max':>10} {'srv cpu':>7}",
             f"{'(floor)':<12} {1:>6} {'':>8} {floor_warm:>8.2f} {'':>5} {'':>8} {'':>7} {'':>7} "
             f"{'':>7} {'':>7} {floor_nav_10x:>11.2f} {'':>11} {'':>7} {'':>7} "
             f"{floor_10x:>11.2f}"]
    for r in results:
        served_times, served_cpu = served[r.name]
        lines.append(
            f"{r.name:<12} {r.charts:>6} {r.tab_cold:>8.2f} {r.tab_warm:>8.2f} "
            f"{r.nav:>5.2f} {r.cpu_cold:>8.3f} {r.cpu_tab:>7.3f} {r.browser_tab:>7.3f} "
            f"{r.cpu_nav:>7.3f} "
            f"{r.browser_nav:>7.3f} {statistics.median(r.nav_10x):>11.2f} "
            f"{max(r.nav_10x):>11.2f} {r.cpu_10x:>7.3f} {r.browser_10x:>7.3f} "
            f"{statistics.median(r.tab_10x):>11.2f} {statistics.median(served_times):>10.2f} "
            f"{max(served_times):>10.2f} {served_cpu:>7.3f}")
    report = "\n".join(lines)
    print("\n" + report)
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "bench_render.txt").write_text(report + "\n")
    assert [r.name for r in results] == list(PAGES)
    charted = {r.name for r in results if r.charts >= 1}
    assert {"overview", "queries", "connections", "locks", "storage", "maintenance"} & set(
        PAGES) <= charted


@pytest.mark.timeout(3600)
def test_server_side_script_time_of_every_page(history_store: LocalCluster, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard's own share of a page load, without the browser: each page's script
    run in Streamlit's AppTest, cold (just after the window moved: every read and figure
    misses the cache) and warm (the median of WARM_LOADS runs after it)."""
    from streamlit.testing.v1 import AppTest

    config = write_config_file(tmp_path / "k.toml", history_store.dsn(),
                               {TARGET: history_store.dsn("postgres", MONITOR_ROLE)},
                               extra=AS_ADMIN)
    monkeypatch.setenv("KASHO_OPS_CONFIG", str(config))
    results = []
    for spec in PAGE_SPECS:
        name = spec.url_path
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=600)
        at.query_params.update({"target": TARGET, "range": "15m"})
        at.run()  # the root page forwards to the Overview
        at.switch_page(spec.script_path)
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
