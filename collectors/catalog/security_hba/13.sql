-- security_hba, PostgreSQL 13+: the rules of pg_hba.conf as loaded, where readable. Only
-- superusers may read pg_hba_file_rules unless granted:
--   GRANT SELECT ON pg_hba_file_rules TO kasho_ops_monitor;
--   GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO kasho_ops_monitor;
-- Without that the group stores one row, line_number 0 with error 'not readable', instead of
-- failing every run: the view is read through query_to_xml only when the privileges allow.
WITH readable AS (
    SELECT has_table_privilege('pg_catalog.pg_hba_file_rules', 'SELECT')
           AND has_function_privilege('pg_catalog.pg_hba_file_rules()', 'EXECUTE') AS ok
)
SELECT coalesce(rule.line_number, -1) AS line_number, coalesce(rule.type, '') AS type,
       coalesce(rule.database, '') AS database, coalesce(rule.user_name, '') AS user_name,
       coalesce(rule.address, '') AS address, coalesce(rule.netmask, '') AS netmask,
       coalesce(rule.auth_method, '') AS auth_method, coalesce(rule.error, '') AS error
FROM readable, xmltable('/table/row' PASSING CASE WHEN readable.ok THEN query_to_xml($q$
        SELECT line_number, coalesce(type, '') AS type,
               coalesce(array_to_string(database, ','), '') AS database,
               coalesce(array_to_string(user_name, ','), '') AS user_name,
               coalesce(address, '') AS address, coalesce(netmask, '') AS netmask,
               coalesce(auth_method, '') AS auth_method, coalesce(error, '') AS error
        FROM pg_catalog.pg_hba_file_rules$q$, false, false, '') END
    COLUMNS line_number integer, type text, database text, user_name text, address text,
            netmask text, auth_method text, error text) AS rule
UNION ALL
SELECT 0, '', '', '', '', '', '', 'not readable' FROM readable WHERE NOT readable.ok
