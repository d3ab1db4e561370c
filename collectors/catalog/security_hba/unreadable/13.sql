-- security_hba when the monitoring role may not read pg_hba_file_rules (13.sql says which
-- grants it needs): one row that says so stands for the rules, and 13.sql does not run.
SELECT 0 AS line_number, '' AS type, '' AS database, '' AS user_name, '' AS address,
       '' AS netmask, '' AS auth_method, 'not readable' AS error
WHERE NOT (has_table_privilege('pg_catalog.pg_hba_file_rules', 'SELECT')
           AND has_function_privilege('pg_catalog.pg_hba_file_rules()', 'EXECUTE'))
