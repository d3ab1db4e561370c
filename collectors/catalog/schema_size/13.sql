-- schema_size, PostgreSQL 13+: bytes per schema of the database the target connects to:
-- tables (heap and TOAST, with free space and visibility maps: pg_table_size) and their
-- indexes (pg_indexes_size), summed over every table and materialized view. Together the
-- two calls do what pg_total_relation_size does, no more; the TOAST share of each table is
-- in table_stats, for the tables it tracks. The size functions take a brief ACCESS SHARE lock on each
-- relation, which would queue behind DDL: a table that someone holds or awaits an ACCESS
-- EXCLUSIVE lock on (itself or one of its indexes) is skipped and counted, never waited for
-- (as pganalyze's collector does). System schemas are left out.
WITH locked AS MATERIALIZED (
    SELECT DISTINCT relation FROM pg_locks
    WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock'
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
),
locked_tables AS MATERIALIZED (
    SELECT relation AS relid FROM locked
    UNION
    SELECT i.indrelid FROM pg_index i JOIN locked l ON l.relation = i.indexrelid
),
tables AS (
    SELECT n.nspname, c.oid,
           c.oid IN (SELECT relid FROM locked_tables) AS skipped
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'm')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
),
sized AS (
    SELECT nspname, skipped,
           CASE WHEN NOT skipped THEN pg_table_size(oid) END            AS table_bytes,
           CASE WHEN NOT skipped THEN pg_indexes_size(oid) END          AS index_bytes
    FROM tables
)
SELECT nspname::text                                          AS schemaname,
       count(*)::integer                                      AS tables,
       count(*) FILTER (WHERE skipped)::integer               AS tables_skipped_locked,
       coalesce(sum(table_bytes), 0)::bigint                  AS table_bytes,
       coalesce(sum(index_bytes), 0)::bigint                  AS index_bytes,
       coalesce(sum(table_bytes + index_bytes), 0)::bigint    AS total_bytes
FROM sized
GROUP BY nspname
