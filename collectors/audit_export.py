"""`kasho-ops audit --since …`: the audit trail (kasho_ops.audit_log: sign-ins, cancel and
terminate, EXPLAIN, exact bloat, index advice, silences and acknowledgements, restore drills) as
JSON lines, oldest first, for a SIEM. Read with the store's read role."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.rows import dict_row

from collectors.core.connections import describe_error
from collectors.core.errors import ConfigError, StoreUnavailable
from collectors.core.redact import Secret, redact

# Every kind of row in kasho_ops.audit_log (migration 0079), with its name on the /audit page.
AUDIT_KINDS = {
    "sign_in": "sign-in",
    "dba_action": "cancel / terminate",
    "explain": "EXPLAIN",
    "exact_bloat": "exact bloat",
    "index_advice": "index advice",
    "alert": "silence / acknowledge",
    "restore_drill": "restore drill",
}
AGE = re.compile(r"^(\d+)\s*(s|m|min|h|d)$")
UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """An age (30m, 24h, 7d) or an ISO 8601 time (UTC when it has no offset)."""
    text = value.strip()
    match = AGE.match(text)
    if match:
        return (now or datetime.now(UTC)) - timedelta(
            seconds=int(match.group(1)) * UNIT_SECONDS[match.group(2)])
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--since {value!r} is neither an age (30m, 24h, 7d) nor an ISO "
                          "time (2026-05-01T00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def audit_rows(dsn: Secret, since: datetime, kinds: Sequence[str] | None) -> Iterator[str]:
    """One JSON object per audit row at or after `since`."""
    try:
        with psycopg.connect(dsn.reveal(), application_name="kasho-ops-audit-export",
                             connect_timeout=5, autocommit=True,
                             options="-c default_transaction_read_only=on "
                                     "-c statement_timeout=60000") as conn:
            cursor = conn.cursor(row_factory=dict_row).execute(
                "SELECT at, kind, actor, actor_role, target, action, outcome, detail "
                "FROM kasho_ops.audit_log WHERE at >= %(since)s "
                "AND (%(kinds)s::text[] IS NULL OR kind = ANY(%(kinds)s)) ORDER BY at, kind",
                {"since": since, "kinds": list(kinds) if kinds else None})
            for row in cursor:
                row["at"] = row["at"].astimezone(UTC).isoformat()
                yield json.dumps(row, ensure_ascii=False)
    except psycopg.Error as exc:
        raise StoreUnavailable(f"cannot read the audit trail from the metrics store "
                               f"({redact(dsn.reveal())}): {describe_error(exc)}") from None
