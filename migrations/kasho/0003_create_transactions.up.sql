SET lock_timeout = '5s';

-- One row per money movement on one account. A transfer is two rows, transfer_out on the
-- payer and transfer_in on the payee, each naming the other as counterparty.
CREATE TABLE transactions (
    id                      uuid          NOT NULL DEFAULT gen_random_uuid(),
    account_id              uuid          NOT NULL,
    counterparty_account_id uuid,
    kind                    text          NOT NULL,
    amount                  numeric(19,4) NOT NULL,
    currency                text          NOT NULL,
    status                  text          NOT NULL DEFAULT 'pending',
    description             text,
    created_at              timestamptz   NOT NULL DEFAULT now(),
    updated_at              timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT transactions_pkey PRIMARY KEY (id),
    CONSTRAINT transactions_account_id_fkey
        FOREIGN KEY (account_id) REFERENCES accounts (id),
    CONSTRAINT transactions_counterparty_account_id_fkey
        FOREIGN KEY (counterparty_account_id) REFERENCES accounts (id),
    CONSTRAINT transactions_kind_check
        CHECK (kind IN ('deposit', 'withdrawal', 'transfer_in', 'transfer_out', 'fee')),
    CONSTRAINT transactions_amount_check CHECK (amount > 0),
    CONSTRAINT transactions_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT transactions_status_check
        CHECK (status IN ('pending', 'completed', 'failed', 'reversed')),
    CONSTRAINT transactions_counterparty_check CHECK (
        (kind IN ('transfer_in', 'transfer_out')) = (counterparty_account_id IS NOT NULL)
        AND counterparty_account_id IS DISTINCT FROM account_id)
);

-- An account's statement, newest first.
CREATE INDEX transactions_account_id_created_at_idx
    ON transactions (account_id, created_at DESC);
-- The settlement queue: pending rows are few, oldest first.
CREATE INDEX transactions_pending_created_at_idx
    ON transactions (created_at) WHERE status = 'pending';
-- Rows arrive in time order, so a BRIN index serves time-range reports at a tiny size.
CREATE INDEX transactions_created_at_brin
    ON transactions USING brin (created_at);
-- For the foreign key (deleting an account) and "transfers from X"; most rows have none.
CREATE INDEX transactions_counterparty_account_id_idx
    ON transactions (counterparty_account_id) WHERE counterparty_account_id IS NOT NULL;

CREATE TRIGGER transactions_set_updated_at
    BEFORE UPDATE ON transactions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
