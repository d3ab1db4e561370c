"""The engine: the one place that runs a metric group against a monitored server.

`Engine.run(group, target)` picks the group's SQL for the server's major version, runs it
read-only under the group's timeout (as the target's monitoring role, or its business role
for groups with `connection = "business"`), turns counters into deltas, writes the rows and
a run record to the store, and returns what happened. It never raises for a failed
collection: every failure is a RunRecord.

Counter deltas start from the group's baseline on the target: this process's last sample,
or, on its first run, the one kept in the store (`baselines.py`), so a restart or a `collect
--once` from cron continues where the last run of any process stopped. The interval is
measured on the server's own clock, read in the same round trip as the counters. The new
baseline is written with the run's rows in one store transaction, only if the stored one
is still the one the deltas started from: an interval is stored once or not at all.

An incremental group reads only the rows created or updated since its previous run: the
window after its watermark (`incremental.py`), whose end is written with the window's rows
in one store transaction and advanced in memory once written (or buffered).

A group's text columns (query texts, names) go to its side table once per text key, never
into every row. A group with a text query reads them from the server only for keys the side
table does not hold yet; the keys it holds are loaded from the store once per process.

A sampled group (active_sessions) is read by `Engine.sample` every sample interval into the
target's SampleWindow (collectors/core/sampling.py); its `run` stores the window's averages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg import sql

from collectors.core.baselines import BaselineUpdate, load_baseline
from collectors.core.config import CollectorSettings, Target
from collectors.core.connections import TargetConnections, describe_error
from collectors.core.db import fetch_value
from collectors.core.deltas import (
    Baseline,
    DeltaResult,
    Key,
    Sample,
    counter_deltas,
    index_rows,
)
from collectors.core.errors import KashoOpsError, NoAnswer, StoreUnavailable, TargetUnavailable
from collectors.core.host_filesystem import add_filesystem_usage
from collectors.core.incremental import Watermarks, Window, watermark_batch
from collectors.core.metric_groups import MetricGroup
from collectors.core.query_marker import marked
from collectors.core.sampling import SampleWindow, window_note
from collectors.core.sql_parameters import bind
from collectors.core.sqltext import mask_literals
from collectors.core.store import Batch, MetricStore, RunRecord
from collectors.core.target_kinds import ServerRead, kind_for, read_server

__all__ = ["Engine", "GroupRows", "ServerRead", "read_server"]

log = logging.getLogger(__name__)
MAX_REMEMBERED_TEXTS = 200_000
# The engine's own statements besides the groups' SQL, marked as every statement it sends.
SERVER_NOW_SQL = marked("SELECT statement_timestamp()")
EXTENSION_INSTALLED_SQL = marked("SELECT 1 FROM pg_extension WHERE extname = %s").encode()


class BaselineUnavailable(KashoOpsError):
    """The store could not be asked for a counter baseline: the run waits for it."""


@dataclass(frozen=True)
class GroupRows:
    """What one run read: the rows to store (deltas for counters) and the server facts.

    For a group with a text query, `rows` have no text columns and `texts` holds the text
    rows of keys the store has not seen; `baseline` is the counter baseline to store with
    the rows; `collected_at` is the server's clock at the read (counter groups)."""

    rows: list[dict[str, Any]]
    server_major: int
    note: str | None = None
    collected_at: datetime | None = None
    texts: dict[Key, dict[str, Any]] = field(default_factory=dict)
    baseline: BaselineUpdate | None = None
    window: Window | None = None  # what an incremental group read; stored as its watermark


# Told about every run once it is stored (rows None when the run failed): the /metrics
# cache and the alert evaluator. An observer's failure is logged, never a failed run.
RunObserver = Callable[["MetricGroup", Target, "GroupRows | None", RunRecord], None]


