-- database_size, PostgreSQL 13+: pg_database + pg_database_size().
-- Templates and databases that refuse connections are skipped: their size never changes
-- and pg_database_size() on them needs CONNECT.
SELECT datname,
       pg_database_size(oid) AS size_bytes
FROM pg_database
WHERE datallowconn AND NOT datistemplate
