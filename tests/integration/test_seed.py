"""The demo seed on a real server: exact counts, a believable mix, consistent money, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from collectors.migrate import MigrationRunner
from demo import seed as seed_module
from demo.cluster import LocalCluster
from demo.seed import (
    ACCOUNT_TYPES,
    CURRENCIES,
    STATUSES,
    TRANSACTION_TYPES,
    SeedError,
    SeedSummary,
    seed,
)
from tests.pg import create_database, drop_database

# Demo data; the demo on PostgreSQL 18 is covered by test_demo.
pytestmark = pytest.mark.single_major

UNTIL = datetime(2025, 3, 31, 18, 30, tzinfo=UTC)
SMALL = {"users": 200, "accounts": 400, "transactions": 5_000, "days": 90}
Progress = list[tuple[str, int, int]]


def kasho_database(cluster: LocalCluster) -> str:
    name = create_database(cluster.dsn(), "seed")
    MigrationRunner(cluster.dsn(name), "kasho").up()
    return name


@pytest.fixture(scope="module")
def seeded(pg_cluster: LocalCluster) -> Iterator[tuple[str, SeedSummary, Progress]]:
    name = kasho_database(pg_cluster)
    steps: Progress = []
    with psycopg.connect(pg_cluster.dsn(name), autocommit=True) as conn:
        summary = seed(conn, **SMALL, until=UNTIL,
                       progress=lambda step, done, total: steps.append((step, done, total)))
    yield pg_cluster.dsn(name), summary, steps
    drop_database(pg_cluster.dsn(), name)


@pytest.fixture
def conn(seeded: tuple[str, SeedSummary, Progress]) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(seeded[0], autocommit=True) as connection:
        yield connection


def scalar(conn: psycopg.Connection[Any], query: str, params: Any = None) -> Any:
    return conn.execute(query, params).fetchone()[0]


def content_digest(conn: psycopg.Connection[Any]) -> tuple[str, ...]:
    return tuple(scalar(conn, f"SELECT md5(string_agg(t::text, E'\\n' ORDER BY t::text)) "
                              f"FROM {table} t")
                 for table in ("users", "accounts", "transactions", "kasho_demo.accounts"))


def test_counts_are_exact(conn: psycopg.Connection[Any],
                          seeded: tuple[str, SeedSummary, Progress]) -> None:
    _, summary, steps = seeded
    assert (scalar(conn, "SELECT count(*) FROM users"), scalar(conn, "SELECT count(*) FROM "
            "accounts"), scalar(conn, "SELECT count(*) FROM transactions")) == (200, 400, 5_000)
    assert (summary.users, summary.accounts, summary.transactions, summary.until) == (
        200, 400, 5_000, UNTIL)
    assert scalar(conn, "SELECT count(*) FROM kasho_demo.accounts") == 400
    assert scalar(conn, "SELECT count(*) FROM kasho_demo.accounts d JOIN accounts a "
                        "ON a.id = d.account_id AND a.currency = d.currency") == 400
    assert scalar(conn, "SELECT count(*) FROM users u WHERE NOT EXISTS "
                        "(SELECT FROM accounts a WHERE a.user_id = u.id)") == 0
    assert steps == [("users", 200, 200), ("accounts", 400, 400),
                     ("transactions", 5_000, 5_000), ("balances", 400, 400)]


def test_values_are_the_documented_ones_and_all_present(conn: psycopg.Connection[Any]) -> None:
    statuses = dict(conn.execute(
        "SELECT status, count(*) FROM transactions GROUP BY status").fetchall())
    assert set(statuses) == set(STATUSES)
    assert 0.88 < statuses["completed"] / 5_000 < 0.95
    by_type = dict(conn.execute(
        "SELECT transaction_type, count(*) FROM transactions GROUP BY 1").fetchall())
    assert set(by_type) == set(TRANSACTION_TYPES)
    assert by_type["deposit"] > by_type["card_payment"] > by_type["withdrawal"] > by_type["fee"]
    assert {row[0] for row in conn.execute(
        "SELECT DISTINCT transaction_type FROM transactions WHERE status = 'pending'")} == {
        "deposit", "withdrawal"}
    assert {row[0] for row in conn.execute(
        "SELECT DISTINCT transaction_type FROM transactions WHERE status = 'reversed'")} == {
        "card_payment"}
    account_types = dict(conn.execute(
        "SELECT account_type, count(*) FROM accounts GROUP BY 1").fetchall())
    assert set(account_types) == set(ACCOUNT_TYPES) and account_types["checking"] > 200
    codes = {code for code, *_ in CURRENCIES}
    assert {row[0] for row in conn.execute("SELECT DISTINCT currency FROM accounts")} == codes
    assert {row[0] for row in conn.execute(
        "SELECT DISTINCT a.currency FROM transactions t JOIN accounts a ON a.id = t.account_id"
    )} == codes
    assert scalar(conn, "SELECT min(currency_accounts) FROM kasho_demo.accounts") >= 2
    # The first account of each currency is its busy merchant: a business account.
    assert {row[0] for row in conn.execute(
        "SELECT a.account_type FROM kasho_demo.accounts d JOIN accounts a "
        "ON a.id = d.account_id WHERE d.currency_n = 1")} == {"business"}
    emails = scalar(conn, "SELECT count(DISTINCT email) FROM users WHERE email ~ '^[a-z.]+"
                          "[0-9]+@[a-z.]+$' AND password_hash ~ '^\\$2b\\$12\\$.{53}$'")
    assert emails == 200


def test_amounts_are_positive_in_each_currency_s_minor_units(
        conn: psycopg.Connection[Any]) -> None:
    assert scalar(conn, "SELECT min(amount) FROM transactions") > 0
    assert scalar(conn, "SELECT count(*) FROM transactions t JOIN accounts a "
                        "ON a.id = t.account_id WHERE a.currency = 'JPY' "
                        "AND t.amount <> round(t.amount)") == 0
    assert scalar(conn, "SELECT count(*) FROM transactions WHERE amount <> round(amount, 2)") == 0


def test_transfers_are_paired(conn: psycopg.Connection[Any]) -> None:
    outs = scalar(conn, "SELECT count(*) FROM transactions WHERE transaction_type = "
                        "'transfer_out'")
    assert outs > 300
    assert scalar(conn, "SELECT count(*) FROM transactions WHERE transaction_type = "
                        "'transfer_in'") == outs
    # Each transfer_out has exactly one transfer_in leg: same amount, currency, status and
    # times, on another account.
    unmatched = scalar(conn, """
        SELECT count(*) FROM transactions o JOIN accounts oa ON oa.id = o.account_id
        WHERE o.transaction_type = 'transfer_out'
          AND (SELECT count(*) FROM transactions i JOIN accounts ia ON ia.id = i.account_id
               WHERE i.transaction_type = 'transfer_in' AND i.account_id <> o.account_id
                 AND i.amount = o.amount AND ia.currency = oa.currency
                 AND i.status = o.status AND i.created_at = o.created_at
                 AND i.updated_at = o.updated_at) <> 1""")
    assert unmatched == 0


def test_balances_equal_completed_movements(conn: psycopg.Connection[Any]) -> None:
    mismatched = scalar(conn, """
        SELECT count(*) FROM accounts a
        WHERE a.balance <> coalesce((
            SELECT sum(CASE WHEN t.transaction_type IN ('deposit', 'transfer_in') THEN t.amount
                            ELSE -t.amount END)
            FROM transactions t WHERE t.account_id = a.id AND t.status = 'completed'), 0)""")
    assert mismatched == 0
    assert scalar(conn, "SELECT count(*) FROM accounts WHERE balance > 0") > 300
    assert scalar(conn, "SELECT count(*) FROM accounts WHERE balance < 0") > 0


def test_time_spread_has_a_daily_and_weekly_shape(conn: psycopg.Connection[Any]) -> None:
    first, last = conn.execute(
        "SELECT min(created_at), max(created_at) FROM transactions").fetchone()
    assert UNTIL - timedelta(days=90) <= first < UNTIL - timedelta(days=89)
    assert UNTIL - timedelta(hours=1) < last <= UNTIL
    by_hour = dict(conn.execute("SELECT extract(hour FROM created_at AT TIME ZONE 'UTC')::int, "
                                "count(*) FROM transactions GROUP BY 1").fetchall())
    assert by_hour[3] * 5 < by_hour[13]
    by_weekday = dict(conn.execute("SELECT extract(isodow FROM created_at AT TIME ZONE 'UTC')"
                                   "::int, count(*) FROM transactions GROUP BY 1").fetchall())
    assert by_weekday[7] < by_weekday[6] < min(by_weekday[day] for day in range(1, 6))
    assert scalar(conn, "SELECT count(*) FROM transactions WHERE status = 'pending' "
                        "AND created_at > %s", [UNTIL - timedelta(days=1)]) > 0
    # Sign-ups go on during the window: a few users and accounts are new, each account
    # opened after its user and before any of its transactions.
    assert 0 < scalar(conn, "SELECT count(*) FROM users WHERE created_at > %s",
                      [UNTIL - timedelta(days=90)]) < 20
    assert 0 < scalar(conn, "SELECT count(*) FROM accounts WHERE created_at > %s",
                      [UNTIL - timedelta(days=90)]) < 40
    assert scalar(conn, "SELECT count(*) FROM accounts a JOIN users u ON u.id = a.user_id "
                        "WHERE a.created_at < u.created_at OR a.created_at > %s", [UNTIL]) == 0
    assert scalar(conn, "SELECT count(*) FROM transactions t JOIN accounts a "
                        "ON a.id = t.account_id WHERE t.created_at < a.created_at") == 0
    assert scalar(conn, "SELECT count(*) FROM transactions WHERE updated_at < created_at") == 0


def test_same_arguments_give_the_same_rows_whatever_the_chunk_size(
        pg_cluster: LocalCluster, seeded: tuple[str, SeedSummary, Progress],
        conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seed_module, "CHUNK_PAIRS", 1_000)
    name = kasho_database(pg_cluster)
    try:
        with psycopg.connect(pg_cluster.dsn(name), autocommit=True) as other:
            steps: Progress = []
            seed(other, **SMALL, until=UNTIL,
                 progress=lambda step, done, total: steps.append((step, done, total)))
            assert [done for step, done, _ in steps if step == "transactions"] == [
                2_000, 4_000, 5_000]
            assert content_digest(other) == content_digest(conn)
            seed(other, **SMALL, until=UNTIL, random_seed=2, reset=True)
            reseeded = content_digest(other)
            assert all(a != b for a, b in zip(reseeded, content_digest(conn), strict=True))
    finally:
        drop_database(pg_cluster.dsn(), name)


def test_refuses_tables_with_rows_unless_reset(pg_cluster: LocalCluster) -> None:
    name = kasho_database(pg_cluster)
    try:
        with psycopg.connect(pg_cluster.dsn(name), autocommit=True) as conn:
            seed(conn, users=5, accounts=14, transactions=51, days=3)
            with pytest.raises(SeedError) as refused:
                seed(conn, users=8, accounts=20, transactions=80, days=3)
            message = str(refused.value)
            assert message == ("the Kasho tables are not empty (users, accounts, transactions "
                               "hold rows); seed with reset=True to truncate them first")
            assert scalar(conn, "SELECT count(*) FROM transactions") == 51
            summary = seed(conn, users=8, accounts=20, transactions=80, days=3, reset=True)
            assert summary.transactions == 80
            assert (scalar(conn, "SELECT count(*) FROM users"),
                    scalar(conn, "SELECT count(*) FROM transactions")) == (8, 80)
    finally:
        drop_database(pg_cluster.dsn(), name)


def test_refuses_a_database_without_the_kasho_schema(pg_cluster: LocalCluster,
                                                     fresh_database: str) -> None:
    with psycopg.connect(pg_cluster.dsn(fresh_database), autocommit=True) as conn:
        with pytest.raises(SeedError, match=r"^the Kasho schema is missing \(no table users, "
                                            r"accounts, transactions\); apply it first: "
                                            r"kasho-ops migrate up --set kasho$"):
            seed(conn, users=5, accounts=14, transactions=10)
        with pytest.raises(SeedError, match="accounts must be at least 14"):
            seed(conn, users=5, accounts=13, transactions=10)
