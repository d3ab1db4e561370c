"""The `kasho-ops` command: migrate, collect, config check, restore-drill, dashboard, catalog, demo.

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
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from collectors.core.config import Config, load_config
from collectors.core.errors import ConfigError, KashoOpsError
from collectors.core.metric_groups import load_catalog
from collectors.core.redact import redact

if TYPE_CHECKING:
    from collectors.core.store import MetricStore

log = logging.getLogger("kasho-ops")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# How long `collect --once` waits for the alert evaluations its runs queued.
ALERT_DRAIN_SECONDS = 60.0


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("apscheduler",):
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
    from collectors.alerts.service import OnCall
    from collectors.backups.jobs import add_recovery_jobs, run_recovery_jobs_once
    from collectors.core.scheduler import Collector
    from collectors.core.store import MetricStore

    config = _config(args)
    if not config.targets:
        raise ConfigError(f"{config.source}: no [[targets]] configured; add one with name and dsn")
    catalog = load_catalog()
    groups = [catalog[name] for name in args.group] if args.group else list(catalog.values())
    # --once waits for each run's write, so what it prints is what the store holds.
    store = MetricStore(config.store.dsn, confirm_writes=args.once)
    store.open()
    collector = Collector(config, groups, store)
    oncall: OnCall | None = None
    try:
        oncall = OnCall.attach(collector)
        if args.once:
            collector.maintain()
            records = collector.run_once()
            if not args.group:
                records += run_recovery_jobs_once(store, config, oncall.after_recovery_run)
            oncall.evaluator.drain(ALERT_DRAIN_SECONDS)  # the runs' alerts, then notify
            oncall.deliver()
            for record in records:
                status = "ok" if record.error is None else f"FAILED: {record.error}"
                print(f"{record.target:<20} {record.metric_group:<20} "
                      f"{record.rows_written:>6} rows {record.duration_ms:>8.1f} ms  {status}")
                if record.note:
                    print(f"{'':<20} {'':<20} note: {record.note}")
            failed = sum(1 for r in records if r.error)
            print(f"{len(records) - failed} ok, {failed} failed")
            unwritten = _flush_store(store)
            return 1 if failed or unwritten else 0
        log.info("collecting %d groups from %d targets into %s", len(groups),
                 len(config.targets), config.store.display_dsn)
        scheduler = collector.build_scheduler()
        if not args.group:
            add_recovery_jobs(scheduler, store, config, lambda name: collector.leases is None
                              or collector.leases.holds(name), oncall.after_recovery_run)
        oncall.add_jobs(scheduler)
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        try:
            scheduler.start()
        except KeyboardInterrupt:
            log.info("stopping: waiting for running collections to finish")
            scheduler.shutdown(wait=True)
        return 0
    finally:
        if oncall is not None:
            oncall.close()
        collector.close()
        store.close()


def _flush_store(store: MetricStore, timeout_seconds: float = 60.0) -> int:
    """Wait for the writer thread; print and return how many rows did not reach the store."""
    store.flush(timeout_seconds)
    stats = store.writer.stats
    unwritten = store.pending_rows + stats.rows_dropped + stats.rows_rejected
    if unwritten:
        print(f"metrics store: {store.pending_rows} rows not written (store unavailable), "
              f"{stats.rows_dropped} dropped, {stats.rows_rejected} refused")
    return unwritten


def _stop_on_sigterm(signum: int, frame: object) -> None:
    # A service manager's stop is a Ctrl-C: finish running jobs, flush the store, exit 0.
    raise KeyboardInterrupt


def _group_name(value: str) -> str:
    if value not in load_catalog():
        raise argparse.ArgumentTypeError(
            f"no metric group {value!r}; see `kasho-ops catalog` for the list")
    return value


# -- config ----------------------------------------------------------------------------------

def cmd_config(args: argparse.Namespace) -> int:
    """Validate the config (file and environment) without connecting anywhere."""
    config = _config(args)
    targets = ", ".join(t.name for t in config.targets) or "none"
    print(f"{config.source}: valid; store {config.store.display_dsn}; "
          f"{len(config.targets)} targets ({targets})")
    return 0


# -- restore-drill ---------------------------------------------------------------------------

def cmd_restore_drill(args: argparse.Namespace) -> int:
    from collectors.backups.drill import record_drill, run_drill

    config = _config(args)
    # A service manager's stop (or the demo's) is a Ctrl-C: the scratch copy is removed.
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    result = run_drill(config, config.target(args.target), args.to)
    for check in result.checks:
        print(f"{'ok  ' if check.passed else 'FAIL'} {check.name:<19} {check.detail}")
    if result.error:
        print(f"error: {result.error}")
    record_drill(config.store.dsn, result)
    print(f"restore drill of {result.target} {result.outcome.upper()} in "
          f"{result.duration_seconds:.1f} s (recorded in kasho_ops.restore_drills)")
    return 0 if result.outcome == "passed" else 1


def _utc_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a time; use ISO 8601 such as 2025-01-31T14:05:00Z "
            "(a time without an offset is UTC)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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


# -- check -----------------------------------------------------------------------------------

def cmd_check(args: argparse.Namespace) -> int:
    """A Nagios plugin: one line, exit 0/1/2/3; even a bad config is UNKNOWN (3)."""
    from collectors.exporters.check import CheckResult, run_check

    try:
        config = _config(args)
    except KashoOpsError as exc:
        result = CheckResult(args.action, "UNKNOWN", redact(str(exc)))
    else:
        result = run_check(config, args.target, args.action, args.warning, args.critical,
                           primary=args.primary, use_store=not args.live)
    print(redact(result.line()))
    return result.exit_code


# -- snapshot ----------------------------------------------------------------------------------

def parse_moment(text: str) -> datetime:
    """`now`, or an ISO 8601 time (UTC when it names no zone)."""
    if text.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use ISO 8601 such as 2026-03-01T14:30 (UTC) or "
            "2026-03-01T14:30+01:00, or now") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_snapshot(args: argparse.Namespace) -> int:
    import logging as logging_module
    from dataclasses import replace

    logging_module.getLogger("streamlit").setLevel(logging_module.ERROR)
    from dashboard.features.oncall.snapshot import build_snapshot, snapshot_file_name

    config = _config(args)
    config = replace(config, store=config.store.for_dashboard())
    document = build_snapshot(config, args.target, args.at, args.minutes)
    output = Path(args.output or snapshot_file_name(args.target, args.at))
    try:
        output.write_text(document)
    except OSError as exc:
        raise KashoOpsError(f"cannot write {output}: {exc.strerror}") from None
    print(f"wrote {output} ({len(document) / 1024 / 1024:.1f} MB): {args.target} "
          f"around {args.at:%Y-%m-%d %H:%M} UTC, {args.minutes} min either side")
    return 0


# -- alerts ------------------------------------------------------------------------------------

def cmd_alerts(args: argparse.Namespace) -> int:
    from collectors.alerts.rules import JUDGED_BY, load_rules
    from collectors.alerts.wording import format_duration, format_value

    config = _config(args)
    rules = load_rules(config.alerts.rules, config.alerts.global_params)
    if args.action == "rules":
        width = max(len(name) for name in rules)
        print(f"{'rule':<{width}}  {'on':<3} {'warning':>15} {'critical':>15} {'for':>8}  reads")
        for rule in rules.values():
            def level(value: float | None, unit: str = rule.unit) -> str:
                return "—" if value is None else format_value(unit, value)

            warning, critical = level(rule.warning), level(rule.critical)
            if rule.judged_by is not None:
                warning = critical = f"{JUDGED_BY[rule.judged_by]} sets it"
            print(f"{rule.name:<{width}}  {'yes' if rule.enabled else 'no':<3} "
                  f"{warning:>15} {critical:>15} "
                  f"{format_duration(rule.for_seconds):>8}  {', '.join(rule.reads)}")
        return 0
    import psycopg
    from psycopg import sql

    from collectors.alerts import history
    from collectors.core.connections import describe_error

    where = sql.SQL("a.state <> 'resolved'") if not args.all else sql.SQL(
        "a.state <> 'resolved' OR a.resolved_at > now() - interval '1 day'")
    try:
        with psycopg.connect(config.store.dashboard_dsn.reveal(), connect_timeout=5,
                             autocommit=True, application_name="kasho-ops-alerts") as conn:
            now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
            views = history.alert_views(conn, rules, where, {}, now)
    except psycopg.Error as exc:
        raise KashoOpsError(f"cannot read the alerts from the store: {describe_error(exc)}; "
                            "check [store] dsn") from None
    if not views:
        print("no open alerts" + (" and none resolved in the last day" if args.all else ""))
        return 0
    for view in views:
        notes = [n for n in (f"silenced by #{view.silenced_by}" if view.silenced_by else "",
                             f"acknowledged by {view.acknowledged_by}"
                             if view.acknowledged_by else "") if n]
        since = view.resolved_at or view.firing_since or view.pending_since
        print(f"{view.state:<9} {view.headline}  since {since:%Y-%m-%d %H:%M:%S} UTC"
              + (f"  ({'; '.join(notes)})" if notes else ""))
        print(f"{'':<9} {view.detail}")
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

    config = sub.add_parser("config", parents=[common], help="check the configuration: "
                            "exit 0 if it is valid, 2 with one line saying what is wrong")
    config.add_argument("action", choices=["check"])
    config.set_defaults(func=cmd_config)
    drill = sub.add_parser("restore-drill", parents=[common], help="restore the latest backup "
                           "into a scratch directory, check it, record the result")
    drill.add_argument("--target", required=True, help="a [[targets]] name with a "
                       "pgbackrest_stanza")
    drill.add_argument("--to", type=_utc_time, help="point in time to recover to (ISO 8601; "
                       "UTC without an offset); default: the end of the archived WAL")
    drill.set_defaults(func=cmd_restore_drill)

    dashboard = sub.add_parser("dashboard", parents=[common], help="serve the dashboard")
    dashboard.add_argument("--port", type=int, help="port (default: [dashboard] port, 8501)")
    dashboard.set_defaults(func=cmd_dashboard)

    doctor = sub.add_parser("doctor", parents=[common], help="setup check: what cannot be "
                            "collected on each target, and the fix; exit 1 if anything")
    doctor.add_argument("--target", help="only this target")
    doctor.set_defaults(func=cmd_doctor)

    from collectors.audit_export import AUDIT_KINDS

    audit = sub.add_parser("audit", parents=[common], help="print the audit trail (sign-ins, "
                           "DBA actions, EXPLAINs, silences, restore drills) as JSON lines, "
                           "oldest first")
    audit.add_argument("--since", required=True,
                       help="ISO time (2026-05-01T00:00Z) or an age: 30m, 24h, 7d")
    audit.add_argument("--kind", action="append", choices=list(AUDIT_KINDS),
                       help="only this kind (repeatable)")
    audit.set_defaults(func=cmd_audit)

    from collectors.exporters.check import ACTIONS

    check = sub.add_parser("check", parents=[common], help="Nagios/Icinga check with "
                           "check_postgres' actions and thresholds (exit 0/1/2/3)")
    check.add_argument("--target", required=True, help="the target to check")
    check.add_argument("--check", required=True, choices=ACTIONS, dest="action",
                       metavar="ACTION", help=f"one of: {', '.join(ACTIONS)}")
    check.add_argument("--warning", help="warning threshold, check_postgres syntax")
    check.add_argument("--critical", help="critical threshold, check_postgres syntax")
    check.add_argument("--primary", help="hot_standby_delay: the standby's primary target")
    check.add_argument("--live", action="store_true",
                       help="read the server even where the store could answer")
    check.set_defaults(func=cmd_check)

    snapshot = sub.add_parser("snapshot", parents=[common], help="write one self-contained "
                              "HTML file about a target around a moment (incident ticket)")
    snapshot.add_argument("--target", required=True, help="the target")
    snapshot.add_argument("--at", required=True, type=parse_moment,
                          help="ISO 8601 time (UTC unless it says otherwise), or now")
    snapshot.add_argument("--minutes", type=int, default=30,
                          help="minutes before and after --at (default 30)")
    snapshot.add_argument("--output", help="file to write (default: kasho-ops-snapshot-"
                          "<target>-<time>.html here)")
    snapshot.set_defaults(func=cmd_snapshot)

    alerts = sub.add_parser("alerts", parents=[common], help="the alert rules in force, or "
                            "the open alerts in the store")
    alerts.add_argument("action", choices=["rules", "list"],
                        help="rules: thresholds and durations after the config's overrides; "
                             "list: open alerts (with --all, also those resolved in a day)")
    alerts.add_argument("--all", action="store_true", help="list: include recently resolved")
    alerts.set_defaults(func=cmd_alerts)

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
