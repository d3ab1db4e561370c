-- security_hba, PostgreSQL 13+: the rules of pg_hba.conf as loaded. Only superusers may read
-- pg_hba_file_rules unless granted:
--   GRANT SELECT ON pg_hba_file_rules TO kasho_ops_monitor;
--   GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO kasho_ops_monitor;
-- Without that, unreadable/13.sql stands in: one row, line_number 0 with error 'not readable'.
SELECT coalesce(line_number, -1) AS line_number, coalesce(type, '') AS type,
       coalesce(array_to_string(database, ','), '') AS database,
       coalesce(array_to_string(user_name, ','), '') AS user_name,
       coalesce(address, '') AS address, coalesce(netmask, '') AS netmask,
       coalesce(auth_method, '') AS auth_method, coalesce(error, '') AS error
FROM pg_catalog.pg_hba_file_rules
