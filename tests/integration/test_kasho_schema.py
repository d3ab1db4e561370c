"""The Kasho schema is Kasho's documented schema: columns, keys, indexes, trigger, downs.

`DOCUMENTED_DDL` is copied verbatim from Kasho's database documentation; the migrated
database is read back through information_schema and compared with it column by column, so a
column that is added, renamed, retyped or given another default or constraint fails here.
The generic per-file up→down→up dump comparison lives in test_migrate.py; here the round trip
also runs with data in the tables, and the down to zero must leave nothing behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from collectors.migrate import MIGRATIONS_ROOT, MigrationRunner
from demo.cluster import LocalCluster
from demo.seed import seed

pytestmark = pytest.mark.single_major  # Kasho's schema runs on PostgreSQL 15

KASHO_TABLES = ("users", "accounts", "transactions")
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)

DOCUMENTED_DDL = """
CREATE TABLE users (
    id UUID PRIMARY KEY,
    email VARCHAR(255) UNIQUE NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE accounts (
    id UUID PRIMARY KEY,
    user_id UUID REFERENCES users(id),
    account_type VARCHAR(50) NOT NULL,
    balance DECIMAL(19,4) NOT NULL,
    currency VARCHAR(3) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE transactions (
    id UUID PRIMARY KEY,
    account_id UUID REFERENCES accounts(id),
    transaction_type VARCHAR(50) NOT NULL,
    amount DECIMAL(19,4) NOT NULL,
    status VARCHAR(50) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);
"""

_TABLE = re.compile(r"CREATE TABLE (\w+) \((.*?)\n\);", re.S)
_COLUMN = re.compile(r"^\s*(?P<name>\w+) (?P<type>UUID|VARCHAR\((?P<length>\d+)\)|"
                     r"DECIMAL\((?P<precision>\d+),(?P<scale>\d+)\)|TIMESTAMP WITH TIME ZONE)"
                     r"(?P<rest>.*?),?$")


@dataclass(frozen=True)
class Column:
    """A column as information_schema.columns describes it, plus its key constraints."""

    name: str
    data_type: str
    character_maximum_length: int | None
    numeric_precision: int | None
    numeric_scale: int | None
    is_nullable: str
    column_default: str | None
    primary_key: bool
    unique: bool
    references: str | None  # "table(column)"


def documented_columns() -> dict[str, list[Column]]:
    """The documented DDL, parsed: every column clause must be understood, or this fails."""
    tables: dict[str, list[Column]] = {}
    for table, body in _TABLE.findall(DOCUMENTED_DDL):
        columns = []
        for line in body.strip().splitlines():
            match = _COLUMN.match(line)
            assert match, f"cannot read documented column {line!r}"
            rest = match["rest"]
            references = re.search(r"REFERENCES (\w+)\((\w+)\)", rest)
            default = re.search(r"DEFAULT (\w+)", rest)
            leftover = re.sub(r"PRIMARY KEY|UNIQUE|NOT NULL|REFERENCES \w+\(\w+\)|DEFAULT \w+",
                              "", rest).strip()
            assert leftover == "", f"unparsed clause {leftover!r} in {line!r}"
            declared = match["type"]
            columns.append(Column(
                name=match["name"],
                data_type={"UUID": "uuid", "TIMESTAMP WITH TIME ZONE": "timestamp with time zone"}
                .get(declared, "character varying" if match["length"] else "numeric"),
                character_maximum_length=int(match["length"]) if match["length"] else None,
                numeric_precision=int(match["precision"]) if match["precision"] else None,
                numeric_scale=int(match["scale"]) if match["scale"] else None,
                is_nullable="NO" if ("NOT NULL" in rest or "PRIMARY KEY" in rest) else "YES",
                column_default=default[1] if default else None,
                primary_key="PRIMARY KEY" in rest,
                unique="UNIQUE" in rest,
                references=f"{references[1]}({references[2]})" if references else None))
        tables[table] = columns
    return tables


def migrated_columns(conn: psycopg.Connection[Any], table: str) -> list[Column]:
    rows = conn.execute("""
        SELECT c.column_name, c.data_type, c.character_maximum_length,
               CASE WHEN c.data_type = 'numeric' THEN c.numeric_precision END,
               CASE WHEN c.data_type = 'numeric' THEN c.numeric_scale END,
               c.is_nullable, c.column_default,
               EXISTS (SELECT FROM information_schema.table_constraints tc
                       JOIN information_schema.key_column_usage k USING (constraint_schema,
                                                                        constraint_name)
                       WHERE tc.table_schema = c.table_schema AND tc.table_name = c.table_name
                         AND tc.constraint_type = 'PRIMARY KEY'
                         AND k.column_name = c.column_name),
               EXISTS (SELECT FROM information_schema.table_constraints tc
                       JOIN information_schema.key_column_usage k USING (constraint_schema,
                                                                        constraint_name)
                       WHERE tc.table_schema = c.table_schema AND tc.table_name = c.table_name
                         AND tc.constraint_type = 'UNIQUE' AND k.column_name = c.column_name),
               (SELECT u.table_name || '(' || u.column_name || ')'
                FROM information_schema.table_constraints tc
                JOIN information_schema.key_column_usage k USING (constraint_schema,
                                                                 constraint_name)
                JOIN information_schema.constraint_column_usage u USING (constraint_schema,
                                                                        constraint_name)
                WHERE tc.table_schema = c.table_schema AND tc.table_name = c.table_name
                  AND tc.constraint_type = 'FOREIGN KEY' AND k.column_name = c.column_name)
        FROM information_schema.columns c
        WHERE c.table_schema = 'public' AND c.table_name = %s
        ORDER BY c.ordinal_position""", [table]).fetchall()
    return [Column(*row) for row in rows]


@pytest.fixture
def kasho_dsn(pg_cluster: LocalCluster, fresh_database: str) -> str:
    dsn = pg_cluster.dsn(fresh_database)
    MigrationRunner(dsn, "kasho").up()
    return dsn


@pytest.fixture
def conn(kasho_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(kasho_dsn, autocommit=True) as connection:
        yield connection


def test_the_documented_ddl_is_read_whole() -> None:
    documented = documented_columns()
    assert list(documented) == list(KASHO_TABLES)
    assert [len(columns) for columns in documented.values()] == [5, 7, 7]
    assert documented["accounts"][1] == Column(
        "user_id", "uuid", None, None, None, "YES", None, False, False, "users(id)")


def test_columns_match_the_documented_ddl_one_by_one(conn: psycopg.Connection[Any]) -> None:
    tables = [row[0] for row in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "AND table_name <> 'schema_migrations' ORDER BY table_name")]
    assert tables == sorted(KASHO_TABLES)
    for table, documented in documented_columns().items():
        migrated = migrated_columns(conn, table)
        assert [c.name for c in migrated] == [c.name for c in documented], table
        for have, want in zip(migrated, documented, strict=True):
            assert have == want, f"{table}.{want.name}"


def test_no_constraint_beyond_the_documented_ones(conn: psycopg.Connection[Any]) -> None:
    constraints = conn.execute(
        "SELECT conrelid::regclass::text, contype::text, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) ORDER BY 1, 2, 3",
        [list(KASHO_TABLES)]
    ).fetchall()
    assert constraints == [
        ("accounts", "f", "FOREIGN KEY (user_id) REFERENCES users(id)"),
        ("accounts", "p", "PRIMARY KEY (id)"),
        ("transactions", "f", "FOREIGN KEY (account_id) REFERENCES accounts(id)"),
        ("transactions", "p", "PRIMARY KEY (id)"),
        ("users", "p", "PRIMARY KEY (id)"),
        ("users", "u", "UNIQUE (email)")]


def test_indexes_are_the_keys_and_the_commented_performance_indexes(
        conn: psycopg.Connection[Any]) -> None:
    indexes = dict(conn.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid::regclass::text = ANY(%s)", [list(KASHO_TABLES)]).fetchall())
    assert indexes == {
        "users_pkey": "CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)",
        "users_email_key": "CREATE UNIQUE INDEX users_email_key ON public.users "
                           "USING btree (email)",
        "users_created_at_idx":
            "CREATE INDEX users_created_at_idx ON public.users USING btree (created_at)",
        "accounts_pkey": "CREATE UNIQUE INDEX accounts_pkey ON public.accounts USING btree (id)",
        "accounts_user_id_idx":
            "CREATE INDEX accounts_user_id_idx ON public.accounts USING btree (user_id)",
        "accounts_created_at_idx":
            "CREATE INDEX accounts_created_at_idx ON public.accounts USING btree (created_at)",
        "transactions_pkey":
            "CREATE UNIQUE INDEX transactions_pkey ON public.transactions USING btree (id)",
        "transactions_account_id_created_at_idx":
            "CREATE INDEX transactions_account_id_created_at_idx ON public.transactions "
            "USING btree (account_id, created_at DESC)",
        "transactions_created_at_idx": "CREATE INDEX transactions_created_at_idx "
                                       "ON public.transactions USING btree (created_at)",
        "transactions_updated_at_idx": "CREATE INDEX transactions_updated_at_idx "
                                       "ON public.transactions USING btree (updated_at)",
        "transactions_pending_created_at_idx":
            "CREATE INDEX transactions_pending_created_at_idx ON public.transactions "
            "USING btree (created_at) WHERE ((status)::text = 'pending'::text)",
    }
    # Each index a migration adds says why it exists, in the comment just above it.
    for path in sorted((MIGRATIONS_ROOT / "kasho").glob("*.up.sql")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.startswith("CREATE INDEX"):
                assert lines[number - 1].startswith("-- "), f"{path.name}: {line}"


def test_every_file_sets_lock_timeout_first() -> None:
    files = sorted((MIGRATIONS_ROOT / "kasho").glob("*.sql"))
    assert len(files) == 12
    for path in files:
        assert path.read_text().splitlines()[0] == "SET lock_timeout = '5s';", path.name


def insert_user(conn: psycopg.Connection[Any], email: str) -> Any:
    return conn.execute(
        "INSERT INTO users (id, email, password_hash, created_at, updated_at) "
        "VALUES (gen_random_uuid(), %s, '$2b$12$x', %s, %s) RETURNING id",
        [email, LONG_AGO, LONG_AGO]).fetchone()[0]


def insert_account(conn: psycopg.Connection[Any], user_id: Any, currency: str = "EUR") -> Any:
    return conn.execute(
        "INSERT INTO accounts (id, user_id, account_type, balance, currency, created_at, "
        "updated_at) VALUES (gen_random_uuid(), %s, 'checking', 0, %s, %s, %s) RETURNING id",
        [user_id, currency, LONG_AGO, LONG_AGO]).fetchone()[0]


def insert_transaction(conn: psycopg.Connection[Any], account_id: Any,
                       amount: str = "10.50") -> Any:
    return conn.execute(
        "INSERT INTO transactions (id, account_id, transaction_type, amount, status, "
        "created_at, updated_at) VALUES (gen_random_uuid(), %s, 'deposit', %s, 'pending', "
        "%s, %s) RETURNING id", [account_id, amount, LONG_AGO, LONG_AGO]).fetchone()[0]


def test_the_documented_constraints_hold(conn: psycopg.Connection[Any]) -> None:
    user = insert_user(conn, "ann@example.org")
    account = insert_account(conn, user)
    insert_transaction(conn, account)
    with conn.transaction():  # the timestamps default to the transaction's start
        defaults = conn.execute(
            "INSERT INTO users (id, email, password_hash) VALUES (gen_random_uuid(), "
            "'bo@example.org', 'h') RETURNING created_at = now() AND updated_at = now()"
        ).fetchone()[0]
    assert defaults is True
    with pytest.raises(psycopg.errors.UniqueViolation, match="users_email_key"):
        insert_user(conn, "ann@example.org")
    with pytest.raises(psycopg.errors.NotNullViolation, match="password_hash"):
        conn.execute("INSERT INTO users (id, email) VALUES (gen_random_uuid(), 'cy@x.org')")
    with pytest.raises(psycopg.errors.NotNullViolation, match='"id"'):
        conn.execute("INSERT INTO users (email, password_hash) VALUES ('cy@x.org', 'h')")
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="accounts_user_id_fkey"):
        insert_account(conn, account)  # an account id is not a user id
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="transactions_account_id_fkey"):
        insert_transaction(conn, user)
    with pytest.raises(psycopg.errors.StringDataRightTruncation):
        insert_account(conn, user, currency="EURO")
    with pytest.raises(psycopg.errors.NumericValueOutOfRange):
        insert_transaction(conn, account, amount="1000000000000000")  # 16 integer digits
    assert conn.execute("SELECT amount FROM transactions").fetchone()[0] == Decimal("10.5000")


def test_updated_at_trigger_stamps_every_table(conn: psycopg.Connection[Any]) -> None:
    user = insert_user(conn, "cy@example.org")
    account = insert_account(conn, user)
    movement = insert_transaction(conn, account)
    updates = {"users": ("password_hash = 'rotated'", user),
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
    assert runner.down(None) == [6, 5, 4, 3, 2, 1]
    assert schema_snapshot(conn) == []
    # The seed's pick list is not part of the schema, so it outlives the downs.
    assert conn.execute("SELECT to_regclass('kasho_demo.accounts')::text").fetchone() == (
        "kasho_demo.accounts",)
    assert runner.up() == [1, 2, 3, 4, 5, 6]
    assert schema_snapshot(conn) == migrated
    assert conn.execute("SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM accounts) "
                        "+ (SELECT count(*) FROM transactions)").fetchone() == (0,)
    seed(conn, users=20, accounts=40, transactions=300, days=7)
    assert conn.execute("SELECT count(*) FROM transactions").fetchone() == (300,)
