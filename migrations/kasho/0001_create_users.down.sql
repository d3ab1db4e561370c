SET lock_timeout = '5s';

-- Destroys every user row.
DROP TABLE users;
