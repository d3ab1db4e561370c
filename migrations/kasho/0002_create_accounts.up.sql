SET lock_timeout = '5s';

CREATE TABLE accounts (
    id             uuid          NOT NULL DEFAULT gen_random_uuid(),
    user_id        uuid          NOT NULL,
    account_number text          NOT NULL,
    currency       text          NOT NULL,
    balance        numeric(19,4) NOT NULL DEFAULT 0,
    status         text          NOT NULL DEFAULT 'open',
    created_at     timestamptz   NOT NULL DEFAULT now(),
    updated_at     timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT accounts_pkey PRIMARY KEY (id),
    CONSTRAINT accounts_account_number_key UNIQUE (account_number),
    CONSTRAINT accounts_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT accounts_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT accounts_status_check CHECK (status IN ('open', 'frozen', 'closed'))
);

CREATE INDEX accounts_user_id_idx ON accounts (user_id);

CREATE TRIGGER accounts_set_updated_at
    BEFORE UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
