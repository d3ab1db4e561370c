"""Incremental groups (pure): the window each run reads, and the catalogue's validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collectors.core.errors import KashoOpsError
from collectors.core.incremental import IncrementalSpec, Window, describe, next_window
from collectors.core.metric_groups import load_group

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SPEC = IncrementalSpec(settle_seconds=30, backfill_seconds=8 * 86_400,
                       max_window_seconds=2 * 86_400)
SETTLED = NOW - timedelta(seconds=30)


def test_a_first_run_starts_backfill_seconds_back_and_reads_at_most_one_window() -> None:
    window = next_window(None, NOW, SPEC)
    assert window == Window(SETTLED - timedelta(days=8), SETTLED - timedelta(days=6),
                            catching_up=True)
    assert describe(window, None) == "first run: read back to 2026-02-22 11:59:30 UTC"


def test_the_next_run_starts_exactly_at_the_watermark_and_stops_short_of_now() -> None:
    previous = NOW - timedelta(minutes=1, seconds=30)
    window = next_window(previous, NOW, SPEC)
    assert window == Window(previous, SETTLED)
    assert window.params() == {"since": previous, "until": SETTLED}
    assert describe(window, previous) is None
    behind = next_window(NOW - timedelta(days=5), NOW, SPEC)
    assert behind is not None and behind.until == NOW - timedelta(days=3)
    assert describe(behind, NOW - timedelta(days=5)) == \
        "catching up: read to 2026-02-27 12:00:00 UTC"


def test_nothing_to_read_when_nothing_settled_since_the_watermark() -> None:
    assert next_window(SETTLED, NOW, SPEC) is None
    assert next_window(NOW, NOW, SPEC) is None  # the server's clock went back
    assert describe(None, SETTLED) == "nothing settled since the previous run"


@pytest.mark.parametrize(("raw", "message"), [
    ({"settle_seconds": -1}, "incremental.settle_seconds must be a whole number >= 0"),
    ({"backfill_seconds": 0}, "incremental.backfill_seconds must be a whole number >= 1"),
    ({"max_window_seconds": 1.5}, "incremental.max_window_seconds must be a whole number"),
    ({"lag": 3}, "incremental has unknown keys lag"),
    ("yes", "incremental must be true or a table"),
])
def test_bad_incremental_specs_name_the_key(raw: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IncrementalSpec.parse(raw)
    assert IncrementalSpec.parse(True) == IncrementalSpec()


def group(tmp_path: Path, sql: str, **spec: object) -> object:
    (tmp_path / "g").mkdir(exist_ok=True)
    (tmp_path / "g" / "13.sql").write_text(sql)
    return load_group("g", {"kind": "gauge", "interval_seconds": 60, "keys": [], **spec},
                      tmp_path)


def test_the_catalogue_checks_incremental_sql_and_connections(tmp_path: Path) -> None:
    windowed = "SELECT 1 FROM t WHERE c > %(since)s AND c <= %(until)s"
    loaded = group(tmp_path, windowed, incremental={"settle_seconds": 5},
                   connection="business")
    assert loaded.incremental == IncrementalSpec(settle_seconds=5)  # type: ignore[attr-defined]
    assert loaded.connection == "business"  # type: ignore[attr-defined]
    with pytest.raises(KashoOpsError, match=r"13\.sql must read its window as %\(since\)s"):
        group(tmp_path, "SELECT 1 FROM t WHERE c > %(since)s", incremental=True)
    with pytest.raises(KashoOpsError, match="binds %\\(since\\)s but the group is not incremental"):
        group(tmp_path, windowed)
    with pytest.raises(KashoOpsError, match="incremental groups are gauges"):
        group(tmp_path, windowed, incremental=True, kind="counter", counters=["c"])
    with pytest.raises(KashoOpsError, match="connection must be one of monitoring, business"):
        group(tmp_path, "SELECT 1", connection="superuser")
