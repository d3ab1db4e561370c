"""The engine: the one place that runs a metric group against a monitored server.

`Engine.run(group, target)` picks the group's SQL for the server's major version, runs it
read-only under the group's timeout, turns counters into deltas (keeping the previous sample
per target and group in memory), writes the rows and a run record to the store, and returns
what happened. A group's text columns (query texts, names) go to its side table once per
text key, never into every row. It never raises for a failed collection: every failure is
a RunRecord.

A sampled group (active_sessions) is read by `Engine.sample` every sample interval into the
target's SampleWindow (collectors/core/sampling.py); its `run` stores the window's averages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from collectors.core.config import CollectorSettings, Target
from collectors.core.connections import QUERY_MARKER, TargetConnections, describe_error
from collectors.core.db import fetch_value
from collectors.core.deltas import Sample, counter_deltas, index_rows
from collectors.core.errors import KashoOpsError, TargetUnavailable
from collectors.core.metric_groups import MetricGroup
from collectors.core.redact import mask_string_literals
from collectors.core.sampling import SampleWindow, window_note
from collectors.core.store import Batch, MetricStore, RunRecord

log = logging.getLogger(__name__)
MAX_REMEMBERED_TEXTS = 200_000


@dataclass(frozen=True)
class GroupRows:
    """What one run read: the rows to store (deltas for counters) and the server facts."""

    rows: list[dict[str, Any]]
    server_major: int
    note: str | None = None


class Engine:
    def __init__(self, settings: CollectorSettings, store: MetricStore | None) -> None:
        self.settings = settings
        self.store = store
        self._connections: dict[str, TargetConnections] = {}
        self._samples: dict[tuple[str, str], Sample] = {}
        self._texts_stored: dict[tuple[str, str], set[tuple[Any, ...]]] = {}
        self._windows: dict[tuple[str, str], SampleWindow] = {}
        self._lock = threading.Lock()

    def connections_for(self, target: Target) -> TargetConnections:
        with self._lock:
            if target.name not in self._connections:
                self._connections[target.name] = TargetConnections(target, self.settings)
            return self._connections[target.name]

    def forget_target(self, target_name: str) -> None:
        """Drop cached samples after a connection error: deltas restart from a new baseline."""
        with self._lock:
            for key in [k for k in self._samples if k[0] == target_name]:
                del self._samples[key]

    def close(self) -> None:
        for connections in self._connections.values():
            connections.close()

    # -- reading ---------------------------------------------------------------------------

    def read(self, group: MetricGroup, target: Target, now: datetime) -> GroupRows:
        """Run the group's SQL on the target and return rows ready for the store."""
        with self.connections_for(target).connection() as conn:
            server_major = conn.info.server_version // 10000
            query = group.sql_for(server_major)
            with conn.transaction():
                if not group.is_sampled:  # a sample is one small query, every second
                    timeout_ms = group.timeout_ms or self.settings.statement_timeout_ms
                    conn.execute("SELECT set_config('statement_timeout', %s, true)",
                                 [str(timeout_ms)])
                rows = conn.cursor(row_factory=dict_row).execute(
                    QUERY_MARKER + query).fetchall()
                started_at = None
                if group.is_counter:
                    started_at = fetch_value(conn, "SELECT pg_postmaster_start_time()")
        if not group.is_counter:
            return GroupRows(rows=rows, server_major=server_major)
        return self._deltas(group, target, now, rows, started_at, server_major)

    def _deltas(self, group: MetricGroup, target: Target, now: datetime,
                rows: list[dict[str, Any]], server_started_at: datetime | None,
                server_major: int) -> GroupRows:
        current = Sample(taken_at=now, server_started_at=server_started_at,
                         rows=index_rows(rows, group.keys))
        with self._lock:
            previous = self._samples.get((target.name, group.name))
            self._samples[(target.name, group.name)] = current
        result = counter_deltas(previous, current, group.counters, group.reset_column,
                                group.only_changed, group.new_from_zero)
        note = None
        if result.baseline_only:
            note = "first sample: baseline taken, deltas from the next run"
        elif result.restarted:
            note = "server restarted since the last sample: new baseline, no deltas this run"
            log.warning("target %s restarted; %s starts a new baseline", target.name, group.name)
        elif result.reset_keys:
            handled = "counted from zero" if group.new_from_zero else "skipped this run"
            note = f"statistics reset for {len(result.reset_keys)} series: {handled}"
        return GroupRows(rows=result.rows, server_major=server_major, note=note)

    def prime(self, group: MetricGroup, target: Target) -> bool:
        """Take a counter group's baseline sample without storing; False if it failed."""
        try:
            self.read(group, target, datetime.now(UTC))
        except (psycopg.Error, KashoOpsError):
            return False
        return True

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
            result = self.read(group, target, taken_at)
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
        window.add(result.rows, taken_at)
        return True

    def _run_sampled(self, group: MetricGroup, target: Target) -> RunRecord:
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
                           rows_written=len(rows), error=window_note(closed))
        if self.store is not None:
            self.store.write([to_batch(group, target.name, started_at, rows)], record)
        return record

    # -- one run ---------------------------------------------------------------------------

    def run(self, group: MetricGroup, target: Target) -> RunRecord:
        if group.is_sampled:
            return self._run_sampled(group, target)
        started_at = datetime.now(UTC)
        clock = time.perf_counter()
        error: str | None = None
        unreachable = False
        rows: list[dict[str, Any]] = []
        try:
            result = self.read(group, target, started_at)
            rows = result.rows
        except TargetUnavailable as exc:
            self.forget_target(target.name)
            error = str(exc)
            unreachable = True
        except psycopg.Error as exc:
            error = (missing_extension_error(group, target, exc)
                     or f"{group.name} on {target.name}: {describe_error(exc)}")
        except KashoOpsError as exc:
            error = str(exc)
        duration_ms = (time.perf_counter() - clock) * 1000
        record = RunRecord(started_at=started_at, target=target.name, metric_group=group.name,
                           duration_ms=duration_ms, rows_written=len(rows), error=error,
                           target_unreachable=unreachable)
        if self.store is not None:
            rows, texts = group.split_texts(rows)
            stored = self._texts_stored.setdefault((target.name, group.name), set())
            if len(stored) > MAX_REMEMBERED_TEXTS:  # the side table's key still dedupes
                stored.clear()
            new_texts = {key: text for key, text in texts.items() if key not in stored}
            batches = [to_batch(group, target.name, started_at, rows)]
            if new_texts:
                batches.append(text_batch(group, target.name, started_at,
                                          list(new_texts.values())))
            self.store.write(batches, record)
            stored.update(new_texts)
        return record


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
               texts: list[Mapping[str, Any]]) -> Batch:
    """The side-table rows of a group's text columns, stored once per text key."""
    columns = ("target", "first_seen_at", *group.text_keys, *group.text_columns)

    def value(text: Mapping[str, Any], column: str) -> Any:
        if column in group.mask_literals_in and isinstance(text[column], str):
            return mask_string_literals(text[column])
        return text[column]

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
