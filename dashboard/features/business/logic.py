"""Business numbers from the store's frames (pure): rates per minute, outcomes and the
failure rate, money per currency (Decimal, never summed across currencies), the pending
backlog, sign-ups, balances, the headline tiles and the correlation series.

A bucket counts only when the collector has read all of it (`covered_buckets`): inside the
read windows a bucket without rows is a true 0; outside them it is unknown and left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd

from collectors.core.sqltext import statement_title
from dashboard.core.units import format_seconds
from dashboard.features.overview.logic import MetricTile

DECIDED = ("completed", "failed")
CREATED = ("created", "created_changed")  # every transaction created, by status as read
# A bucket's failure rate is shown only when this many transactions were decided in it: one
# failure out of two is not a 50 % failure rate anyone should act on.
MIN_DECIDED_FOR_RATE = 10


def business_bucket(bucket_seconds: int) -> int:
    """The page's bucket for business series: whole minutes, at least one."""
    return max(60, bucket_seconds // 60 * 60)


def covered_buckets(windows: pd.DataFrame, start: datetime, end: datetime,
                    bucket: int) -> pd.DatetimeIndex:
    """Buckets of `bucket` seconds in [start, end) that lie wholly inside the read windows
    (window_start, watermark]; windows that touch are merged."""
    first = pd.Timestamp(start).floor(f"{bucket}s")
    candidates = pd.date_range(first, pd.Timestamp(end), freq=f"{bucket}s", inclusive="left")
    if windows.empty or candidates.empty:
        return pd.DatetimeIndex([], tz=UTC, name="bucket")
    merged: list[list[pd.Timestamp]] = []
    for low, high in sorted(zip(pd.to_datetime(windows["window_start"], utc=True),
                                pd.to_datetime(windows["watermark"], utc=True),
                                strict=True)):
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    step = pd.Timedelta(seconds=bucket)
    inside = [b for b in candidates
              if b >= pd.Timestamp(start) and any(lo <= b and b + step <= hi for lo, hi in merged)]
    return pd.DatetimeIndex(inside, name="bucket").tz_convert(UTC)


def _on(frame: pd.DataFrame, covered: pd.DatetimeIndex) -> pd.DataFrame:
    if frame.empty:
        return frame
    stamps = pd.to_datetime(frame["bucket"], utc=True)
    return frame.assign(bucket=stamps)[stamps.isin(covered)]


def _wide(frame: pd.DataFrame, covered: pd.DatetimeIndex, column: str,
          values: str) -> pd.DataFrame:
    """bucket x `column` sums of `values`, every covered bucket present (0 when nothing)."""
    if frame.empty:
        return pd.DataFrame(index=covered)
    wide = frame.pivot_table(index="bucket", columns=column, values=values, aggfunc="sum",
                             fill_value=0)
    return wide.reindex(covered, fill_value=0).rename_axis(index="bucket", columns=None)


def throughput(transactions: pd.DataFrame, covered: pd.DatetimeIndex,
               bucket: int) -> pd.DataFrame:
    """Transactions created per minute, by transaction_type (columns), per covered bucket."""
    created = _on(transactions, covered)
    created = created[created["event"].isin(CREATED)] if not created.empty else created
    wide = _wide(created, covered, "transaction_type", "transactions")
    return wide.astype(float) / (bucket / 60)


def outcomes(transactions: pd.DataFrame, covered: pd.DatetimeIndex) -> pd.DataFrame:
    """Per covered bucket: transactions that reached completed, failed or reversed in it
    (created so, or changed to it later), and the failure rate failed / (completed +
    failed) in % (NaN below MIN_DECIDED_FOR_RATE decided). Each transaction reaches each
    status once."""
    frame = _on(transactions, covered)
    # A transaction's outcome: its status when created if it never changed, else what it
    # changed to ('created_changed' rows are counted by their 'changed' event).
    if not frame.empty:
        frame = frame[frame["event"].isin(("created", "changed"))]
    wide = _wide(frame, covered, "status", "transactions")
    result = pd.DataFrame(index=covered)
    for status in (*DECIDED, "reversed"):
        result[status] = wide[status] if status in wide.columns else 0
    decided = result["completed"] + result["failed"]
    result["failure_rate_percent"] = 100.0 * result["failed"] / decided.where(
        decided >= MIN_DECIDED_FOR_RATE)
    return result


def failure_rate(transactions: pd.DataFrame, covered: pd.DatetimeIndex) -> float | None:
    """failed / (completed + failed) over all covered buckets, in %."""
    decided = outcomes(transactions, covered)
    total = int(decided["completed"].sum() + decided["failed"].sum())
    return 100.0 * int(decided["failed"].sum()) / total if total else None


def status_changes(transactions: pd.DataFrame, covered: pd.DatetimeIndex,
                   bucket: int) -> pd.DataFrame:
    """Transactions per minute whose status changed after creation, by new status."""
    frame = _on(transactions, covered)
    changed = frame[frame["event"] == "changed"] if not frame.empty else frame
    return _wide(changed, covered, "status", "transactions").astype(float) / (bucket / 60)


def volume(transactions: pd.DataFrame, covered: pd.DatetimeIndex,
           currency: str) -> pd.DataFrame:
    """Amount created per covered bucket in one currency, by transaction_type (Decimal)."""
    frame = _on(transactions, covered)
    if frame.empty:
        return pd.DataFrame(index=covered)
    mine = frame[frame["event"].isin(CREATED) & (frame["currency"] == currency)]
    sums = {(b, t): sum(group["amount"], Decimal(0))
            for (b, t), group in mine.groupby(["bucket", "transaction_type"])}
    types = sorted({t for _, t in sums})
    return pd.DataFrame({t: [sums.get((b, t), Decimal(0)) for b in covered] for t in types},
                        index=covered)


def currency_totals(transactions: pd.DataFrame, covered: pd.DatetimeIndex) -> pd.DataFrame:
    """Per currency over the covered buckets, exact: transactions created and their amount;
    transactions that completed or failed (their outcome, as in `outcomes`: when created if
    they never changed, else when they changed) and the amount that completed."""
    columns = ["currency", "created", "amount", "completed", "completed_amount", "failed"]
    frame = _on(transactions, covered)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for currency, group in frame.groupby("currency"):
        created = group[group["event"].isin(CREATED)]
        decided = group[group["event"].isin(("created", "changed"))]
        done = decided[decided["status"] == "completed"]
        rows.append((currency or "(no account)", int(created["transactions"].sum()),
                     sum(created["amount"], Decimal(0)), int(done["transactions"].sum()),
                     sum(done["amount"], Decimal(0)),
                     int(decided[decided["status"] == "failed"]["transactions"].sum())))
    return pd.DataFrame(rows, columns=columns).sort_values(
        "created", ascending=False, kind="mergesort").reset_index(drop=True)


def pending_series(pending: pd.DataFrame) -> pd.DataFrame:
    """Per sample: pending transactions (all currencies) and the oldest one's age."""
    if pending.empty:
        return pd.DataFrame(columns=["transactions", "oldest_age_seconds"])
    total = pending[pending["currency"] == "*"].copy()
    total["collected_at"] = pd.to_datetime(total["collected_at"], utc=True)
    return total.set_index("collected_at")[["transactions", "oldest_age_seconds"]].astype(float)


def pending_now(pending: pd.DataFrame) -> pd.DataFrame:
    """The latest sample per currency: pending transactions, their amount and oldest age."""
    columns = ["currency", "transactions", "amount", "oldest_age_seconds"]
    if pending.empty:
        return pd.DataFrame(columns=columns)
    latest = pending[pending["collected_at"] == pending["collected_at"].max()]
    rows = []
    for currency, group in latest[latest["currency"] != "*"].groupby("currency"):
        rows.append((currency or "(no account)", int(group["transactions"].sum()),
                     sum(group["amount"], Decimal(0)), float(group["oldest_age_seconds"].max())))
    return pd.DataFrame(rows, columns=columns).sort_values(
        "transactions", ascending=False, kind="mergesort").reset_index(drop=True)


def signups_series(signups: pd.DataFrame, covered: pd.DatetimeIndex) -> pd.DataFrame:
    """Per covered bucket: new users, and new accounts per account type (columns)."""
    frame = _on(signups, covered)
    result = pd.DataFrame({"users": 0}, index=covered)
    if frame.empty:
        return result
    users = frame[frame["entity"] == "user"].groupby("bucket")["created"].sum()
    result["users"] = users.reindex(covered, fill_value=0)
    accounts = _wide(frame[frame["entity"] == "account"], covered, "account_type", "created")
    return result.join(accounts.add_prefix("accounts: ")).fillna(0)


@dataclass(frozen=True)
class Panel:
    """One row of the correlation view: its title, unit and series (name -> values)."""

    title: str
    unit: str
    series: dict[str, pd.Series]
    kind: str  # "business", "statements", "locks" or "health": what a click opens


@dataclass(frozen=True)
class BusinessHeadline:
    per_minute: float | None  # transactions created per minute in the latest window
    per_minute_week_ago: float | None  # the same window seven days earlier
    failure_rate_percent: float | None  # in the latest window
    pending: int | None  # at the latest pending sample
    oldest_pending_seconds: float | None
    window_minutes: int


def headline(transactions: pd.DataFrame, covered: pd.DatetimeIndex, week_ago_count: int | None,
             pending: pd.DataFrame, bucket: int, window_minutes: int = 15) -> BusinessHeadline:
    """The latest `window_minutes` of covered buckets (at least one bucket) against the same
    minutes a week earlier (`week_ago_count`: created then; None when not collected)."""
    buckets = max(1, window_minutes * 60 // bucket)
    recent = covered[-buckets:]
    minutes = len(recent) * bucket / 60
    rate = week = failures = None
    if len(recent):
        created = throughput(transactions, recent, bucket).sum(axis=1)
        rate = float(created.mean()) if len(created) else 0.0
        failures = failure_rate(transactions, recent)
        if week_ago_count is not None:
            week = week_ago_count / minutes
    backlog = pending_series(pending)
    count = age = None
    if not backlog.empty:
        count = int(backlog["transactions"].iloc[-1])
        age = float(backlog["oldest_age_seconds"].iloc[-1])
    return BusinessHeadline(rate, week, failures, count, age, int(minutes))


def recent_window(covered: pd.DatetimeIndex, bucket: int,
                  window_minutes: int = 15) -> tuple[datetime, datetime] | None:
    """[start, end) of the buckets `headline` calls the latest window."""
    buckets = max(1, window_minutes * 60 // bucket)
    recent = covered[-buckets:]
    if not len(recent):
        return None
    return (recent[0].to_pydatetime(),
            recent[-1].to_pydatetime() + timedelta(seconds=bucket))


def headline_tiles(h: BusinessHeadline) -> list[MetricTile]:
    """Transactions/min now vs a week ago, failure rate, pending backlog and its age."""
    tiles = []
    if h.per_minute is None:
        tiles.append(MetricTile("Transactions/min", "—",
                                help="No business_transactions read in this range yet"))
    else:
        delta, color = None, "off"
        if h.per_minute_week_ago:
            ratio = h.per_minute / h.per_minute_week_ago
            change = f"×{ratio:,.0f}" if ratio >= 3 else f"{100 * (ratio - 1):+.0f}%"
            delta = f"{change} vs {h.per_minute_week_ago:,.1f} a week ago"
            color = "red" if ratio <= 0.7 else ("orange" if ratio <= 0.9 else "green")
        elif h.per_minute_week_ago is not None:
            delta = "none a week ago"
        else:
            delta = "no data from a week ago"
        tiles.append(MetricTile(
            "Transactions/min", f"{h.per_minute:,.1f}", delta, color,  # type: ignore[arg-type]
            help=f"Transactions created per minute over the latest {h.window_minutes} minutes "
                 "read, against the same minutes seven days earlier"))
    if h.failure_rate_percent is None:
        tiles.append(MetricTile("Failure rate", "—",
                                help="No transaction completed or failed in the latest window"))
    else:
        rate = h.failure_rate_percent
        tiles.append(MetricTile(
            "Failure rate", f"{rate:.1f} %", f"latest {h.window_minutes} min",
            "red" if rate >= 15 else ("orange" if rate >= 8 else "off"),
            help="failed / (completed + failed) among transactions that reached one of them "
                 "in the window (created so, or settled so later)"))
    if h.pending is None:
        tiles.append(MetricTile("Pending backlog", "—", help="No business_pending sample"))
    else:
        age = h.oldest_pending_seconds or 0.0
        tiles.append(MetricTile(
            "Pending backlog", f"{h.pending:,}",
            f"oldest {format_seconds(age)}" if h.pending else "empty",
            "red" if age >= 86_400 else ("orange" if age >= 3600 else "off"),
            help="Transactions pending now (all currencies) and how long the oldest has "
                 "waited; settlement should keep it to minutes"))
    return tiles


def statement_label(text: str) -> str:
    """The sqlc name of a statement (`-- name: CreateTransaction :one`), else its first words
    (the one lexer's title, as on every page)."""
    return statement_title(text).short(32)


def statement_means(statements: pd.DataFrame) -> pd.DataFrame:
    """Mean execution time (ms) per bucket of each statement (columns: its label); buckets
    without calls are gaps."""
    if statements.empty:
        return pd.DataFrame()
    frame = statements.assign(bucket=pd.to_datetime(statements["bucket"], utc=True))
    frame = frame.assign(label=frame["query"].map(statement_label))
    frame = frame.assign(label=_unique_labels(frame))
    sums = frame.pivot_table(index="bucket", columns="label",
                             values=["total_exec_time_ms", "calls"], aggfunc="sum")
    means = sums["total_exec_time_ms"] / sums["calls"].where(sums["calls"] > 0)
    return means.rename_axis(index="bucket", columns=None)


def _unique_labels(frame: pd.DataFrame) -> pd.Series:
    """Labels that tell two statements with one sqlc name apart (CreateTransaction #2)."""
    keys = frame[["queryid", "dbid", "userid"]].apply(tuple, axis=1)
    order = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    seen: dict[str, list[tuple[int, ...]]] = {}
    for key, label in dict(zip(keys, frame["label"], strict=True)).items():
        seen.setdefault(label, []).append(key)
    names = {}
    for label, members in seen.items():
        for index, key in enumerate(sorted(members, key=order.__getitem__)):
            names[key] = label if index == 0 else f"{label} #{index + 1}"
    return keys.map(names)


def statement_keys(statements: pd.DataFrame) -> dict[str, tuple[int, int, int]]:
    """label -> (queryid, dbid, userid), for opening a statement from the chart."""
    if statements.empty:
        return {}
    frame = statements.assign(label=statements["query"].map(statement_label))
    frame = frame.assign(label=_unique_labels(frame))
    return {row.label: (int(row.queryid), int(row.dbid), int(row.userid))
            for row in frame.drop_duplicates("label").itertuples(index=False)}


def correlation_panels(found_transactions: pd.DataFrame, covered: pd.DatetimeIndex,
                       bucket: int, pending: pd.DataFrame, commit_rates: pd.DataFrame,
                       statements: pd.DataFrame, locks: pd.DataFrame) -> list[Panel]:
    """The correlation view's rows, top to bottom, leaving out rows without any value."""
    created = throughput(found_transactions, covered, bucket).sum(axis=1)
    failed = outcomes(found_transactions, covered)["failed"] / (bucket / 60)
    backlog = pending_series(pending)
    commits = pd.Series(dtype=float)
    if not commit_rates.empty:
        commits = commit_rates.set_index(pd.to_datetime(commit_rates["collected_at"], utc=True))[
            "commits_per_second"]
    waiting = pd.Series(dtype=float)
    if not locks.empty:
        waiting = locks.set_index(pd.to_datetime(locks["collected_at"], utc=True))[
            "blocked_sessions"]
    means = statement_means(statements)
    panels = [
        Panel("Payments: transactions created per minute", "/min",
              {"created per minute": created}, "business"),
        Panel("Payments: failed per minute", "/min", {"failed per minute": failed},
              "business"),
        Panel("Payments: pending now", "pending",
              {"pending": backlog["transactions"] if not backlog.empty
               else pd.Series(dtype=float)}, "business"),
        Panel("Database: commits per second", "/s", {"commits/s": commits}, "health"),
        Panel("Payment statements: mean time", "ms",
              {str(name): means[name] for name in means.columns}, "statements"),
        Panel("Lock waits: sessions waiting", "sessions", {"waiting for a lock": waiting},
              "locks"),
    ]
    return [p for p in panels if any(not s.dropna().empty for s in p.series.values())]


def trace_kinds(panels: list[Panel]) -> list[tuple[str, str]]:
    """(panel kind, series name) of every trace, in the order the figure draws them."""
    return [(panel.kind, name) for panel in panels for name in panel.series]


def drill_down_end(clicked: datetime, now: datetime) -> datetime:
    """The end of the hour-long window a click opens: the clicked time in its middle, never
    past now."""
    return min(clicked + timedelta(minutes=30), now)


def format_money(amount: Decimal) -> str:
    """An exact amount for people: thousands separated, two decimals unless the value has
    more (never rounded): 1234.5 -> '1,234.50', 12.3456 -> '12.3456'."""
    cents = amount.quantize(Decimal("0.01"))
    return f"{cents if cents == amount else amount.normalize():,}"


def currency_table(totals: pd.DataFrame) -> pd.DataFrame:
    """The per-currency totals as shown: exact amounts as text, a failure rate."""
    decided = totals["completed"] + totals["failed"]
    return pd.DataFrame({
        "Currency": totals["currency"],
        "Created": totals["created"],
        "Amount": totals["amount"].map(format_money),
        "Completed": totals["completed"],
        "Completed amount": totals["completed_amount"].map(format_money),
        "Failed": totals["failed"],
        "Failure rate": [f"{100 * f / d:.1f} %" if d else "—"
                         for f, d in zip(totals["failed"], decided, strict=True)],
    })


def pending_table(waiting: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"Currency": waiting["currency"], "Pending": waiting["transactions"],
                         "Amount": waiting["amount"].map(format_money),
                         "Oldest": waiting["oldest_age_seconds"].map(format_seconds)})


def balances_table(balances: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"Currency": balances["currency"],
                         "Account type": balances["account_type"],
                         "Accounts": balances["accounts"],
                         "Total": balances["total_balance"].map(format_money),
                         "Negative": balances["negative_accounts"],
                         "Negative total": balances["negative_balance"].map(format_money)})


def age_unit(largest_seconds: float) -> tuple[str, float]:
    """The unit to show ages up to `largest_seconds` in, and its divisor."""
    if largest_seconds >= 2 * 86_400:
        return "days", 86_400.0
    if largest_seconds >= 2 * 3600:
        return "h", 3600.0
    return "min", 60.0
