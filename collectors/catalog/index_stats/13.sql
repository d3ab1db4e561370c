-- index_stats, PostgreSQL 13-15: indexes of the database the target connects to, from
-- pg_index, pg_class and the statistics functions behind pg_stat_user_indexes and
-- pg_statio_user_indexes. Counters are cumulative since the statistics were reset (13-15
-- keep no per-index last scan time: last_idx_scan is NULL) and stored as read.
--
-- Returned: every index with a finding, up to %(top_tables)s of each kind, and the top
-- %(top_tables)s by estimated size (relpages) and by blocks read from disk (tracked_because
-- says which). Findings:
--   invalid    indisvalid is false: a CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY
--              that failed (or, with build_in_progress, one still running)
--   unused     no scan since the statistics were reset; primary keys, unique indexes and
--              indexes backing a constraint are never called unused (they enforce rules)
--   duplicate  same table, method, key and INCLUDE columns, operator classes,
--              collations, sort options, expressions and predicate as another index
--              (duplicate_of names the one to keep: primary key, then constraint, then
--              unique, then the oldest)
--   redundant  a B-tree whose key columns are a leading prefix of another valid B-tree's
--              with the same predicate (redundant_with names it); not unique, backs no
--              constraint, no expressions or INCLUDE columns
-- table_index_writes is the table's inserts plus non-HOT updates: each adds an entry to
-- every index of the table, the write cost an index adds.
-- Exact sizes and definitions only for the rows returned. Size functions, pg_get_indexdef
-- and pg_get_expr take an ACCESS SHARE lock on the table: an index whose table or itself
-- someone holds or awaits an ACCESS EXCLUSIVE lock on gets NULL size and definition
-- (size_skipped_locked) and is left out of the duplicate and redundant comparisons.
WITH locked AS MATERIALIZED (
    SELECT DISTINCT relation FROM pg_locks
    WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock'
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
),
-- One narrow row per index of a user table (it is scanned once per ranking below), from
-- pg_index and the index's own pg_class row in one pass: an index lives in its table's
-- schema, and outside pg_catalog and pg_toast an index of relkind 'i' belongs to a table or
-- materialized view (a partitioned table's are 'I'), so the table's row is not needed here.
-- enforces: primary key, unique or exclusion, the only indexes that back a constraint
-- (contype p, u, x); the constraint's name is looked up for the few rows that need it.
indexes AS MATERIALIZED (
    SELECT x.indexrelid, x.indrelid, ic.relpages::bigint AS estimated_pages,
           ic.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')         AS is_btree,
           x.indisunique, x.indisprimary, x.indisvalid, x.indnkeyatts,
           x.indisunique OR x.indisprimary OR x.indisexclusion               AS enforces,
           x.indnatts > x.indnkeyatts                                        AS has_include,
           x.indexprs IS NOT NULL                                            AS has_expressions,
           x.indkey[0]                                                       AS first_key,
           x.indexrelid IN (SELECT relation FROM locked)
               OR x.indrelid IN (SELECT relation FROM locked)                AS locked,
           pg_stat_get_numscans(x.indexrelid)                                AS idx_scan,
           pg_stat_get_blocks_fetched(x.indexrelid)
               - pg_stat_get_blocks_hit(x.indexrelid)                        AS idx_blks_read
    FROM pg_index x
    JOIN pg_class ic ON ic.oid = x.indexrelid
    JOIN pg_namespace n ON n.oid = ic.relnamespace
    WHERE ic.relkind = 'i'
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_toast'
),
-- Only indexes sharing their table and first key column with another can be duplicates
-- or redundant: the costly comparisons below look at those alone.
candidates AS MATERIALIZED (
    SELECT i.*, x.indkey, x.indclass, x.indoption, x.indcollation, x.indexprs, x.indpred,
           am.amname,
           (SELECT k.conname FROM pg_constraint k
            WHERE i.enforces AND k.conindid = i.indexrelid AND k.conrelid = i.indrelid
              AND k.contype IN ('p', 'u', 'x'))                              AS constraint_name
    FROM indexes i
    JOIN pg_index x USING (indexrelid)
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_am am ON am.oid = ic.relam
    WHERE i.indisvalid AND NOT i.locked
      AND (i.indrelid, i.first_key) IN (SELECT indrelid, first_key FROM indexes
                                        WHERE indisvalid
                                        GROUP BY 1, 2 HAVING count(*) > 1)
),
-- Everything that makes two indexes the same, as one string (expressions and predicates
-- deparsed, so the same expression written differently still matches).
signatures AS MATERIALIZED (
    SELECT indexrelid,
           concat_ws('|', indrelid, amname, indkey, indclass, indcollation, indoption,
                     CASE WHEN indexprs IS NOT NULL THEN pg_get_expr(indexprs, indrelid) END,
                     CASE WHEN indpred IS NOT NULL THEN pg_get_expr(indpred, indrelid) END)
                                                                             AS signature
    FROM candidates
),
duplicates AS MATERIALIZED (
    SELECT indexrelid, keeper
    FROM (SELECT c.indexrelid,
                 first_value(c.indexrelid) OVER (
                     PARTITION BY s.signature
                     ORDER BY c.indisprimary DESC, c.constraint_name IS NOT NULL DESC,
                              c.indisunique DESC, c.indexrelid)               AS keeper
          FROM signatures s
          JOIN candidates c USING (indexrelid)) d
    WHERE indexrelid <> keeper
),
-- Leading key prefixes of the candidate B-trees without expressions, as strings: an index
-- whose whole key equals a proper prefix of another's is redundant.
prefixes AS MATERIALIZED (
    SELECT c.indexrelid, p.len, p.len = c.indnkeyatts AS whole, c.indnkeyatts,
           NOT c.indisunique AND c.constraint_name IS NULL AND NOT c.has_include AS droppable,
           concat_ws('|', c.indrelid,
                     ((string_to_array(c.indkey::text, ' '))[1:p.len])::text,
                     ((string_to_array(c.indclass::text, ' '))[1:p.len])::text,
                     ((string_to_array(c.indoption::text, ' '))[1:p.len])::text,
                     CASE WHEN c.indpred IS NOT NULL
                          THEN pg_get_expr(c.indpred, c.indrelid) END)       AS prefix
    FROM candidates c
    CROSS JOIN LATERAL generate_series(1, c.indnkeyatts) AS p(len)
    WHERE c.is_btree AND NOT c.has_expressions
),
redundant AS MATERIALIZED (
    SELECT DISTINCT ON (a.indexrelid) a.indexrelid, b.indexrelid AS covering
    FROM prefixes a
    JOIN prefixes b ON b.prefix = a.prefix AND NOT b.whole AND b.indexrelid <> a.indexrelid
    WHERE a.whole AND a.droppable
      AND a.indexrelid NOT IN (SELECT indexrelid FROM duplicates)
    ORDER BY a.indexrelid, b.indnkeyatts, b.indexrelid
),
building AS MATERIALIZED (
    SELECT index_relid FROM pg_stat_progress_create_index
),
picks AS (
    (SELECT indexrelid, 'invalid' AS why FROM indexes WHERE NOT indisvalid
     ORDER BY estimated_pages DESC, indexrelid LIMIT %(top_tables)s)
    UNION ALL
    (SELECT i.indexrelid, 'unused' FROM indexes i
     WHERE i.indisvalid AND i.idx_scan = 0 AND NOT i.enforces
     ORDER BY i.estimated_pages DESC, i.indexrelid LIMIT %(top_tables)s)
    UNION ALL
    (SELECT d.indexrelid, 'duplicate' FROM duplicates d JOIN indexes i USING (indexrelid)
     ORDER BY i.estimated_pages DESC, d.indexrelid LIMIT %(top_tables)s)
    UNION ALL
    (SELECT r.indexrelid, 'redundant' FROM redundant r JOIN indexes i USING (indexrelid)
     ORDER BY i.estimated_pages DESC, r.indexrelid LIMIT %(top_tables)s)
    UNION ALL
    (SELECT indexrelid, 'size' FROM indexes
     ORDER BY estimated_pages DESC, indexrelid LIMIT %(top_tables)s)
    UNION ALL
    (SELECT indexrelid, 'reads' FROM indexes WHERE idx_blks_read > 0
     ORDER BY idx_blks_read DESC, indexrelid LIMIT %(top_tables)s)
),
-- At most six rankings of %(top_tables)s each: the LIMIT cuts nothing; it tells the planner
-- how few rows follow. Blind to what a CTE holds, it would cost the lookups below for every
-- index, which on a big catalog is enough to JIT-compile the query (100-300 ms of CPU).
chosen AS MATERIALIZED (
    SELECT i.*,
           d.keeper                                                    AS duplicate_of_oid,
           r.covering                                                  AS redundant_with_oid,
           array_remove(p.why, NULL)                                   AS tracked_because,
           array_remove(ARRAY[CASE WHEN NOT i.indisvalid THEN 'invalid' END,
                              CASE WHEN i.indisvalid AND i.idx_scan = 0 AND NOT i.enforces
                                   THEN 'unused' END,
                              CASE WHEN d.keeper IS NOT NULL THEN 'duplicate' END,
                              CASE WHEN r.covering IS NOT NULL THEN 'redundant' END],
                        NULL)                                          AS findings,
           i.locked                                                    AS size_skipped_locked
    FROM (SELECT indexrelid, array_agg(why ORDER BY why) AS why
          FROM picks GROUP BY indexrelid) p
    JOIN indexes i USING (indexrelid)
    LEFT JOIN duplicates d USING (indexrelid)
    LEFT JOIN redundant r USING (indexrelid)
    LIMIT 6 * %(top_tables)s
)
-- The few chosen rows get their names, definitions and exact sizes by index lookups (OFFSET
-- 0 keeps each LATERAL a per-row probe of pg_class's oid index: pulled up, the planner may
-- hash all of pg_class instead).
SELECT ch.indexrelid::bigint                                         AS indexrelid,
       ch.indrelid::bigint                                           AS relid,
       t.nspname::text                                               AS schemaname,
       t.relname::text                                               AS relname,
       ix.relname::text                                              AS indexrelname,
       ix.amname::text                                               AS amname,
       CASE WHEN NOT ch.size_skipped_locked
            THEN pg_get_indexdef(ch.indexrelid) END                   AS definition,
       (SELECT k.conname FROM pg_constraint k
        WHERE ch.enforces AND k.conindid = ch.indexrelid AND k.conrelid = ch.indrelid
          AND k.contype IN ('p', 'u', 'x'))::text                    AS constraint_name,
       ch.tracked_because,
       ch.findings,
       ch.size_skipped_locked,
       CASE WHEN NOT ch.size_skipped_locked THEN pg_relation_size(ch.indexrelid) END
                                                                     AS index_bytes,
       ch.idx_scan,
       pg_stat_get_tuples_returned(ch.indexrelid)                    AS idx_tup_read,
       pg_stat_get_tuples_fetched(ch.indexrelid)                     AS idx_tup_fetch,
       ch.idx_blks_read,
       pg_stat_get_blocks_hit(ch.indexrelid)                         AS idx_blks_hit,
       NULL::timestamptz                                             AS last_idx_scan,
       ch.indisunique                                                AS is_unique,
       ch.indisprimary                                               AS is_primary,
       ch.indisvalid                                                 AS is_valid,
       ch.indexrelid IN (SELECT index_relid FROM building)            AS build_in_progress,
       (SELECT relname FROM pg_class WHERE oid = ch.duplicate_of_oid)::text
                                                                     AS duplicate_of,
       (SELECT relname FROM pg_class WHERE oid = ch.redundant_with_oid)::text
                                                                     AS redundant_with,
       pg_stat_get_tuples_inserted(ch.indrelid)
           + pg_stat_get_tuples_updated(ch.indrelid)
           - pg_stat_get_tuples_hot_updated(ch.indrelid)             AS table_index_writes
FROM chosen ch
CROSS JOIN LATERAL (SELECT ic.relname, am.amname FROM pg_class ic
                    JOIN pg_am am ON am.oid = ic.relam
                    WHERE ic.oid = ch.indexrelid OFFSET 0) ix
CROSS JOIN LATERAL (SELECT tc.relname, n.nspname FROM pg_class tc
                    JOIN pg_namespace n ON n.oid = tc.relnamespace
                    WHERE tc.oid = ch.indrelid OFFSET 0) t
