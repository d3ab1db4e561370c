SET lock_timeout = '5s';

DROP INDEX accounts_created_at_idx;
DROP INDEX users_created_at_idx;
DROP INDEX transactions_pending_created_at_idx;
DROP INDEX transactions_updated_at_idx;
DROP INDEX transactions_created_at_idx;
