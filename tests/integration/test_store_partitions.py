"""The store's partition cache follows what was committed, not what was attempted."""

from __future__ import annotations

from datetime import UTC, date, datetime

import psycopg
import pytest

from collectors.core.redact import Secret
from collectors.core.store import Batch, MetricStore

pytestmark = pytest.mark.single_major  # store partitions: plain DDL

DAY = date(2031, 1, 2)  # no partition exists for it yet
COLUMNS = ("collected_at", "target", "datname", "size_bytes")
ROW = (datetime(2031, 1, 2, 12, tzinfo=UTC), "t", "kasho", 42)


def test_a_rolled_back_write_does_not_leave_its_partitions_cached(fresh_store: str) -> None:
    store = MetricStore(Secret(fresh_store))
    store.open()
    try:
        broken = Batch("database_size", ("collected_at", "target", "no_such_column"),
                       ((ROW[0], "t", 1),), DAY)
        with pytest.raises(psycopg.errors.UndefinedColumn):
            store.write_now([Batch("database_size", COLUMNS, (ROW,), DAY), broken])
        store.write_now([Batch("database_size", COLUMNS, (ROW,), DAY)])  # creates it again
    finally:
        store.close()
    with psycopg.connect(fresh_store) as conn:
        assert conn.execute("SELECT count(*) FROM kasho_ops.database_size").fetchone() == (1,)
