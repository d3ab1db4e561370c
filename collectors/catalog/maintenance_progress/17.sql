-- maintenance_progress, PostgreSQL 17+: maintenance running now, one row per backend:
-- VACUUM (pg_stat_progress_vacuum), ANALYZE (pg_stat_progress_analyze), VACUUM FULL and
-- CLUSTER (pg_stat_progress_cluster) and CREATE INDEX / REINDEX (pg_stat_progress_create_index).
-- percent_done follows the phase's own block counter: heap blocks scanned, then vacuumed,
-- for VACUUM; sample blocks for ANALYZE; heap blocks scanned for VACUUM FULL; blocks or
-- tuples done for CREATE INDEX. 17 counts the indexes vacuumed (indexes_processed of
-- indexes_total) and dead item identifiers instead of dead tuples (max_dead_tuples is
-- NULL: 17 limits memory in bytes, not tuples).
-- autovacuum says whether an autovacuum worker runs it; to_prevent_wraparound is
-- autovacuum's own label for a forced freeze. Relations resolve to names only in the
-- database we are connected to; elsewhere 'oid N'.
WITH progress AS (
    SELECT pid, datid, relid, 'VACUUM'::text AS operation, phase,
           heap_blks_total AS blocks_total,
           CASE phase WHEN 'scanning heap' THEN heap_blks_scanned
                      WHEN 'vacuuming heap' THEN heap_blks_vacuumed END AS blocks_done,
           index_vacuum_count, num_dead_item_ids AS dead_tuples, NULL::bigint AS max_dead_tuples,
           indexes_total, indexes_processed
    FROM pg_stat_progress_vacuum
    UNION ALL
    SELECT pid, datid, relid, 'ANALYZE', phase, sample_blks_total,
           CASE phase WHEN 'acquiring sample rows' THEN sample_blks_scanned
                      WHEN 'acquiring inherited sample rows' THEN sample_blks_scanned END,
           NULL, NULL, NULL, NULL, NULL
    FROM pg_stat_progress_analyze
    UNION ALL
    SELECT pid, datid, relid, command, phase, heap_blks_total,
           CASE WHEN phase LIKE 'seq scanning%' THEN heap_blks_scanned END,
           NULL, NULL, NULL, NULL, NULL
    FROM pg_stat_progress_cluster
    UNION ALL
    SELECT pid, datid, relid, command, phase,
           coalesce(nullif(blocks_total, 0), tuples_total),
           CASE WHEN blocks_total > 0 THEN blocks_done ELSE tuples_done END,
           NULL, NULL, NULL, NULL, NULL
    FROM pg_stat_progress_create_index
)
SELECT p.pid,
       coalesce(a.datname, '')::text                                      AS datname,
       p.operation,
       coalesce(CASE WHEN p.datid = (SELECT oid FROM pg_database
                                     WHERE datname = current_database())
                     THEN (SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE c.oid = p.relid) END,
                'oid ' || p.relid)                                          AS relation,
       coalesce(a.backend_type = 'autovacuum worker', false)               AS autovacuum,
       coalesce(a.backend_type = 'autovacuum worker'
                AND a.query LIKE '%(to prevent wraparound)', false)       AS to_prevent_wraparound,
       p.phase,
       p.blocks_total,
       p.blocks_done,
       CASE WHEN p.blocks_total > 0 AND p.blocks_done IS NOT NULL
            THEN least(100.0 * p.blocks_done / p.blocks_total, 100)
            WHEN p.phase = 'vacuuming indexes' AND p.indexes_total > 0
            THEN least(100.0 * p.indexes_processed / p.indexes_total, 100)
       END::float8                                                         AS percent_done,
       p.index_vacuum_count,
       p.dead_tuples,
       p.max_dead_tuples,
       greatest(extract(epoch FROM now() - coalesce(a.query_start, a.xact_start)), 0)::float8
                                                                           AS running_seconds
FROM progress p
LEFT JOIN pg_stat_activity a ON a.pid = p.pid
