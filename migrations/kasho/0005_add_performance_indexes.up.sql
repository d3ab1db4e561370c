SET lock_timeout = '5s';

-- Performance indexes. On a table that already holds rows, build each one with
-- CREATE INDEX CONCURRENTLY, alone in its own migration file, so payments keep flowing.

-- Rows created in a time range: finance reports, and each run of Kasho Ops' business
-- collectors, which read only the transactions created since their previous run.
CREATE INDEX transactions_created_at_idx ON transactions (created_at);
-- Rows changed in a time range: status changes (pending -> completed/failed, reversals) since
-- the previous run. It costs HOT updates on status changes (updated_at changes with every
-- update anyway, through the trigger of 0006); inserts, the bulk of writes, are unaffected.
CREATE INDEX transactions_updated_at_idx ON transactions (updated_at);
-- The settlement queue (oldest pending first) and the pending backlog: pending rows are a
-- small, moving fraction of the table, so a partial index stays small.
CREATE INDEX transactions_pending_created_at_idx ON transactions (created_at)
    WHERE status = 'pending';
-- New users per interval (sign-ups), read since the previous run.
CREATE INDEX users_created_at_idx ON users (created_at);
-- New accounts per interval and account type, read since the previous run.
CREATE INDEX accounts_created_at_idx ON accounts (created_at);
