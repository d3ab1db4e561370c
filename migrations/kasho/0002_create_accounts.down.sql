SET lock_timeout = '5s';

-- Destroys every account row.
DROP TABLE accounts;
