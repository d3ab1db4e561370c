"""Leases in the store, round by round: fair shares, no target held twice, expired leases
claimed, a clean stop handing everything over."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import psycopg
import pytest

from collectors.core.leases import LeaseKeeper

pytestmark = pytest.mark.single_major  # leases live in the store

TARGETS = [f"t{i}" for i in range(7)]


class FakeClock:
    """Local time for the keepers (the store's own clock decides expiry there)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def connector(dsn: str) -> Callable[[], AbstractContextManager[psycopg.Connection[Any]]]:
    return lambda: psycopg.connect(dsn)


def holders(dsn: str) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT target, collector_id FROM kasho_ops.target_leases "
                                 "WHERE expires_at > now()").fetchall())


def test_targets_are_shared_fairly_and_never_held_twice(fresh_store: str) -> None:
    clock = FakeClock()
    keepers = [LeaseKeeper(connector(fresh_store), TARGETS, 60, f"c{i}", clock)
               for i in range(3)]
    for _ in range(3):  # the first to come takes everything, then gives back the excess
        for keeper in keepers:
            keeper.renew()
    shares = sorted(len(k.held()) for k in keepers)
    assert shares == [2, 2, 3]
    held = [t for k in keepers for t in k.held()]
    assert sorted(held) == TARGETS  # every target once, none twice
    assert holders(fresh_store) == {t: k.collector_id for k in keepers for t in k.held()}

    # c0 stops renewing: locally its leases lapse after lease_seconds ...
    clock.now += 61
    assert keepers[0].held() == []
    # ... and in the store when their expiry passes; the others then share all seven.
    with psycopg.connect(fresh_store) as conn:
        conn.execute("UPDATE kasho_ops.target_leases SET expires_at = now() - interval '1 s' "
                     "WHERE collector_id = 'c0'")
        conn.execute("UPDATE kasho_ops.collectors SET expires_at = now() - interval '1 s' "
                     "WHERE collector_id = 'c0'")
    for _ in range(2):
        for keeper in keepers[1:]:
            keeper.renew()
    assert not set(keepers[1].held()) & set(keepers[2].held())
    assert sorted(len(k.held()) for k in keepers[1:]) == [3, 4]
    assert sorted(t for k in keepers[1:] for t in k.held()) == TARGETS

    keepers[1].release()  # a clean stop: its targets are free at once
    keepers[2].renew()
    assert sorted(keepers[2].held()) == TARGETS
    assert set(holders(fresh_store).values()) == {"c2"}
