SET lock_timeout = '5s';

DROP TRIGGER transactions_set_updated_at ON transactions;
DROP TRIGGER accounts_set_updated_at ON accounts;
DROP TRIGGER users_set_updated_at ON users;
DROP FUNCTION set_updated_at();
