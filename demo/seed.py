"""Realistic Kasho data generated inside the server: users, accounts, a payments history.

Only the columns Kasho's database documentation names are written. Every random draw is a
hash of (random_seed, row number, field), so the data depend only on the arguments, never on
chunk sizes or plans. Transactions are written in time order in chunks of `CHUNK_PAIRS` row
pairs; a pair is either one transfer (transfer_out on the payer's account and transfer_in on
the payee's, same amount, status and time) or two independent movements. Balances are set at
the end from the completed movements in one statement.

The values (listed in the README):
- account_type: checking, savings, business (the first account of each currency is a busy
  merchant's business account: the workload's hot accounts);
- transaction_type: deposit and transfer_in (credits); card_payment, withdrawal, transfer_out
  and fee (debits);
- status: pending (deposits and withdrawals awaiting settlement), completed, failed, reversed
  (card payments charged back).

Besides the Kasho tables it fills `kasho_demo.accounts`, the workload's pick list, in a schema
of its own so that `public` holds exactly Kasho's tables: every account numbered 1..n, and per
currency 1..currency_accounts, so a pgbench script can pick an account, or a same-currency
payee, from integers alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from collectors.core.errors import KashoOpsError

CHUNK_PAIRS = 50_000  # 100k transaction rows per INSERT
TRANSFER_PAIR_SHARE = 0.15  # of row pairs; so ~30% of rows are transfer legs
RECENT_USERS = 0.04  # of users signed up inside the window (the others before it)
RECENT_ACCOUNTS = 0.03  # of accounts opened inside the window besides recent users' own
PICK_SCHEMA = "kasho_demo"
ACCOUNT_TYPES = ("checking", "savings", "business")
TRANSACTION_TYPES = ("deposit", "card_payment", "withdrawal", "fee", "transfer_out",
                     "transfer_in")
CREDIT_TYPES = ("deposit", "transfer_in")
STATUSES = ("pending", "completed", "failed", "reversed")
# code, share of accounts, units per USD, minor units (JPY has none)
CURRENCIES = (("USD", 0.40, 1.0, 2), ("EUR", 0.25, 0.92, 2), ("GBP", 0.12, 0.79, 2),
              ("JPY", 0.07, 150.0, 0), ("CAD", 0.06, 1.36, 2), ("CHF", 0.05, 0.88, 2),
              ("AUD", 0.05, 1.52, 2))
# UTC hour 0..23: quiet nights, a lunch bump, an evening peak
HOUR_WEIGHTS = (0.15, 0.10, 0.08, 0.07, 0.08, 0.15, 0.35, 0.60, 0.90, 1.00, 1.05, 1.10,
                1.20, 1.15, 1.05, 1.00, 1.05, 1.15, 1.30, 1.35, 1.20, 0.90, 0.60, 0.30)
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.05, 1.15, 0.80, 0.65)  # ISO Monday..Sunday
FIRST_NAMES = ("olivia", "liam", "emma", "noah", "amelia", "oliver", "sophia", "elijah", "mia",
               "lucas", "hana", "kenji", "chloe", "mateo", "aisha", "omar", "lena", "jonas",
               "sofia", "luca", "priya", "arjun", "zoe", "ethan", "yuki", "camille", "hugo",
               "ingrid", "mohammed", "fatima", "grace", "daniel")
LAST_NAMES = ("smith", "johnson", "williams", "brown", "garcia", "miller", "martin", "muller",
              "schmidt", "rossi", "bianchi", "dubois", "moreau", "tanaka", "suzuki", "sato",
              "patel", "singh", "khan", "nguyen", "kowalski", "novak", "jensen", "larsen",
              "obrien", "murphy", "silva", "santos", "cohen", "levy", "taylor", "wilson")
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me",
                 "gmx.de", "web.de", "orange.fr")
FEE_AMOUNTS = (0.5, 1.0, 2.5, 5.0, 15.0, 25.0)


class SeedError(KashoOpsError):
    """The database cannot be seeded as asked; the message says why, in one line."""


@dataclass(frozen=True)
class SeedSummary:
    users: int
    accounts: int
    transactions: int
    until: datetime
    seconds: float


FUNCTIONS = """
CREATE OR REPLACE FUNCTION pg_temp.seed_unit(key bigint, salt bigint) RETURNS float8
LANGUAGE sql IMMUTABLE AS
$$ SELECT (hashint8extended(key, salt) & 9007199254740991)::float8 / 9007199254740992 $$;
CREATE OR REPLACE FUNCTION pg_temp.seed_uuid(key bigint, salt bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
    SELECT overlay(overlay(md5(salt || ':' || key) PLACING '4' FROM 13) PLACING '8' FROM 17)::uuid
$$;
CREATE OR REPLACE FUNCTION pg_temp.seed_pick(items text[], draw float8) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT items[1 + floor(draw * cardinality(items))::int] $$;
CREATE OR REPLACE FUNCTION pg_temp.seed_log_uniform(low float8, high float8, draw float8)
RETURNS float8 LANGUAGE sql IMMUTABLE AS $$ SELECT low * power(high / low, draw) $$;
-- A few accounts are far busier than most, as in any payments ledger.
CREATE OR REPLACE FUNCTION pg_temp.seed_account_n(draw float8, accounts int) RETURNS int
LANGUAGE sql IMMUTABLE AS $$ SELECT 1 + floor(accounts * power(draw, 1.5))::int $$;
"""

PARAMS = """
CREATE TEMP TABLE seed_params AS
SELECT %(salt)s::bigint AS salt, coalesce(%(until)s::timestamptz, now()) AS until,
       %(days)s::int AS days, %(users)s::int AS users, %(accounts)s::int AS accounts,
       %(transactions)s::bigint AS transactions, %(transfer_share)s::float8 AS transfer_share,
       %(first_names)s::text[] AS first_names, %(last_names)s::text[] AS last_names,
       %(email_domains)s::text[] AS email_domains, %(currency_codes)s::text[] AS currency_codes,
       %(currency_bounds)s::float8[] AS currency_bounds,
       %(currency_scales)s::float8[] AS currency_scales,
       %(currency_minor_units)s::int[] AS currency_minor_units,
       %(hour_weights)s::float8[] AS hour_weights,
       %(weekday_weights)s::float8[] AS weekday_weights, %(fee_amounts)s::float8[] AS fee_amounts,
       %(recent_users)s::float8 AS recent_users, %(recent_accounts)s::float8 AS recent_accounts
"""

# A password hash looks like bcrypt's ($2b$12$ + 53 characters); nobody can log in with it.
USERS = """
INSERT INTO users (id, email, password_hash, created_at, updated_at)
SELECT pg_temp.seed_uuid(n, p.salt + 1),
       v.first_name || '.' || v.last_name || n || '@'
           || pg_temp.seed_pick(p.email_domains, pg_temp.seed_unit(n, p.salt + 12)),
       '$2b$12$' || left(md5(p.salt || 'pw' || n) || md5(n || 'pw' || p.salt), 53),
       v.created_at,
       CASE WHEN pg_temp.seed_unit(n, p.salt + 13) < 0.9 THEN v.created_at  -- never edited
            ELSE v.created_at + pg_temp.seed_unit(n, p.salt + 15) * (p.until - v.created_at) END
FROM seed_params p, generate_series(1, p.users) AS n,
LATERAL (SELECT pg_temp.seed_pick(p.first_names, pg_temp.seed_unit(n, p.salt + 10)) AS first_name,
                pg_temp.seed_pick(p.last_names, pg_temp.seed_unit(n, p.salt + 11)) AS last_name,
                CASE WHEN n > p.users - floor(p.users * p.recent_users)  -- signed up lately
                     THEN p.until
                          - pg_temp.seed_unit(n, p.salt + 14) * make_interval(days => p.days)
                     ELSE p.until - make_interval(days => p.days)
                          - pg_temp.seed_unit(n, p.salt + 14) * interval '730 days' END
                    AS created_at) v
"""

# Every user gets an account before anyone gets a second; the first two rounds of currencies
# are fixed so each currency has at least two accounts to transfer between, and the very first
# account of each currency is a merchant's business account (the workload's hot account).
# Accounts of recent sign-ups and the last few opened are created inside the window, after
# their user; the history's transactions use only the accounts opened before it (numbered
# 1..active_n, and per currency 1..active_currency_accounts).
ACCOUNTS = """
CREATE TEMP TABLE seed_accounts AS
SELECT d.*, row_number() OVER (PARTITION BY d.currency ORDER BY d.n)::int AS currency_n,
       count(*) OVER (PARTITION BY d.currency)::int AS currency_accounts,
       CASE WHEN d.active THEN row_number() OVER (PARTITION BY d.active ORDER BY d.n) END::int
           AS active_n,
       CASE WHEN d.active THEN row_number() OVER (PARTITION BY d.active, d.currency
                                                  ORDER BY d.n) END::int AS active_currency_n,
       count(*) OVER (PARTITION BY d.active, d.currency)::int AS active_currency_accounts
FROM (
    SELECT m AS n, pg_temp.seed_uuid(m, p.salt + 2) AS account_id, u.id AS user_id,
           p.currency_codes[c.i] AS currency, p.currency_scales[c.i] AS amount_scale,
           p.currency_minor_units[c.i] AS minor_units,
           CASE WHEN m <= cardinality(p.currency_codes) THEN 'business'
                WHEN pg_temp.seed_unit(m, p.salt + 22) < 0.62 THEN 'checking'
                WHEN pg_temp.seed_unit(m, p.salt + 22) < 0.90 THEN 'savings'
                ELSE 'business' END AS account_type,
           NOT r.recent AS active,
           CASE WHEN r.recent
                THEN greatest(u.created_at, p.until - make_interval(days => p.days))
                     + pg_temp.seed_unit(m, p.salt + 23)
                       * (p.until - greatest(u.created_at,
                                             p.until - make_interval(days => p.days)))
                ELSE u.created_at + pg_temp.seed_unit(m, p.salt + 23)
                     * (p.until - make_interval(days => p.days) - u.created_at) END AS created_at
    FROM seed_params p CROSS JOIN generate_series(1, p.accounts) AS m
    JOIN LATERAL (SELECT CASE WHEN m <= p.users THEN m
                              ELSE 1 + floor(pg_temp.seed_unit(m, p.salt + 20) * p.users)::int
                         END AS user_n) o ON true
    JOIN users u ON u.id = pg_temp.seed_uuid(o.user_n, p.salt + 1)
    CROSS JOIN LATERAL (SELECT CASE WHEN m <= 2 * cardinality(p.currency_codes)
                                    THEN 1 + (m - 1) % cardinality(p.currency_codes)
                                    ELSE width_bucket(pg_temp.seed_unit(m, p.salt + 21),
                                                      p.currency_bounds) END AS i) c
    CROSS JOIN LATERAL (SELECT m > 2 * cardinality(p.currency_codes)
                               AND (u.created_at > p.until - make_interval(days => p.days)
                                    OR m > p.accounts - floor(p.accounts * p.recent_accounts))
                               AS recent) r
) d;
CREATE UNIQUE INDEX ON seed_accounts (n);
CREATE UNIQUE INDEX ON seed_accounts (active_n);
CREATE UNIQUE INDEX ON seed_accounts (currency, active_currency_n);
ANALYZE seed_accounts;
ALTER TABLE seed_params ADD COLUMN active_accounts int;
UPDATE seed_params SET active_accounts = (SELECT count(*) FROM seed_accounts WHERE active);
INSERT INTO accounts (id, user_id, account_type, balance, currency, created_at, updated_at)
SELECT account_id, user_id, account_type, 0, currency, created_at, created_at
FROM seed_accounts ORDER BY n;
CREATE SCHEMA IF NOT EXISTS kasho_demo;
COMMENT ON SCHEMA kasho_demo IS
    'The demo workload''s pick list (demo/seed.py); not part of the Kasho schema';
DROP TABLE IF EXISTS kasho_demo.accounts;
CREATE TABLE kasho_demo.accounts (
    n                 integer PRIMARY KEY,
    account_id        uuid    NOT NULL,
    currency          text    NOT NULL,
    currency_n        integer NOT NULL,
    currency_accounts integer NOT NULL,
    amount_scale      numeric NOT NULL,
    minor_units       integer NOT NULL,
    UNIQUE (currency, currency_n)
);
COMMENT ON TABLE kasho_demo.accounts IS
    'Kasho accounts numbered for the demo workload: 1..n, and 1..currency_accounts per '
    'currency (currency_n = 1 is the currency''s busy merchant account)';
INSERT INTO kasho_demo.accounts
SELECT n, account_id, currency, currency_n, currency_accounts, amount_scale, minor_units
FROM seed_accounts;
"""

# Hour buckets over the window, each owning a contiguous range of row pairs in proportion
# to its weight (hour of day, weekday, slow growth), so rows come out in time order.
HOURS = """
CREATE TEMP TABLE seed_hours AS
WITH weighted AS (
    SELECT i, h.hour_start, p.days * 24 AS hour_count, (p.transactions + 1) / 2 AS pairs,
           p.hour_weights[1 + extract(hour FROM h.hour_start AT TIME ZONE 'UTC')::int]
           * p.weekday_weights[extract(isodow FROM h.hour_start AT TIME ZONE 'UTC')::int]
           * (0.85 + 0.3 * i / (p.days * 24)) AS weight
    FROM seed_params p, generate_series(0, p.days * 24 - 1) AS i,
    LATERAL (SELECT p.until - make_interval(hours => p.days * 24 - i) AS hour_start) h
), cumulative AS (
    SELECT i, hour_start,
           CASE WHEN i = hour_count - 1 THEN pairs
                ELSE least(pairs, floor(pairs * sum(weight) OVER (ORDER BY i)
                                        / sum(weight) OVER ()))::bigint END AS last_pair
    FROM weighted
)
SELECT i, hour_start, lag(last_pair, 1, 0::bigint) OVER (ORDER BY i) + 1 AS first_pair, last_pair
FROM cumulative;
CREATE INDEX ON seed_hours (first_pair);
"""

# Status by type: 5% of everything fails; 2% of card payments are charged back later
# (reversed); deposits and withdrawals settle in batches (updated_at up to 2 hours after
# created_at), 1% of them stay stuck pending and half of the last day's are still pending.
# Card payments, transfers and fees are decided at once (updated_at = created_at).
TRANSACTIONS_CHUNK = """
INSERT INTO transactions (id, account_id, transaction_type, amount, status, created_at,
                          updated_at)
WITH pairs AS (
    SELECT k, h.hour_start,
           2 * k <= p.transactions AND pg_temp.seed_unit(k, p.salt + 30) < p.transfer_share
               AS is_transfer
    FROM seed_params p, seed_hours h,
    LATERAL generate_series(greatest(h.first_pair, %(low)s), least(h.last_pair, %(high)s)) k
    WHERE h.last_pair >= %(low)s AND h.first_pair <= %(high)s
), transfers AS (
    SELECT pr.k, s.account_id AS payer_id, d.account_id AS payee_id,
           round((pg_temp.seed_log_uniform(10, 2000, pg_temp.seed_unit(pr.k, p.salt + 33))
                  * s.amount_scale)::numeric, s.minor_units) AS amount,
           pg_temp.seed_unit(pr.k, p.salt + 34) AS status_draw,
           pg_temp.seed_unit(pr.k, p.salt + 35) AS settle_draw,
           pr.hour_start + pg_temp.seed_unit(pr.k, p.salt + 36) * interval '1 hour' AS created_at
    FROM pairs pr, seed_params p, seed_accounts s, seed_accounts d
    WHERE pr.is_transfer
      AND s.active_n = pg_temp.seed_account_n(pg_temp.seed_unit(pr.k, p.salt + 31),
                                              p.active_accounts)
      AND d.currency = s.currency
      AND d.active_currency_n = 1 + (s.active_currency_n
                                     + floor(pg_temp.seed_unit(pr.k, p.salt + 32)
                                             * (s.active_currency_accounts - 1))::int)
                                    %% s.active_currency_accounts
), singles AS (
    SELECT r.g, a.account_id, a.amount_scale, a.minor_units,
           CASE WHEN pg_temp.seed_unit(r.g, p.salt + 41) < 0.40 THEN 'deposit'
                WHEN pg_temp.seed_unit(r.g, p.salt + 41) < 0.72 THEN 'card_payment'
                WHEN pg_temp.seed_unit(r.g, p.salt + 41) < 0.87 THEN 'withdrawal'
                ELSE 'fee' END AS transaction_type,
           pg_temp.seed_unit(r.g, p.salt + 42) AS amount_draw,
           pg_temp.seed_unit(r.g, p.salt + 44) AS status_draw,
           pg_temp.seed_unit(r.g, p.salt + 45) AS settle_draw,
           pr.hour_start + pg_temp.seed_unit(r.g, p.salt + 46) * interval '1 hour' AS created_at
    FROM pairs pr CROSS JOIN LATERAL (VALUES (2 * pr.k - 1), (2 * pr.k)) AS r(g), seed_params p,
         seed_accounts a
    WHERE NOT pr.is_transfer AND r.g <= p.transactions
      AND a.active_n = pg_temp.seed_account_n(pg_temp.seed_unit(r.g, p.salt + 40),
                                              p.active_accounts)
), movements AS (
    SELECT leg.g, leg.account_id, leg.transaction_type, t.amount, t.status_draw, t.settle_draw,
           t.created_at
    FROM transfers t CROSS JOIN LATERAL (VALUES
        (2 * t.k - 1, t.payer_id, 'transfer_out'), (2 * t.k, t.payee_id, 'transfer_in')
    ) AS leg(g, account_id, transaction_type)
    UNION ALL
    SELECT s.g, s.account_id, s.transaction_type,
           round((CASE s.transaction_type
                      WHEN 'deposit' THEN pg_temp.seed_log_uniform(50, 8000, s.amount_draw)
                      WHEN 'card_payment' THEN pg_temp.seed_log_uniform(3, 400, s.amount_draw)
                      WHEN 'withdrawal' THEN pg_temp.seed_log_uniform(20, 800, s.amount_draw)
                      ELSE p.fee_amounts[1 + floor(s.amount_draw * cardinality(p.fee_amounts))::int]
                  END * s.amount_scale)::numeric, s.minor_units),
           s.status_draw, s.settle_draw, s.created_at
    FROM singles s, seed_params p
)
SELECT pg_temp.seed_uuid(m.g, p.salt + 3), m.account_id, m.transaction_type, m.amount,
       st.status, m.created_at,
       CASE WHEN st.status = 'pending' THEN m.created_at
            WHEN st.status = 'reversed'
                THEN least(p.until, m.created_at + m.settle_draw * interval '72 hours')
            WHEN m.transaction_type IN ('deposit', 'withdrawal')
                THEN least(p.until, m.created_at + m.settle_draw * interval '2 hours')
            ELSE m.created_at END
FROM movements m, seed_params p,
LATERAL (SELECT CASE WHEN m.status_draw < 0.05 THEN 'failed'
                     WHEN m.transaction_type = 'card_payment' AND m.status_draw < 0.07
                         THEN 'reversed'  -- charged back
                     WHEN m.transaction_type NOT IN ('deposit', 'withdrawal') THEN 'completed'
                     WHEN m.status_draw < 0.06 THEN 'pending'  -- stuck in settlement
                     WHEN m.created_at > p.until - interval '1 day' AND m.status_draw < 0.5
                         THEN 'pending'  -- recent, not settled yet
                     ELSE 'completed' END AS status) st
ORDER BY m.created_at, m.g
"""

BALANCES = """
UPDATE accounts a
SET balance = m.net, updated_at = greatest(a.updated_at, m.last_movement_at)
FROM (SELECT account_id, max(updated_at) AS last_movement_at,
             sum(CASE WHEN transaction_type IN ('deposit', 'transfer_in') THEN amount
                      ELSE -amount END) AS net
      FROM transactions WHERE status = 'completed' GROUP BY account_id) m
WHERE a.id = m.account_id
"""


def _parameters(users: int, accounts: int, transactions: int, days: int, random_seed: int,
                until: datetime | None) -> dict[str, Any]:
    shares = [share for _, share, _, _ in CURRENCIES]
    bounds = [sum(shares[:i]) / sum(shares) for i in range(len(shares))]
    return {
        "salt": random_seed * 1000, "until": until, "days": days, "users": users,
        "accounts": accounts, "transactions": transactions,
        "transfer_share": TRANSFER_PAIR_SHARE, "first_names": list(FIRST_NAMES),
        "last_names": list(LAST_NAMES), "email_domains": list(EMAIL_DOMAINS),
        "currency_codes": [code for code, *_ in CURRENCIES], "currency_bounds": bounds,
        "currency_scales": [scale for _, _, scale, _ in CURRENCIES],
        "currency_minor_units": [minor for *_, minor in CURRENCIES],
        "hour_weights": list(HOUR_WEIGHTS), "weekday_weights": list(WEEKDAY_WEIGHTS),
        "fee_amounts": list(FEE_AMOUNTS), "recent_users": RECENT_USERS,
        "recent_accounts": RECENT_ACCOUNTS,
    }


def _check_target(conn: psycopg.Connection[Any], reset: bool) -> None:
    missing = conn.execute(
        "SELECT array_agg(name) FROM unnest(ARRAY['users', 'accounts', 'transactions']) AS name "
        "WHERE to_regclass(name) IS NULL").fetchone()[0]
    if missing:
        raise SeedError(f"the Kasho schema is missing (no table {', '.join(missing)}); apply it "
                        "first: kasho-ops migrate up --set kasho")
    filled = conn.execute(
        "SELECT array_remove(ARRAY[CASE WHEN EXISTS (SELECT FROM users) THEN 'users' END, "
        "CASE WHEN EXISTS (SELECT FROM accounts) THEN 'accounts' END, "
        "CASE WHEN EXISTS (SELECT FROM transactions) THEN 'transactions' END], NULL)"
    ).fetchone()[0]
    if filled and not reset:
        raise SeedError(f"the Kasho tables are not empty ({', '.join(filled)} hold rows); "
                        "seed with reset=True to truncate them first")
    if filled:
        conn.execute("TRUNCATE transactions, accounts, users")


def seed(conn: psycopg.Connection[Any], *, users: int = 10_000, accounts: int = 20_000,
         transactions: int = 1_000_000, days: int = 90,
         progress: Callable[[str, int, int], None] | None = None, reset: bool = False,
         random_seed: int = 1, until: datetime | None = None) -> SeedSummary:
    """Fill empty Kasho tables (or truncate them first with `reset`) in one transaction.

    Transactions fall in the `days` days before `until` (default: now); the same arguments
    always give the same rows. `progress(step, done, total)` follows each step and chunk.
    """
    if users < 1 or days < 1 or transactions < 0:
        raise SeedError("users and days must be at least 1 and transactions at least 0")
    if accounts < 2 * len(CURRENCIES):
        raise SeedError(f"accounts must be at least {2 * len(CURRENCIES)} (two per currency)")
    report = progress or (lambda step, done, total: None)
    started = time.monotonic()
    with conn.transaction():
        conn.execute("SET LOCAL statement_timeout = 0")
        conn.execute("SET LOCAL work_mem = '64MB'")
        conn.execute("SET LOCAL jit = off")  # compiling each chunk costs more than it saves
        _check_target(conn, reset)
        conn.execute(FUNCTIONS)
        conn.execute("DROP TABLE IF EXISTS seed_params, seed_accounts, seed_hours")
        conn.execute(PARAMS, _parameters(users, accounts, transactions, days, random_seed,
                                         until))
        conn.execute(USERS)
        report("users", users, users)
        conn.execute(ACCOUNTS)
        report("accounts", accounts, accounts)
        conn.execute(HOURS)
        pairs = (transactions + 1) // 2
        for low in range(1, pairs + 1, CHUNK_PAIRS):
            high = min(pairs, low + CHUNK_PAIRS - 1)
            conn.execute(TRANSACTIONS_CHUNK, {"low": low, "high": high})
            report("transactions", min(2 * high, transactions), transactions)
        conn.execute(BALANCES)
        report("balances", accounts, accounts)
        conn.execute("ANALYZE users, accounts, transactions, kasho_demo.accounts")
        seeded_until = conn.execute("SELECT until FROM seed_params").fetchone()[0]
        conn.execute("DROP TABLE seed_params, seed_accounts, seed_hours")
    return SeedSummary(users, accounts, transactions, seeded_until, time.monotonic() - started)
