SET lock_timeout = '5s';

-- Store tables of the business groups, read from Kasho's own tables by the business role.
-- Aggregates only: no email, password hash, user id or account id is ever stored. Money is
-- numeric (exact), summed per currency, never across currencies.

-- business_transactions (incremental): per minute of the event, transactions created (event
-- 'created', status as read; 'created_changed' when already updated when read) and
-- transactions updated after their creation (event 'changed', the status they changed to;
-- age_* = seconds from creation to the change). A row's outcome is its 'created' status if it
-- never changed, else its 'changed' one. A minute read across two runs has two rows: readers
-- sum them.
CREATE TABLE kasho_ops.business_transactions (
    collected_at     timestamptz      NOT NULL,
    target           text             NOT NULL,
    minute           timestamptz      NOT NULL,
    event            text             NOT NULL
                     CHECK (event IN ('created', 'created_changed', 'changed')),
    transaction_type text             NOT NULL,
    status           text             NOT NULL,
    currency         text             NOT NULL,
    transactions     bigint           NOT NULL,
    amount           numeric          NOT NULL,
    age_seconds_sum  double precision,
    age_seconds_max  double precision
) PARTITION BY RANGE (collected_at);
CREATE INDEX business_transactions_target_minute_idx
    ON kasho_ops.business_transactions (target, minute);

-- business_pending (gauge): the pending backlog per currency and type as collected; the row
-- with currency and type '*' counts all of them (amount NULL: never summed across currencies).
CREATE TABLE kasho_ops.business_pending (
    collected_at       timestamptz      NOT NULL,
    target             text             NOT NULL,
    currency           text             NOT NULL,
    transaction_type   text             NOT NULL,
    transactions       bigint           NOT NULL,
    amount             numeric,
    oldest_created_at  timestamptz,
    oldest_age_seconds double precision NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX business_pending_target_time_idx
    ON kasho_ops.business_pending (target, collected_at);

-- business_signups (incremental): users (entity 'user') and accounts (entity 'account', per
-- account type and currency) created per minute.
CREATE TABLE kasho_ops.business_signups (
    collected_at timestamptz NOT NULL,
    target       text        NOT NULL,
    minute       timestamptz NOT NULL,
    entity       text        NOT NULL CHECK (entity IN ('user', 'account')),
    account_type text        NOT NULL,
    currency     text        NOT NULL,
    created      bigint      NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX business_signups_target_minute_idx ON kasho_ops.business_signups (target, minute);

-- business_balances (gauge): balances per currency and account type as collected.
CREATE TABLE kasho_ops.business_balances (
    collected_at      timestamptz NOT NULL,
    target            text        NOT NULL,
    currency          text        NOT NULL,
    account_type      text        NOT NULL,
    accounts          bigint      NOT NULL,
    total_balance     numeric     NOT NULL,
    negative_accounts bigint      NOT NULL,
    negative_balance  numeric     NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX business_balances_target_time_idx
    ON kasho_ops.business_balances (target, collected_at);
