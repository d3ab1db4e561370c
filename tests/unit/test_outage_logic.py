"""The bookkeeping behind outages, without a server: the target circuit breaker, the log lines
it writes, and the store writer's order, bound and sorting of failures (issue 7, §2-§3)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest

from collectors.core.config import parse_config
from collectors.core.durations import format_duration
from collectors.core.errors import NoAnswer
from collectors.core.metric_groups import load_catalog
from collectors.core.scheduler import Collector, TargetHealthBook
from collectors.core.store import Batch, RunRecord
from collectors.core.store_writer import StoreWriter, failure_kind

NOW = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0 s"), (45.4, "45 s"), (130, "2 min 10 s"), (3 * 3600 + 300, "3 h 5 min"),
    (2 * 86400 + 4 * 3600, "2 d 4 h"), (-12.0, "0 s")])
def test_durations_read_like_a_person_wrote_them_and_are_never_negative(
        seconds: float, shown: str) -> None:
    assert format_duration(seconds) == shown


def test_the_retry_time_counts_from_when_the_failed_attempt_ended() -> None:
    book = TargetHealthBook(base=10.0, cap=10.0, seed=1)
    assert book.admit("t", now=0.0) is False  # up: every run goes
    book.record("t", "t: no answer", unreachable=True, probe=False, now=50.0)  # a 50 s attempt
    retry_at = book.get("t").retry_at
    assert 50.0 <= retry_at <= 60.0
    assert book.admit("t", now=50.1) is None  # skipped, not another 50 s attempt
    assert book.admit("t", now=retry_at) is True  # the probe
    assert book.admit("t", now=retry_at + 1) is None  # one probe at a time
    assert book.get("t").skipped == 2


def test_one_line_when_an_outage_starts_and_one_when_it_ends(
        caplog: pytest.LogCaptureFixture) -> None:
    book = TargetHealthBook(base=1.0, cap=1.0, seed=2)
    with caplog.at_level(logging.INFO, logger="collectors.core.scheduler"):
        book.admit("t", now=0.0)
        book.admit("t", now=0.0)
        # Two runs that were in flight fail together: one outage, one failure.
        book.record("t", "target t: no answer from the server in 5 s", True, False, now=5.0)
        book.record("t", "target t: no answer from the server in 5 s", True, False, now=5.1)
        for now in range(6, 100):
            probe = book.admit("t", now=float(now))
            if probe:
                book.record("t", "target t: no answer from the server in 5 s", True, True,
                            now=now + 5.0)
        probe_time = book.get("t").retry_at + 1
        assert book.admit("t", now=probe_time) is True
        book.record("t", None, unreachable=False, probe=True, now=probe_time + 0.2)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == ("target t: no answer from the server in 5 s; retrying with backoff "
                        "(one line per outage, another when it ends)")
    failed, skipped = book.get("t").failures, book.get("t").skipped
    assert (failed, skipped) == (0, 0)  # reset for the next outage
    assert len(lines) == 2
    assert lines[1].startswith("target t is reachable again after 1 min ")
    assert "failed attempts" in lines[1] and "runs skipped" in lines[1]


def test_a_run_admitted_before_the_outage_that_succeeds_does_not_end_it() -> None:
    book = TargetHealthBook(base=100.0, cap=100.0, seed=3)
    book.admit("t", now=0.0)
    book.record("t", "down", True, False, now=1.0)
    book.record("t", None, False, False, now=2.0)  # admitted while up, finished late
    assert book.get("t").is_down


class FakeStore:
    def __init__(self) -> None:
        self.written: list[RunRecord | None] = []

    def write(self, batches: Sequence[Batch], run: RunRecord | None = None,
              guard: object = None) -> None:
        self.written.append(run)


def collector() -> Collector:
    config = parse_config({"store": {"dsn": "host=a"}, "targets": [{"name": "t",
                                                                     "dsn": "host=a"}]},
                          environ={}, known_groups=set(load_catalog()))
    return Collector(config, [load_catalog()["connections"]], FakeStore())  # type: ignore[arg-type]


def record(error: str | None) -> RunRecord:
    return RunRecord(NOW, "t", "connections", 1.0, 0, error)


def test_a_repeating_run_error_is_logged_once_and_its_end_once(
        caplog: pytest.LogCaptureFixture) -> None:
    c = collector()
    group, target = c.groups[0], c.config.targets[0]
    with caplog.at_level(logging.INFO, logger="collectors.core.scheduler"):
        for error in ["lock timeout", "lock timeout", "lock timeout", "permission denied",
                      None, None]:
            c._log_failure(group, target, record(error))
    assert [r.getMessage() for r in caplog.records] == [
        "lock timeout (logged once while it repeats)",
        "permission denied (logged once while it repeats)",
        "connections on t works again after 4 failed runs"]


def test_a_bug_in_a_run_is_its_error_and_never_escapes(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    c = collector()

    def broken(*args: object) -> RunRecord:
        raise KeyError("datname")

    monkeypatch.setattr(c.engine, "run", broken)
    with caplog.at_level(logging.ERROR, logger="collectors.core.scheduler"):
        first = c.collect(c.groups[0], c.config.targets[0])
        c.collect(c.groups[0], c.config.targets[0])
    assert first.error == "connections on t: internal error: KeyError: 'datname'"
    assert len(caplog.records) == 1 and caplog.records[0].exc_info  # the traceback, once
    assert [r.error for r in c.store.written] == [first.error] * 2  # type: ignore[attr-defined]


# -- the store writer ------------------------------------------------------------------------

class FakeConn:
    closed = False
    broken = False

    def close(self) -> None:
        self.closed = True


class Guard:
    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.outcomes: list[bool] = []
        self.rejection = "moved"

    def apply(self, conn: object) -> bool:
        return self.accept

    def settled(self, committed: bool) -> None:
        self.outcomes.append(committed)


class ScriptedStore:
    """write_unit for a StoreWriter: records what it wrote, fails while `failure` is set."""

    def __init__(self) -> None:
        self.failure: BaseException | None = None
        self.written: list[str] = []
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.gate.set()

    def connect(self) -> Any:
        if isinstance(self.failure, NoAnswer):
            raise self.failure
        return FakeConn()

    def write_unit(self, conn: Any, batches: Sequence[Batch], run: RunRecord | None,
                   guard: Any) -> bool:
        self.gate.wait(10)
        if self.failure is not None:
            raise self.failure
        if guard is not None and not guard.apply(conn):
            return False
        with self.lock:
            self.written.append(run.metric_group if run else batches[0].table)
        return True


def run(name: str, error: str | None = None) -> RunRecord:
    return RunRecord(NOW, "t", name, 1.0, 1, error)


def rows(n: int) -> list[Batch]:
    return [Batch("connections", ("x",), tuple((i,) for i in range(n)), date(2031, 1, 2))]


def test_units_are_written_in_order_and_after_an_outage_plain_ones_newest_first(
        caplog: pytest.LogCaptureFixture) -> None:
    store = ScriptedStore()
    writer = StoreWriter(store.connect, store.write_unit, max_rows=1000)
    writer.start()
    try:
        store.gate.clear()  # hold the writer on its first unit
        for name in ("a", "b", "c"):
            writer.submit(rows(1), run(name))
        store.gate.set()
        assert writer.flush(10)
        assert store.written == ["a", "b", "c"]
        with caplog.at_level(logging.WARNING, logger="collectors.core.store"):
            store.failure = NoAnswer(2, "metrics store")
            guards = [Guard(), Guard()]
            writer.submit(rows(1), run("d"))
            assert not writer.flush(1.5)  # down: kept, retried with backoff
            writer.submit(rows(1), run("g1"), guards[0])
            writer.submit(rows(1), run("e"))
            writer.submit(rows(1), run("g2"), guards[1])
            writer.submit(rows(1), run("f"))
            store.failure = None
            assert writer.flush(15)
        # "d", the oldest, is the retry that finds the store back; then the backlog's plain
        # units newest first, then the guarded ones in their order.
        assert store.written[3:] == ["d", "f", "e", "g1", "g2"]
        assert [g.outcomes for g in guards] == [[True], [True]]  # a baseline chain, in order
        messages = [r.getMessage() for r in caplog.records]
        assert messages[0].startswith("metrics store unavailable (no answer from the server "
                                      "in 2 s (metrics store))")
        assert messages[1].startswith("metrics store is back after ")
        assert len(messages) == 2
    finally:
        writer.close(5)


def test_a_guarded_unit_that_meets_a_store_down_keeps_only_its_run_record() -> None:
    store = ScriptedStore()
    writer = StoreWriter(store.connect, store.write_unit)
    writer.start()
    try:
        store.failure = psycopg.OperationalError("connection refused")
        guard = Guard()
        unit = writer.submit(rows(3), run("query_stats"), guard)
        assert unit.tried.wait(10)
        assert guard.outcomes == [False]  # the next run recomputes from the stored baseline
        store.failure = None
        assert writer.flush(15)
        assert store.written == ["query_stats"]  # the run record alone
    finally:
        writer.close(5)


def test_the_buffer_is_bounded_oldest_dropped_and_counted() -> None:
    store = ScriptedStore()
    writer = StoreWriter(store.connect, store.write_unit, max_rows=10)
    writer.start()
    try:
        store.failure = psycopg.OperationalError("connection refused")
        guard = Guard()
        writer.submit(rows(4), run("oldest"), guard)  # 5 rows with its run record
        for name in ("b", "c", "d"):
            writer.submit(rows(4), run(name))
        store.failure = None
        assert writer.flush(15)
        assert writer.stats.rows_dropped >= 5
        assert "oldest" not in store.written and "d" in store.written
        assert guard.outcomes == [False]
    finally:
        writer.close(5)


def test_a_refused_write_is_the_runs_error_counted_and_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    store = ScriptedStore()
    recorded: list[RunRecord | None] = []

    def write_unit(conn: Any, batches: Sequence[Batch], run: RunRecord | None,
                   guard: Any) -> bool:
        if batches:
            raise psycopg.errors.InvalidTextRepresentation(
                'invalid input syntax for type integer: "lots"')
        recorded.append(run)
        return True

    writer = StoreWriter(store.connect, write_unit)
    writer.start()
    try:
        with caplog.at_level(logging.ERROR, logger="collectors.core.store"):
            for _ in range(3):
                writer.submit(rows(2), run("connection_limits"))
            assert writer.flush(10)
    finally:
        writer.close(5)
    assert writer.stats.rows_rejected == 6
    assert [r.error if r else None for r in recorded] == [
        "the store refused this run's rows: invalid input syntax for type integer: \"…\" "
        "(SQLSTATE 22P02)"] * 3
    assert [r.rows_written if r else None for r in recorded] == [0, 0, 0]
    assert len(caplog.records) == 1


@pytest.mark.parametrize(("exc", "kind"), [
    (NoAnswer(31, "metrics store"), "down"),
    (psycopg.OperationalError("connection refused"), "down"),
    (psycopg.errors.AdminShutdown("terminating connection"), "down"),
    (psycopg.errors.DiskFull("no space left"), "down"),
    (psycopg.errors.ReadOnlySqlTransaction("read-only"), "down"),
    (psycopg.errors.QueryCanceled("statement timeout"), "retry"),
    (psycopg.errors.LockNotAvailable("lock timeout"), "retry"),
    (psycopg.errors.DeadlockDetected("deadlock"), "retry"),
    (psycopg.errors.UndefinedTable("no such table"), "refused"),
    (psycopg.errors.NotNullViolation("null"), "refused"),
    (psycopg.errors.NumericValueOutOfRange("out of range"), "refused"),
    (TypeError("cannot dump"), "refused"),
])
def test_failures_are_sorted_into_store_down_retry_and_refused(exc: BaseException,
                                                               kind: str) -> None:
    assert failure_kind(exc) == kind