class Engine:
    def __init__(self, settings: CollectorSettings, store: MetricStore | None,
                 collector_id: str | None = None) -> None:
        self.settings = settings
        self.store = store
        self.collector_id = collector_id
        self.observers: list[RunObserver] = []
        self._connections: dict[str, TargetConnections] = {}
        self._baselines: dict[tuple[str, str], Baseline] = {}
        self._texts_known: dict[tuple[str, str], set[Key]] = {}
        self._texts_day: date | None = None
        self._windows: dict[tuple[str, str], SampleWindow] = {}
        self._watermarks = Watermarks(store)
        self._lock = threading.Lock()

    def connections_for(self, target: Target, connection: str = "monitoring") -> TargetConnections:
        """The pool of the target's monitoring role, or of its business role (business_dsn)."""
        key = target.name if connection == "monitoring" else f"{target.name}/{connection}"
        with self._lock:
            if key not in self._connections:
                role = target if connection == "monitoring" else target.business()
                if role is None:
                    raise KashoOpsError(f"target {target.name} has no business_dsn: the business "
                                        "groups need a role with SELECT on Kasho's tables "
                                        "(README: business role)")
                self._connections[key] = TargetConnections(role, self.settings,
                                                           kind_for(role).session)
            return self._connections[key]

    def close_target(self, target_name: str) -> None:
        """Close a target's pool and forget its cached baselines: another collector holds
        it now (leases.py), and the store's baseline is the one to continue from."""
        with self._lock:
            pools = [self._connections.pop(key) for key in (target_name, f"{target_name}/business")
                     if key in self._connections]
            for key in [k for k in self._baselines if k[0] == target_name]:
                del self._baselines[key]
        self._watermarks.forget(target_name)
        for connections in pools:
            connections.close()

    def forget_target(self, target_name: str) -> None:
        """Forget a target's cached baselines and watermarks: the next run continues from
        the store's."""
        with self._lock:
            for key in [k for k in self._baselines if k[0] == target_name]:
                del self._baselines[key]
        self._watermarks.forget(target_name)

    def close(self) -> None:
        for connections in self._connections.values():
            connections.close()

    # -- reading ---------------------------------------------------------------------------

    def read(self, group: MetricGroup, target: Target) -> GroupRows:
        """Run the group's SQL on the target and return rows ready for the store.

        Writes and remembers nothing: for a counter group the returned `baseline` is what
        `run` stores with the rows."""
        previous, from_store = (self._previous_baseline(group, target) if group.is_counter
                                else (None, False))
        known = self._known_text_keys(group, target) if group.has_text_query else set()
        # The session already has the default statement_timeout (a startup option).
        timeout_ms = (group.timeout_ms if group.timeout_ms != self.settings.statement_timeout_ms
                      else None)
        # The client-side deadline of the whole read: the server-side limits of its statements.
        statements = 2 if group.has_text_query else 1
        budget_ms = statements * (group.timeout_ms or self.settings.statement_timeout_ms)
        with self.connections_for(target, group.connection).connection(budget_ms) as conn:
            server_major = conn.info.server_version // 10000
            if group.optional and not extension_installed(conn, group.extension or ""):
                return GroupRows(rows=[], server_major=server_major,
                                 note=f"{group.extension} is not installed: skipped")
            params = bind(group.parameters, target, self.settings)
            window, note = None, None
            if group.incremental is not None:
                window, note = self._watermarks.next(
                    target.name, group.name, group.incremental,
                    fetch_value(conn, SERVER_NOW_SQL))
                if window is None:
                    return GroupRows(rows=[], server_major=server_major, note=note)
                read = read_server(conn, group.sql_for(server_major), timeout_ms,
                                   {**(params or {}), **window.params()},
                                   with_clock=group.is_counter)
            else:
                read = kind_for(target).read(conn, group, server_major, timeout_ms, params,
                                             with_clock=group.is_counter)
            rows = read.rows
            if group.host_path_column:
                rows = add_filesystem_usage(rows, group.host_path_column,
                                            target.host_filesystem)
            if not group.is_counter:
                return GroupRows(rows=rows, server_major=server_major, note=note,
                                 window=window)
            assert read.read_at is not None
            sample = Sample(read.read_at, read.server_started_at, index_rows(rows, group.keys))
            result = counter_deltas(previous, sample, group)
            texts: dict[Key, dict[str, Any]] = {}
            if group.has_text_query:
                wanted = unseen_text_keys(group, result.rows, known)
                if wanted:
                    texts = read_texts(conn, group, server_major, timeout_ms, wanted)
        update = None
        if not result.clock_not_advanced:
            update = BaselineUpdate(target.name, group.name, previous, result.baseline,
                                    result.changed, result.vanished, result.replaces_baseline)
        note = describe_deltas(group, result, previous if from_store else None)
        return GroupRows(rows=result.rows, server_major=server_major, note=note,
                         collected_at=sample.taken_at, texts=texts, baseline=update)

    def _previous_baseline(self, group: MetricGroup,
                           target: Target) -> tuple[Baseline | None, bool]:
        """This process's last baseline, else the store's; and whether it came from the store."""
        key = (target.name, group.name)
        with self._lock:
            cached = self._baselines.get(key)
        if cached is not None or self.store is None:
            return cached, False
        try:
            with self.store.connection() as conn, conn.transaction():
                stored = load_baseline(conn, target.name, group.name)
        except (psycopg.Error, NoAnswer, StoreUnavailable) as exc:
            raise BaselineUnavailable(
                f"{group.name} on {target.name}: cannot read the counter baseline from the "
                f"store ({describe_error(exc)}); nothing is lost: the first run after the "
                "store is back covers this interval") from None
        if stored is not None:
            with self._lock:
                self._baselines.setdefault(key, stored)
        return stored, stored is not None

    def _known_text_keys(self, group: MetricGroup, target: Target) -> set[Key]:
        """The text keys the side table holds for this target (loaded once per process)."""
        key = (target.name, group.name)
        with self._lock:
            known = self._texts_known.get(key)
        if known is not None:
            return known
        loaded: set[Key] = set()
        if self.store is not None and group.text_table:
            statement = sql.SQL("SELECT {} FROM {}.{} WHERE target = %s").format(
                sql.SQL(", ").join(map(sql.Identifier, group.text_keys)),
                sql.Identifier("kasho_ops"), sql.Identifier(group.text_table))
            try:
                with self.store.connection() as conn, conn.transaction():
                    loaded = {tuple(row) for row in conn.execute(statement, [target.name])}
            except (psycopg.Error, NoAnswer, StoreUnavailable) as exc:
                raise BaselineUnavailable(
                    f"{group.name} on {target.name}: cannot read the stored text keys from "
                    f"the store ({describe_error(exc)})") from None
        with self._lock:
            return self._texts_known.setdefault(key, loaded)

    # -- sampled groups --------------------------------------------------------------------

    def window_for(self, group: MetricGroup, target: Target) -> SampleWindow:
        with self._lock:
            key = (target.name, group.name)
            if key not in self._windows:
                self._windows[key] = SampleWindow(group.keys, group.averaged)
            return self._windows[key]

    def sample(self, group: MetricGroup, target: Target) -> bool:
        """Take one sample of a sampled group into its window; False if it failed (the
        failure is counted and reported by the window's run)."""
        window = self.window_for(group, target)
        taken_at = datetime.now(UTC)
        try:
            result = self.read(group, target)
        except TargetUnavailable as exc:
            window.add_failure(str(exc), taken_at)
            return False
        except psycopg.Error as exc:
            window.add_failure(f"{group.name} on {target.name}: {describe_error(exc)}",
                               taken_at)
            return False
        except KashoOpsError as exc:
            window.add_failure(str(exc), taken_at)
            return False
        except Exception as exc:  # a bug: the window's run records it; sampling goes on
            window.add_failure(f"{group.name} on {target.name}: internal error: "
                               f"{type(exc).__name__}: {describe_error(exc)}", taken_at)
            return False
        window.add(result.rows, taken_at)
        return True

    def _run_sampled(self, group: MetricGroup, target: Target,
                     lateness_ms: float | None = None) -> RunRecord:
        started_at = datetime.now(UTC)
        clock = time.perf_counter()
        window = self.window_for(group, target)
        if window.samples == 0 and window.failures == 0:
            self.sample(group, target)  # no sampler ran (collect --once): one sample now
        closed = window.close(started_at)
        since = closed.since or started_at
        seconds = max((started_at - since).total_seconds(), float(group.sample_interval_seconds
                                                                   or 1))
        rows = [{**row, "samples": closed.samples, "interval_seconds": seconds}
                for row in closed.rows]
        record = RunRecord(started_at=started_at, target=target.name, metric_group=group.name,
                           duration_ms=(time.perf_counter() - clock) * 1000,
                           rows_written=len(rows), error=window_note(closed),
                           note=f"{closed.samples} samples, {closed.failures} failed"
                           if closed.failures else None,
                           collector_id=self.collector_id, lateness_ms=lateness_ms)
        if self.store is not None:
            self.store.write([to_batch(group, target.name, started_at, rows)], record)
        return record

    # -- one run ---------------------------------------------------------------------------

    def run(self, group: MetricGroup, target: Target,
            lateness_ms: float | None = None) -> RunRecord:
        if group.is_sampled:
            return self._run_sampled(group, target, lateness_ms)
        started_at = datetime.now(UTC)
        if started_at.date() != self._texts_day:
            # Retention prunes texts no kept row refers to (store.maintain): reloading the
            # stored keys once a day lets a statement that comes back get its text again.
            with self._lock:
                self._texts_known.clear()
                self._texts_day = started_at.date()
        clock = time.perf_counter()
        error: str | None = None
        unreachable = False
        result: GroupRows | None = None
        try:
            result = self.read(group, target)
        except TargetUnavailable as exc:
            error = str(exc)
            unreachable = True
        except psycopg.Error as exc:
            error = (missing_extension_error(group, target, exc)
                     or f"{group.name} on {target.name}: {describe_error(exc)}")
        except KashoOpsError as exc:
            error = str(exc)
        duration_ms = (time.perf_counter() - clock) * 1000
        record = RunRecord(started_at=started_at, target=target.name, metric_group=group.name,
                           duration_ms=duration_ms,
                           rows_written=len(result.rows) if result else 0, error=error,
                           target_unreachable=unreachable,
                           note=result.note if result else None,
                           collector_id=self.collector_id, lateness_ms=lateness_ms)
        if result is None:
            if self.store is not None:
                self.store.write([], record)
            self._tell_observers(group, target, None, record)
            return record
        if result.note and (result.baseline is None or result.baseline.full):
            log.info("%s on %s: %s", group.name, target.name, result.note)
        stored = self._store(group, target, started_at, result, record)
        self._tell_observers(group, target, result, stored)
        return stored

    def _tell_observers(self, group: MetricGroup, target: Target, result: GroupRows | None,
                        record: RunRecord) -> None:
        for observer in self.observers:
            try:
                observer(group, target, result, record)
            except Exception:  # an observer's bug must not fail the run
                log.exception("after %s on %s: an observer failed", group.name, target.name)

    def _store(self, group: MetricGroup, target: Target, started_at: datetime,
               result: GroupRows, record: RunRecord) -> RunRecord:
        update = result.baseline
        cache_key = (target.name, group.name)
        if self.store is None:
            if update is not None:
                with self._lock:
                    self._baselines[cache_key] = update.new
            if result.window is not None:
                self._watermarks.advance(target.name, group.name, result.window)
            return record
        collected_at = result.collected_at or started_at
        if group.has_text_query:
            rows, texts = result.rows, result.texts
        else:
            rows, texts = group.split_texts(result.rows)
        known = self._texts_known.setdefault(cache_key, set()) if texts else set()
        if len(known) > MAX_REMEMBERED_TEXTS:  # the side table's key still dedupes
            known.clear()
        new_texts = {key: text for key, text in texts.items() if key not in known}
        batches = [to_batch(group, target.name, collected_at, rows)]
        if new_texts:
            batches.append(text_batch(group, target.name, collected_at,
                                      list(new_texts.values())))
        if result.window is not None:  # in the rows' transaction: both or neither are stored
            batches.append(watermark_batch(target.name, group.name, collected_at,
                                           result.window))
        if update is None:
            self.store.write(batches, record)
            known.update(new_texts)
            if result.window is not None:
                self._watermarks.advance(target.name, group.name, result.window)
            return record

        def settled(settled_update: BaselineUpdate, committed: bool) -> None:
            self._baseline_settled(settled_update, committed)
            if committed:
                known.update(new_texts)

        update.on_settled = settled
        with self._lock:  # optimistic: the next run starts here unless the write fails
            self._baselines[cache_key] = update.new
        self.store.write(batches, record, guard=update)
        if update.refused:
            return replace(record, rows_written=0, error=update.rejection)
        if update.outcome is False:
            return replace(record, rows_written=0)
        return record

    def _baseline_settled(self, update: BaselineUpdate, committed: bool) -> None:
        """A failed write falls back to the baseline it started from; a refused one (another
        process moved the stored baseline) makes the next run read the store's."""
        if committed:
            return
        key = (update.target, update.group)
        with self._lock:
            if update.refused or self._baselines.get(key) is not update.new:
                self._baselines.pop(key, None)
            elif update.previous is not None:
                self._baselines[key] = update.previous
            else:
                self._baselines.pop(key, None)


