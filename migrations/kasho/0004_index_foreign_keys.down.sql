SET lock_timeout = '5s';

DROP INDEX transactions_account_id_created_at_idx;
DROP INDEX accounts_user_id_idx;
