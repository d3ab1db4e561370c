"""Counter baselines in the store: each counter group's last raw sample per target.

The next run's deltas start from the stored baseline, whichever process runs next, so a
restart, a crash or `collect --once` from cron loses no interval. Two tables
(migration 0030): `counter_baselines` holds one row per (target, group) with the server's
clock at the read, its start time and the counter order; `counter_baseline_series` holds one
row per series with its reset marker and counter values as a compact JSON array. Each run
rewrites only the series that changed (a busy pg_stat_statements with thousands of idle
entries writes a few rows per cycle); a first run, a server restart or a changed definition
writes the baseline in full.

The write is conditional and happens in the same store transaction as the run's rows: it
applies only if the stored baseline is still the one the run started from (compare-and-set
on its `taken_at`; a first baseline only if none is stored). A process that lost a race, or
is stale, has its rows discarded with the transaction: it can never overwrite a newer
baseline or store an interval twice, and its next run starts from the stored baseline.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import psycopg

from collectors.core.deltas import Baseline, CounterValue, Key, SeriesState

log = logging.getLogger(__name__)

LOAD_SQL = """
    SELECT b.taken_at, b.server_started_at, b.counters, s.series, s.state
    FROM kasho_ops.counter_baselines b
    LEFT JOIN kasho_ops.counter_baseline_series s USING (target, metric_group)
    WHERE b.target = %s AND b.metric_group = %s"""

ADVANCE_SQL = """
    UPDATE kasho_ops.counter_baselines
    SET taken_at = %(taken_at)s, server_started_at = %(started)s, counters = %(counters)s,
        series_count = %(count)s, written_at = now()
    WHERE target = %(target)s AND metric_group = %(group)s AND taken_at = %(expected)s"""

FIRST_SQL = """
    INSERT INTO kasho_ops.counter_baselines
        (target, metric_group, taken_at, server_started_at, counters, series_count, written_at)
    VALUES (%(target)s, %(group)s, %(taken_at)s, %(started)s, %(counters)s, %(count)s, now())
    ON CONFLICT (target, metric_group) DO NOTHING
    RETURNING 1"""

UPSERT_SERIES_SQL = """
    INSERT INTO kasho_ops.counter_baseline_series AS s (target, metric_group, series, state)
    SELECT %(target)s, %(group)s, u.series, u.state
    FROM unnest(%(series)s::text[], %(states)s::text[]) AS u(series, state)
    ON CONFLICT (target, metric_group, series) DO UPDATE SET state = excluded.state"""

DELETE_SERIES_SQL = """
    DELETE FROM kasho_ops.counter_baseline_series
    WHERE target = %(target)s AND metric_group = %(group)s AND series = ANY(%(series)s::text[])"""

CLEAR_SERIES_SQL = """
    DELETE FROM kasho_ops.counter_baseline_series
    WHERE target = %(target)s AND metric_group = %(group)s"""


class BaselineDecodeError(ValueError):
    """A stored baseline this version cannot read: the run starts a new one."""


# -- encoding --------------------------------------------------------------------------------

def encode_key(key: Key) -> str:
    return json.dumps(list(key), separators=(",", ":"))


def decode_key(text: str) -> Key:
    return tuple(json.loads(text))


def encode_state(state: SeriesState) -> str:
    """[marker, value, ...]: ints and floats as JSON numbers (a float keeps its point or
    exponent, so it comes back a float), exact decimals as strings."""
    values = [str(v) if isinstance(v, Decimal) else v for v in state.values]
    return json.dumps([state.marker, *values], separators=(",", ":"), allow_nan=False)


def decode_state(text: str) -> SeriesState:
    decoded = json.loads(text)
    if not isinstance(decoded, list) or not decoded:
        raise BaselineDecodeError(f"not a series state: {text[:80]!r}")
    marker, *values = decoded
    return SeriesState(marker, tuple(_decode_value(v) for v in values))


def _decode_value(value: Any) -> CounterValue:
    if isinstance(value, str):
        return Decimal(value)
    if value is None or isinstance(value, int | float):
        return value
    raise BaselineDecodeError(f"not a counter value: {value!r}")


# -- reading ---------------------------------------------------------------------------------

def load_baseline(conn: psycopg.Connection[Any], target: str, group: str) -> Baseline | None:
    """The stored baseline of a group on a target, or None if there is none yet.

    A baseline this version cannot decode comes back without series or counters, so the
    run replaces it (by compare-and-set like any other) instead of failing forever."""
    rows = conn.execute(LOAD_SQL, [target, group]).fetchall()
    if not rows:
        return None
    taken_at, started, counters = rows[0][0], rows[0][1], tuple(rows[0][2])
    try:
        series = {decode_key(row[3]): decode_state(row[4]) for row in rows if row[3] is not None}
        if any(len(state.values) != len(counters) for state in series.values()):
            raise BaselineDecodeError("a stored series does not match the stored counters")
    except (ValueError, TypeError) as exc:
        log.warning("%s on %s: the stored counter baseline cannot be read (%s); taking a new "
                    "one", group, target, exc)
        return Baseline(taken_at, started, (), {})
    return Baseline(taken_at, started, counters, series)


# -- writing ---------------------------------------------------------------------------------

class BaselineUpdate:
    """The new baseline of one run, written in the run's store transaction if still valid.

    Implements the store's guarded-state protocol: `apply` writes it and says whether it
    was accepted; `settled` is told once whether the run's rows and the baseline were
    committed, and passes that on to `on_settled`."""

    def __init__(self, target: str, group: str, previous: Baseline | None, new: Baseline,
                 changed: Mapping[Key, SeriesState], vanished: list[Key], full: bool,
                 on_settled: Callable[[BaselineUpdate, bool], None] | None = None) -> None:
        self.target = target
        self.group = group
        self.previous = previous
        self.new = new
        self.changed = changed
        self.vanished = vanished
        self.full = full or previous is None
        self.on_settled = on_settled
        self.outcome: bool | None = None  # committed with the rows; None until settled
        self.refused = False  # apply() found the stored baseline moved
        self._settle_lock = threading.Lock()

    @property
    def rejection(self) -> str:
        return (f"counter baseline of {self.group} on {self.target} moved since this run read "
                "it (another collector stored this interval first); this run's rows were "
                "discarded")

    def apply(self, conn: psycopg.Connection[Any]) -> bool:
        params: dict[str, Any] = {"target": self.target, "group": self.group,
                                  "taken_at": self.new.taken_at,
                                  "started": self.new.server_started_at,
                                  "counters": list(self.new.counters),
                                  "count": len(self.new.series)}
        if self.previous is None:
            if conn.execute(FIRST_SQL, params).fetchone() is None:
                self.refused = True
                return False
        else:
            advanced = conn.execute(ADVANCE_SQL, {**params,
                                                  "expected": self.previous.taken_at})
            if advanced.rowcount != 1:
                self.refused = True
                return False
        if self.full:
            if self.previous is not None:
                conn.execute(CLEAR_SERIES_SQL, params)
            self._copy_series(conn, self.new.series)
            return True
        if self.changed:
            conn.execute(UPSERT_SERIES_SQL, {
                **params, "series": [encode_key(k) for k in self.changed],
                "states": [encode_state(s) for s in self.changed.values()]})
        if self.vanished:
            conn.execute(DELETE_SERIES_SQL, {**params,
                                             "series": [encode_key(k) for k in self.vanished]})
        return True

    def _copy_series(self, conn: psycopg.Connection[Any],
                     series: Mapping[Key, SeriesState]) -> None:
        statement = ("COPY kasho_ops.counter_baseline_series (target, metric_group, series, "
                     "state) FROM STDIN")
        with conn.cursor().copy(statement) as copy:
            for key, state in series.items():
                copy.write_row((self.target, self.group, encode_key(key), encode_state(state)))

    def settled(self, committed: bool) -> None:
        with self._settle_lock:
            if self.outcome is not None:
                return
            self.outcome = committed
        if self.on_settled is not None:
            self.on_settled(self, committed)