def unseen_text_keys(group: MetricGroup, rows: Iterable[Mapping[str, Any]],
                     known: set[Key]) -> list[Key]:
    """The text keys of these rows that the side table does not hold, in first-seen order."""
    wanted = dict.fromkeys(tuple(row[k] for k in group.text_keys) for row in rows)
    return [key for key in wanted if key not in known]


def read_texts(conn: psycopg.Connection[Any], group: MetricGroup, server_major: int,
               timeout_ms: int | None, keys: list[Key]) -> dict[Key, dict[str, Any]]:
    """The text rows of these keys from the group's text query (absent keys: no row)."""
    params = {column: [key[i] for key in keys] for i, column in enumerate(group.text_keys)}
    read = read_server(conn, group.text_sql_for(server_major), timeout_ms, params)
    columns = (*group.text_keys, *group.text_columns)
    return {tuple(row[k] for k in group.text_keys): {c: row[c] for c in columns}
            for row in read.rows}


def describe_deltas(group: MetricGroup, result: DeltaResult,
                    stored: Baseline | None) -> str | None:
    """What a counter run says beyond its rows (None when there is nothing to say)."""
    if result.first_sample:
        return "first sample: baseline taken, deltas from the next run"
    if result.restarted:
        return "the server restarted since the last sample: new baseline, no deltas across it"
    if result.definition_changed:
        return "the group's counters changed: new baseline, deltas from the next run"
    if result.clock_not_advanced:
        return ("the server's clock is behind the stored baseline: nothing stored, the "
                "baseline is kept")
    notes = []
    if stored is not None:
        notes.append(f"continued from the stored baseline ({result.interval_seconds:.1f} s)")
    if result.reset_keys:
        handled = "counted from zero" if group.new_from_zero else "skipped this run"
        notes.append(f"statistics reset for {len(result.reset_keys)} series: {handled}")
    if result.clamped_keys:
        notes.append(f"a float counter shrank beyond rounding in {len(result.clamped_keys)} "
                     "series: stored as 0")
    return "; ".join(notes) or None


