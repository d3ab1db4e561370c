"""Share the targets between collector processes through the store: leases, no new
infrastructure.

Each collector has an id (host:pid:random) and renews every `lease_seconds / 3` with one
call of `kasho_ops.balance_leases` (migration 0082): a heartbeat, its leases renewed, its
fair share kept (the shares of the live collectors add up to the targets), unowned or
expired targets claimed.
A collector that dies stops renewing; its leases expire after `lease_seconds` and the others
claim them on their next round, so its targets are taken over within lease_seconds plus one
renewal period (keep that below the shortest interval). Locally a lease counts as held
until `lease_seconds` after the renewal call *started*, never longer than the store's own
expiry, so two collectors never both believe they hold a target. A target newly acquired
starts a new counter baseline here, as its previous holder's in-memory samples are gone;
a target lost closes its connections. A clean stop gives every lease back at once. While the
store cannot be reached, a collector keeps what it held (logged once), so a store outage never
stops collection.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import psycopg

from collectors.core.connections import describe_error
from collectors.core.durations import format_duration
from collectors.core.errors import KashoOpsError

log = logging.getLogger(__name__)


def new_collector_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LeaseKeeper:
    """The targets this collector may collect now, kept current against the store."""

    def __init__(self, connect: Callable[[], Any], targets: Iterable[str], lease_seconds: float,
                 collector_id: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._connect = connect  # a context manager yielding a store connection
        self.targets = sorted(set(targets))
        self.lease_seconds = lease_seconds
        self.collector_id = collector_id or new_collector_id()
        self._clock = clock
        self._held_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._unreachable_since: float | None = None

    @property
    def renew_every_seconds(self) -> float:
        return self.lease_seconds / 3

    def renew(self) -> tuple[set[str], set[str]]:
        """One balancing round; returns the targets acquired in it (new baselines) and those
        lost (their connections can close)."""
        started = self._clock()
        try:
            with self._connect() as conn:
                rows = conn.execute(
                    "SELECT kasho_ops.balance_leases(%s, %s, %s, %s, %s)",
                    [self.collector_id, socket.gethostname(), os.getpid(), self.targets,
                     timedelta(seconds=self.lease_seconds)]).fetchall()
        except (psycopg.Error, KashoOpsError) as exc:
            self._keep_while_unreachable(started, exc)
            return set(), set()
        if self._unreachable_since is not None:
            log.warning("lease renewal works again (the store was unreachable for %s)",
                        format_duration(started - self._unreachable_since))
            self._unreachable_since = None
        held = {row[0] for row in rows}
        until = started + self.lease_seconds
        with self._lock:
            before = {t for t, u in self._held_until.items() if u > started}
            self._held_until = dict.fromkeys(held, until)
        acquired, lost = held - before, before - held
        if acquired or lost:
            log.info("collector %s now collects %d of %d targets (+%d, -%d)",
                     self.collector_id, len(held), len(self.targets), len(acquired), len(lost))
        return acquired, lost

    def _keep_while_unreachable(self, started: float, exc: BaseException) -> None:
        """The store cannot be reached: keep the targets held. Nobody can take them over
        meanwhile (taking over goes through the store), and the writer thread buffers their
        rows; a collector cut off from a store the others still reach collects its targets
        beside their new holder until it reaches the store again. Logged once per outage."""
        with self._lock:
            self._held_until = {target: started + self.lease_seconds
                                for target, until in self._held_until.items() if until > started}
            kept = len(self._held_until)
        if self._unreachable_since is None:
            self._unreachable_since = started
            log.error("lease renewal failed (%s); keeping the %d targets held until the store "
                      "answers again (logged once)", describe_error(exc), kept)

    def holds(self, target: str) -> bool:
        with self._lock:
            return self._held_until.get(target, 0.0) > self._clock()

    def held(self) -> list[str]:
        now = self._clock()
        with self._lock:
            return sorted(t for t, until in self._held_until.items() if until > now)

    def release(self) -> None:
        """Give every lease back (a clean stop): the others take over on their next round."""
        with self._lock:
            self._held_until.clear()
        try:
            with self._connect() as conn:
                conn.execute("SELECT kasho_ops.release_leases(%s)", [self.collector_id])
        except (psycopg.Error, KashoOpsError) as exc:
            log.warning("could not release leases (%s); they expire in %.0f s",
                        type(exc).__name__, self.lease_seconds)
