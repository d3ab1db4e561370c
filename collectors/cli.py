"""The `kasho-ops` command: migrate, collect, dashboard, catalog, demo.

Every expected failure (bad config, unreachable server, dirty migrations) ends as one line
on stderr and a non-zero exit code; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from collectors.core.config import Config, load_config
from collectors.core.errors import ConfigError, KashoOpsError
from collectors.core.metric_groups import load_catalog
from collectors.core.redact import redact

log = logging.getLogger("kasho-ops")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("apscheduler", "psycopg.pool"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not verbose else logging.INFO)


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config, known_groups=set(load_catalog()))


# -- migrate ---------------------------------------------------------------------------------

def cmd_migrate(args: argparse.Namespace) -> int:
    from collectors.migrate import MigrationRunner

    url = args.database_url or os.environ.get("DATABASE_URL")
    if not url:
        try:
            url = _config(args).store.dsn.reveal()
        except ConfigError as exc:
            raise ConfigError(f"no database given: pass --database-url, set DATABASE_URL, or "
                              f"configure [store] dsn ({exc})") from None
    runner = MigrationRunner(url, args.set)
    if args.action == "version":
        print(runner.version().describe())
    elif args.action == "up":
        applied = runner.up(args.steps)
        print(f"{args.set}: applied {', '.join(map(str, applied))}" if applied
              else f"{args.set}: no change, at {runner.version().describe()}")
    elif args.action == "down":
        steps = None if args.all else (args.steps or 1)
        reverted = runner.down(steps)
        print(f"{args.set}: reverted {', '.join(map(str, reverted))}" if reverted
              else f"{args.set}: no change, nothing applied")
    elif args.action == "force":
        if args.steps is None:
            raise KashoOpsError("force needs a version: kasho-ops migrate force V --set "
                                f"{args.set} (-1 for none)")
        runner.force(args.steps)
        print(f"{args.set}: forced to version {args.steps}, dirty cleared")
    return 0


# -- collect ---------------------------------------------------------------------------------

def cmd_collect(args: argparse.Namespace) -> int:
    from collectors.core.scheduler import Collector
    from collectors.core.store import MetricStore

    config = _config(args)
    if not config.targets:
        raise ConfigError(f"{config.source}: no [[targets]] configured; add one with name and dsn")
    catalog = load_catalog()
    groups = [catalog[name] for name in args.group] if args.group else list(catalog.values())
    store = MetricStore(config.store.dsn)
    store.open()
    collector = Collector(config, groups, store)
    try:
        if args.once:
            collector.maintain()
            records = collector.run_once()
            for record in records:
                status = "ok" if record.error is None else f"FAILED: {record.error}"
                print(f"{record.target:<20} {record.metric_group:<20} "
                      f"{record.rows_written:>6} rows {record.duration_ms:>8.1f} ms  {status}")
                if record.note:
                    print(f"{'':<20} {'':<20} note: {record.note}")
            failed = sum(1 for r in records if r.error)
            print(f"{len(records) - failed} ok, {failed} failed")
            return 1 if failed else 0
        log.info("collecting %d groups from %d targets into %s", len(groups),
                 len(config.targets), config.store.display_dsn)
        scheduler = collector.build_scheduler()
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        try:
            scheduler.start()
        except KeyboardInterrupt:
            log.info("stopping: waiting for running collections to finish")
            scheduler.shutdown(wait=True)
        return 0
    finally:
        collector.close()
        store.close()


def _stop_on_sigterm(signum: int, frame: object) -> None:
    # A service manager's stop is a Ctrl-C: finish running jobs, flush the store, exit 0.
    raise KeyboardInterrupt


def _group_name(value: str) -> str:
    if value not in load_catalog():
        raise argparse.ArgumentTypeError(
            f"no metric group {value!r}; see `kasho-ops catalog` for the list")
    return value


# -- dashboard -------------------------------------------------------------------------------

def cmd_dashboard(args: argparse.Namespace) -> int:
    from collectors.dashboard_server import streamlit_argv, streamlit_env, write_auth_secrets

    config = _config(args)
    port = args.port or config.dashboard.port
    argv = streamlit_argv(config, port, write_auth_secrets(config))
    print(f"dashboard listening on {config.dashboard.address}:{port} (sign-in: "
          f"{config.auth.mode})", flush=True)
    os.execvpe(argv[0], argv, streamlit_env(config))
    return 0  # not reached


# -- doctor ----------------------------------------------------------------------------------

def cmd_doctor(args: argparse.Namespace) -> int:
    from collectors.core.probe import probe_target

    config = _config(args)
    names = [args.target] if args.target else [t.name for t in config.targets]
    if not names:
        raise ConfigError(f"{config.source}: no [[targets]] configured; add one with name and dsn")
    all_ok = True
    for name in names:
        result = probe_target(config, name)
        broken = [f for f in result.findings if not f.ok]
        all_ok = all_ok and result.ok
        print(f"{name}: {len(result.findings) - len(broken)} of {len(result.findings)} work")
        for finding in broken:
            print(f"  {finding.subject}: {finding.problem}\n    fix: {finding.fix}")
    return 0 if all_ok else 1


# -- audit -----------------------------------------------------------------------------------

def cmd_audit(args: argparse.Namespace) -> int:
    from collectors.audit_export import audit_rows, parse_since

    config = _config(args)
    since = parse_since(args.since)
    for row in audit_rows(config.store.dashboard_dsn, since, args.kind):
        print(row, flush=False)
    sys.stdout.flush()
    return 0


# -- catalog ---------------------------------------------------------------------------------

def cmd_catalog(args: argparse.Namespace) -> int:
    groups = list(load_catalog().values())
    width = max(len("group"), *(len(g.name) for g in groups))
    print(f"{'group':<{width}}  {'kind':<8} {'every':>6}  {'versions':<10} description")
    for group in groups:
        versions = ",".join(f"{major}+" for major, _ in group.sql_by_major)
        print(f"{group.name:<{width}}  {group.kind:<8} {group.interval_seconds:>5}s  "
              f"{versions:<10} {group.description}")
    return 0


# -- demo ------------------------------------------------------------------------------------

def cmd_demo(args: argparse.Namespace) -> int:
    from demo.run import run_demo

    return run_demo(port=args.port, reset=args.reset, scale=args.scale)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="config file (default: $KASHO_OPS_CONFIG or "
                                         "./kasho-ops.toml)")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser = argparse.ArgumentParser(prog="kasho-ops", description="PostgreSQL operations "
                                     "dashboard and collectors for the Kasho database.")
    sub = parser.add_subparsers(dest="command", required=True)

    migrate = sub.add_parser("migrate", parents=[common], help="apply schema migrations "
                             "(golang-migrate compatible)")
    migrate.add_argument("action", choices=["up", "down", "version", "force"])
    migrate.add_argument("steps", nargs="?", type=int,
                         help="up/down: number of migrations; force: the version (-1 for none)")
    migrate.add_argument("--set", required=True, choices=["kasho", "monitoring"],
                         help="kasho: the application schema; monitoring: the metrics store")
    migrate.add_argument("--database-url", help="libpq URL or DSN (default: $DATABASE_URL, "
                                                "then the config's [store] dsn)")
    migrate.add_argument("--all", action="store_true", help="down: revert every migration")
    migrate.set_defaults(func=cmd_migrate)

    collect = sub.add_parser("collect", parents=[common], help="run the collectors")
    collect.add_argument("--once", action="store_true", help="run every group once and exit; "
                         "exit code 1 if any failed")
    collect.add_argument("--group", action="append", type=_group_name,
                         help="only this group (repeatable)")
    collect.set_defaults(func=cmd_collect)

    dashboard = sub.add_parser("dashboard", parents=[common], help="serve the dashboard")
    dashboard.add_argument("--port", type=int, help="port (default: [dashboard] port, 8501)")
    dashboard.set_defaults(func=cmd_dashboard)

    doctor = sub.add_parser("doctor", parents=[common], help="setup check: what cannot be "
                            "collected on each target, and the fix; exit 1 if anything")
    doctor.add_argument("--target", help="only this target")
    doctor.set_defaults(func=cmd_doctor)

    audit = sub.add_parser("audit", parents=[common], help="print the audit trail (sign-ins, "
                           "actions, EXPLAINs) as JSON lines, oldest first")
    audit.add_argument("--since", required=True,
                       help="ISO time (2026-05-01T00:00Z) or an age: 30m, 24h, 7d")
    audit.add_argument("--kind", action="append", choices=["sign_in", "dba_action", "explain"],
                       help="only this kind (repeatable)")
    audit.set_defaults(func=cmd_audit)

    catalog = sub.add_parser("catalog", parents=[common], help="list the metric groups")
    catalog.set_defaults(func=cmd_catalog)

    demo = sub.add_parser("demo", parents=[common], help="local PostgreSQL with demo data, "
                          "live workload, collectors and dashboard")
    demo.add_argument("--port", type=int, default=8501, help="dashboard port (default 8501)")
    demo.add_argument("--reset", action="store_true", help="delete the demo cluster first")
    demo.add_argument("--scale", type=float, default=1.0,
                      help="data size factor (1.0 = 10k users, 1M transactions)")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        return int(args.func(args))
    except KashoOpsError as exc:
        print(f"kasho-ops: error: {redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