def extension_installed(conn: psycopg.Connection[Any], extension: str) -> bool:
    """Whether `extension` is installed in the database the session is connected to (a
    transaction of its own, ended before the group's read)."""
    with conn.transaction():
        return conn.execute(EXTENSION_INSTALLED_SQL, [extension]).fetchone() is not None


def missing_extension_error(group: MetricGroup, target: Target,
                            exc: psycopg.Error) -> str | None:
    """One line with the exact fix when the group's extension is missing or not preloaded."""
    if not group.extension:
        return None
    extension = group.extension
    params = target.connect_kwargs()
    dbname = params.get("dbname") or params.get("user") or "the target database"
    preload = f"shared_preload_libraries = '{extension}'"
    create = f"CREATE EXTENSION {extension};"
    if exc.sqlstate in ("42P01", "42883", "42703"):  # undefined table, function, column
        reason = (exc.diag.message_primary or "") if exc.diag else ""
        if f'"{extension}"' not in reason and f" {extension}(" not in reason:
            return (f"{group.name} on {target.name}: the {extension} extension in database "
                    f"{dbname} is older than this definition needs ({reason}): run ALTER "
                    f"EXTENSION {extension} UPDATE; there")
        needs = (f" (postgresql.conf must also have {preload}; adding it needs a restart)"
                 if group.preload_library else "")
        return (f"{group.name} on {target.name}: {extension} is not installed in database "
                f"{dbname}: run {create} there{needs}")
    if exc.sqlstate == "55000" and group.preload_library:  # object_not_in_prerequisite_state
        return (f"{group.name} on {target.name}: {extension} is not preloaded: add {preload} "
                f"to postgresql.conf and restart PostgreSQL ({create} is already done in "
                f"database {dbname})")
    return None


