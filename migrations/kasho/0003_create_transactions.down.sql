SET lock_timeout = '5s';

-- Destroys every transaction row.
DROP TABLE transactions;
