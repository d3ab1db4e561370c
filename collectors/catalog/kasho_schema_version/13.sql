-- kasho_schema_version, PostgreSQL 13+: the golang-migrate version of the Kasho database
-- (its schema_migrations table: one row, version and dirty), so a schema migration shows on
-- the on-call timeline. Always one row: table_readable is false when the table is missing
-- from the connection's search path or the monitoring role may not read it (GRANT SELECT ON
-- schema_migrations TO the monitoring role). query_to_xml reads the table only when it can,
-- so a server without it is not an error.
WITH migrations AS (
    SELECT to_regclass('schema_migrations') AS relation
),
readable AS (
    SELECT relation,
           relation IS NOT NULL AND has_table_privilege(relation, 'SELECT') AS ok
    FROM migrations
),
content AS (
    SELECT ok,
           CASE WHEN ok THEN query_to_xml('SELECT version, dirty FROM ' || relation::text
                                          || ' LIMIT 1', false, true, '') END AS doc
    FROM readable
)
SELECT ok                                                       AS table_readable,
       ((xpath('/row/version/text()', doc))[1])::text::bigint   AS version,
       ((xpath('/row/dirty/text()', doc))[1])::text::boolean    AS dirty
FROM content