def text_batch(group: MetricGroup, target_name: str, collected_at: datetime,
               texts: Sequence[Mapping[str, Any]]) -> Batch:
    """The side-table rows of a group's text columns, stored once per text key."""
    columns = ("target", "first_seen_at", *group.text_keys, *group.text_columns)

    def value(text: Mapping[str, Any], column: str) -> Any:
        cell = text[column]
        if column in group.mask_literals_in and isinstance(cell, str):
            cell = mask_literals(cell)
        if group.text_max_chars is not None and isinstance(cell, str):
            cell = cell[:group.text_max_chars]  # after masking: never half a literal
        return cell

    values = tuple((target_name, collected_at, *(value(t, c) for c in columns[2:]))
                   for t in texts)
    return Batch(group.text_table or "", columns, values, collected_at.date(), insert_once=True)


def to_batch(group: MetricGroup, target_name: str, collected_at: datetime,
             rows: Sequence[Mapping[str, Any]]) -> Batch:
    if not rows:
        return Batch(group.store_table, (), (), collected_at.date())
    value_columns = tuple(rows[0].keys())
    columns = ("collected_at", "target", *value_columns)
    values = tuple((collected_at, target_name, *(row[c] for c in value_columns)) for row in rows)
    return Batch(group.store_table, columns, values, collected_at.date())
