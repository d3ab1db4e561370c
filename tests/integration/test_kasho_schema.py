"""The Kasho schema's contents: columns, keys, checks, indexes, the updated_at trigger, downs.

The generic per-file up→down→up dump comparison lives in test_migrate.py; here the round trip
runs with data in the tables, and the down to zero must leave nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import errors

from collectors.migrate import MIGRATIONS_ROOT, MigrationRunner
from demo.cluster import LocalCluster
from demo.seed import seed

pytestmark = pytest.mark.single_major  # Kasho's schema runs on PostgreSQL 15

KASHO_TABLES = ("users", "accounts", "transactions")
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def kasho_dsn(pg_cluster: LocalCluster, fresh_database: str) -> str:
    dsn = pg_cluster.dsn(fresh_database)
    MigrationRunner(dsn, "kasho").up()
    return dsn


@pytest.fixture
def conn(kasho_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(kasho_dsn, autocommit=True) as connection:
        yield connection


def columns(conn: psycopg.Connection[Any], table: str) -> list[tuple[str, str, bool, str | None]]:
    return conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum", [table]).fetchall()


def schema_snapshot(conn: psycopg.Connection[Any]) -> list[tuple[str, str, str]]:
    """Every column, constraint, index, trigger and function of the public schema, as text."""
    return conn.execute("""
        SELECT 'column', c.relname || '.' || a.attname,
               format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull || ' '
               || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
        LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
          AND c.relname = ANY(%(tables)s)
        UNION ALL
        SELECT 'constraint', conrelid::regclass || '.' || conname, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace
          AND conrelid::regclass::text = ANY(%(tables)s)
        UNION ALL
        SELECT 'index', indexrelid::regclass::text, pg_get_indexdef(indexrelid)
        FROM pg_index WHERE indrelid::regclass::text = ANY(%(tables)s)
        UNION ALL
        SELECT 'trigger', tgname, pg_get_triggerdef(oid) FROM pg_trigger
        WHERE NOT tgisinternal AND tgrelid::regclass::text = ANY(%(tables)s)
        UNION ALL
        SELECT 'function', proname, pg_get_functiondef(oid) FROM pg_proc
        WHERE pronamespace = 'public'::regnamespace
        ORDER BY 1, 2""", {"tables": list(KASHO_TABLES)}).fetchall()


def test_every_file_sets_lock_timeout_first() -> None:
    files = sorted((MIGRATIONS_ROOT / "kasho").glob("*.sql"))
    assert len(files) >= 6
    for path in files:
        assert path.read_text().splitlines()[0] == "SET lock_timeout = '5s';", path.name


def test_columns_have_the_documented_types(conn: psycopg.Connection[Any]) -> None:
    stamps = [("created_at", "timestamp with time zone", True, "now()"),
              ("updated_at", "timestamp with time zone", True, "now()")]
    assert columns(conn, "users") == [
        ("id", "uuid", True, "gen_random_uuid()"),
        ("email", "text", True, None),
        ("full_name", "text", True, None),
        ("status", "text", True, "'active'::text"),
        *stamps]
    assert columns(conn, "accounts") == [
        ("id", "uuid", True, "gen_random_uuid()"),
        ("user_id", "uuid", True, None),
        ("account_number", "text", True, None),
        ("currency", "text", True, None),
        ("balance", "numeric(19,4)", True, "0"),
        ("status", "text", True, "'open'::text"),
        *stamps]
    assert columns(conn, "transactions") == [
        ("id", "uuid", True, "gen_random_uuid()"),
        ("account_id", "uuid", True, None),
        ("counterparty_account_id", "uuid", False, None),
        ("kind", "text", True, None),
        ("amount", "numeric(19,4)", True, None),
        ("currency", "text", True, None),
        ("status", "text", True, "'pending'::text"),
        ("description", "text", False, None),
        *stamps]


def test_keys_and_indexes(conn: psycopg.Connection[Any]) -> None:
    foreign_keys = conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = 'public'::regnamespace ORDER BY 1, 2").fetchall()
    assert foreign_keys == [
        ("accounts", "accounts_user_id_fkey", "FOREIGN KEY (user_id) REFERENCES users(id)"),
        ("transactions", "transactions_account_id_fkey",
         "FOREIGN KEY (account_id) REFERENCES accounts(id)"),
        ("transactions", "transactions_counterparty_account_id_fkey",
         "FOREIGN KEY (counterparty_account_id) REFERENCES accounts(id)")]
    indexes = dict(conn.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid::regclass::text = ANY(%s)", [list(KASHO_TABLES)]).fetchall())
    assert indexes == {
        "users_pkey": "CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)",
        "users_email_lower_key":
            "CREATE UNIQUE INDEX users_email_lower_key ON public.users USING btree (lower(email))",
        "accounts_pkey": "CREATE UNIQUE INDEX accounts_pkey ON public.accounts USING btree (id)",
        "accounts_account_number_key": "CREATE UNIQUE INDEX accounts_account_number_key "
                                       "ON public.accounts USING btree (account_number)",
        "accounts_user_id_idx":
            "CREATE INDEX accounts_user_id_idx ON public.accounts USING btree (user_id)",
        "transactions_pkey":
            "CREATE UNIQUE INDEX transactions_pkey ON public.transactions USING btree (id)",
        "transactions_account_id_created_at_idx":
            "CREATE INDEX transactions_account_id_created_at_idx ON public.transactions "
            "USING btree (account_id, created_at DESC)",
        "transactions_pending_created_at_idx":
            "CREATE INDEX transactions_pending_created_at_idx ON public.transactions "
            "USING btree (created_at) WHERE (status = 'pending'::text)",
        "transactions_created_at_brin":
            "CREATE INDEX transactions_created_at_brin ON public.transactions "
            "USING brin (created_at)",
        "transactions_counterparty_account_id_idx":
            "CREATE INDEX transactions_counterparty_account_id_idx ON public.transactions "
            "USING btree (counterparty_account_id) WHERE (counterparty_account_id IS NOT NULL)",
    }


def insert_user(conn: psycopg.Connection[Any], email: str, status: str = "active") -> Any:
    return conn.execute(
        "INSERT INTO users (email, full_name, status, created_at, updated_at) "
        "VALUES (%s, 'Ann Example', %s, %s, %s) RETURNING id",
        [email, status, LONG_AGO, LONG_AGO]).fetchone()[0]


def insert_account(conn: psycopg.Connection[Any], user_id: Any, number: str,
                   currency: str = "EUR") -> Any:
    return conn.execute(
        "INSERT INTO accounts (user_id, account_number, currency, created_at, updated_at) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
        [user_id, number, currency, LONG_AGO, LONG_AGO]).fetchone()[0]


def insert_transaction(conn: psycopg.Connection[Any], account_id: Any, kind: str = "deposit",
                       amount: str = "10.50", counterparty: Any = None) -> Any:
    return conn.execute(
        "INSERT INTO transactions (account_id, counterparty_account_id, kind, amount, currency, "
        "created_at, updated_at) VALUES (%s, %s, %s, %s, 'EUR', %s, %s) RETURNING id",
        [account_id, counterparty, kind, amount, LONG_AGO, LONG_AGO]).fetchone()[0]


def test_constraints_reject_bad_rows(conn: psycopg.Connection[Any]) -> None:
    user = insert_user(conn, "Ann@Example.org")
    payer = insert_account(conn, user, "KA1")
    payee = insert_account(conn, user, "KA2")
    insert_transaction(conn, payer, "transfer_out", counterparty=payee)
    assert conn.execute("SELECT status FROM transactions").fetchone() == ("pending",)
    with pytest.raises(errors.UniqueViolation, match="users_email_lower_key"):
        insert_user(conn, "ann@example.ORG")
    with pytest.raises(errors.CheckViolation, match="users_status_check"):
        insert_user(conn, "bo@example.org", status="gone")
    with pytest.raises(errors.CheckViolation, match="users_email_check"):
        insert_user(conn, "no-at-sign")
    with pytest.raises(errors.UniqueViolation, match="accounts_account_number_key"):
        insert_account(conn, user, "KA1")
    with pytest.raises(errors.CheckViolation, match="accounts_currency_check"):
        insert_account(conn, user, "KA3", currency="eur")
    with pytest.raises(errors.ForeignKeyViolation, match="accounts_user_id_fkey"):
        insert_account(conn, payer, "KA4")  # an account id is not a user id
    with pytest.raises(errors.CheckViolation, match="transactions_amount_check"):
        insert_transaction(conn, payer, amount="0")
    with pytest.raises(errors.CheckViolation, match="transactions_kind_check"):
        insert_transaction(conn, payer, kind="gift")
    with pytest.raises(errors.CheckViolation, match="transactions_counterparty_check"):
        insert_transaction(conn, payer, kind="transfer_out")  # a transfer without a payee
    with pytest.raises(errors.CheckViolation, match="transactions_counterparty_check"):
        insert_transaction(conn, payer, kind="deposit", counterparty=payee)
    with pytest.raises(errors.CheckViolation, match="transactions_counterparty_check"):
        insert_transaction(conn, payer, kind="transfer_in", counterparty=payer)
    with pytest.raises(errors.ForeignKeyViolation, match="counterparty_account_id_fkey"):
        insert_transaction(conn, payer, "transfer_out", counterparty=user)
    with pytest.raises(errors.NumericValueOutOfRange):
        insert_transaction(conn, payer, amount="1000000000000000")  # 16 integer digits


def test_updated_at_trigger_stamps_every_table(conn: psycopg.Connection[Any]) -> None:
    user = insert_user(conn, "cy@example.org")
    account = insert_account(conn, user, "KA9")
    movement = insert_transaction(conn, account)
    updates = {"users": ("status = 'suspended'", user),
               "accounts": ("balance = balance + 10.5", account),
               "transactions": ("status = 'completed'", movement)}
    for table, (assignment, row_id) in updates.items():
        with conn.transaction():
            stamped, created, now = conn.execute(
                f"UPDATE {table} SET {assignment} WHERE id = %s "
                "RETURNING updated_at, created_at, now()", [row_id]).fetchone()
        assert (stamped, created) == (now, LONG_AGO), table
        # A statement that sets updated_at itself (a backfill) keeps its value.
        kept = conn.execute(f"UPDATE {table} SET {assignment}, updated_at = %s WHERE id = %s "
                            "RETURNING updated_at", [LONG_AGO, row_id]).fetchone()[0]
        assert kept == LONG_AGO, table
    triggers = conn.execute(
        "SELECT tgrelid::regclass::text, tgfoid::regproc::text, tgtype FROM pg_trigger "
        "WHERE NOT tgisinternal ORDER BY 1").fetchall()
    before_update_per_row = 1 | 2 | 16
    assert triggers == [(table, "set_updated_at", before_update_per_row)
                        for table in sorted(KASHO_TABLES)]


def test_down_to_zero_leaves_nothing_behind(conn: psycopg.Connection[Any],
                                            kasho_dsn: str) -> None:
    MigrationRunner(kasho_dsn, "kasho").down(None)
    leftovers = conn.execute(
        "SELECT relkind::text, relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relname NOT LIKE 'schema_migrations%%' "
        "UNION ALL SELECT 'function', proname FROM pg_proc "
        "WHERE pronamespace = 'public'::regnamespace "
        "UNION ALL SELECT 'type', typname FROM pg_type WHERE typnamespace = 'public'::regnamespace "
        "AND typname NOT LIKE '%%schema_migrations'").fetchall()
    assert leftovers == []


def test_down_and_up_again_on_a_seeded_database(conn: psycopg.Connection[Any],
                                                kasho_dsn: str) -> None:
    runner = MigrationRunner(kasho_dsn, "kasho")
    migrated = schema_snapshot(conn)
    assert [kind for kind, *_ in migrated].count("function") == 1
    seed(conn, users=20, accounts=40, transactions=300, days=7)
    assert runner.down(None) == [3, 2, 1]
    assert schema_snapshot(conn) == []
    # The seed's pick list is not part of the schema, so it outlives the downs.
    assert conn.execute("SELECT to_regclass('demo_accounts')::text").fetchone() == (
        "demo_accounts",)
    assert runner.up() == [1, 2, 3]
    assert schema_snapshot(conn) == migrated
    assert conn.execute("SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM accounts) "
                        "+ (SELECT count(*) FROM transactions)").fetchone() == (0,)
