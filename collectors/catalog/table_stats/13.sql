-- table_stats, PostgreSQL 13-17: per-table sizes, tuples, vacuum and analyze state, freeze
-- ages, scans and block I/O (pg_stat_user_tables, pg_statio_user_tables, pg_class) in the
-- database the target connects to. Counters are cumulative since the statistics were reset
-- and stored as read; the pages difference consecutive samples.
--
-- Not every table is kept at every interval: only the top %(top_tables)s by estimated size
-- (pg_class.relpages of the heap and its TOAST table, as of the last VACUUM or ANALYZE), by
-- rows written, by blocks read from disk and by rows read in sequential scans, plus the
-- tables most in need of care: the most overdue for autovacuum and for autoanalyze (or
-- never analyzed) and the oldest frozen XIDs (tracked_because says which). relation_summary
-- counts them all.
--
-- Autovacuum's trigger points are computed as autovacuum does (autovacuum.c,
-- relation_needs_vacanalyze), from the table's own reloptions over the server's settings:
-- vacuum when n_dead_tup > threshold + scale_factor * reltuples, or inserts since the last
-- vacuum > insert threshold (13+, -1 disables it); analyze when n_mod_since_analyze >
-- analyze threshold; freeze when the table's XID age passes autovacuum_freeze_max_age (a
-- table may only lower it). reltuples < 0 (never vacuumed or analyzed) counts as 0.
--
-- The ranking reads every table through the statistics functions the pg_stat_* views are
-- built on (one narrow pass, no per-table aggregation over indexes); the views' full rows
-- and exact sizes are read only for the tables returned. Size functions take a brief
-- ACCESS SHARE lock, so a table that someone holds or awaits an ACCESS EXCLUSIVE lock on
-- (itself or one of its indexes) gets NULL sizes and size_skipped_locked, never a wait.
WITH settings AS MATERIALIZED (
    SELECT current_setting('autovacuum_vacuum_threshold')::float8            AS vac_base,
           current_setting('autovacuum_vacuum_scale_factor')::float8         AS vac_scale,
           current_setting('autovacuum_vacuum_insert_threshold')::float8     AS ins_base,
           current_setting('autovacuum_vacuum_insert_scale_factor')::float8  AS ins_scale,
           current_setting('autovacuum_analyze_threshold')::float8           AS anl_base,
           current_setting('autovacuum_analyze_scale_factor')::float8        AS anl_scale,
           current_setting('autovacuum_freeze_max_age')::bigint              AS freeze_max_age,
           current_setting('autovacuum_multixact_freeze_max_age')::bigint    AS mxid_freeze_max_age
),
locked AS MATERIALIZED (
    SELECT DISTINCT relation FROM pg_locks
    WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock'
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
),
locked_tables AS MATERIALIZED (
    SELECT relation AS relid FROM locked
    UNION
    SELECT i.indrelid FROM pg_index i JOIN locked l ON l.relation = i.indexrelid
),
options AS MATERIALIZED (
    SELECT c.oid AS relid,
           bool_or(o.option_value::boolean)
               FILTER (WHERE o.option_name = 'autovacuum_enabled')                    AS enabled,
           max(o.option_value::float8)
               FILTER (WHERE o.option_name = 'autovacuum_vacuum_threshold')           AS vac_base,
           max(o.option_value::float8)
               FILTER (WHERE o.option_name = 'autovacuum_vacuum_scale_factor')        AS vac_scale,
           max(o.option_value::float8)
               FILTER (WHERE o.option_name = 'autovacuum_vacuum_insert_threshold')    AS ins_base,
           max(o.option_value::float8)
               FILTER (WHERE o.option_name = 'autovacuum_vacuum_insert_scale_factor') AS ins_scale,
           max(o.option_value::float8)
               FILTER (WHERE o.option_name = 'autovacuum_analyze_threshold')          AS anl_base,
           max(o.option_value::float8)
               FILTER (WHERE o.option_name = 'autovacuum_analyze_scale_factor')       AS anl_scale,
           max(o.option_value::bigint)
               FILTER (WHERE o.option_name = 'autovacuum_freeze_max_age')             AS freeze_max_age,
           max(o.option_value::bigint)
               FILTER (WHERE o.option_name = 'autovacuum_multixact_freeze_max_age')
                                                                                AS mxid_freeze_max_age
    FROM pg_class c
    CROSS JOIN LATERAL pg_options_to_table(c.reloptions) o
    WHERE c.reloptions IS NOT NULL AND c.relkind IN ('r', 'm', 'p')
    GROUP BY c.oid
),
index_reads AS MATERIALIZED (
    SELECT i.indrelid AS relid,
           sum(pg_stat_get_blocks_fetched(i.indexrelid)
               - pg_stat_get_blocks_hit(i.indexrelid))::bigint                 AS blks_read
    FROM pg_index i
    GROUP BY i.indrelid
),
tables AS MATERIALIZED (
    SELECT c.oid AS relid, c.relkind,
           c.relpages::bigint + coalesce(toast.relpages, 0)                    AS estimated_pages,
           greatest(c.reltuples, 0)::float8                                    AS reltuples,
           CASE WHEN c.relkind IN ('r', 'm')
                THEN greatest(age(c.relfrozenxid),
                              coalesce(age(toast.relfrozenxid), 0)) END        AS xid_age,
           CASE WHEN c.relkind IN ('r', 'm')
                THEN greatest(mxid_age(c.relminmxid),
                              coalesce(mxid_age(toast.relminmxid), 0)) END     AS mxid_age,
           pg_stat_get_tuples_inserted(c.oid) + pg_stat_get_tuples_updated(c.oid)
               + pg_stat_get_tuples_deleted(c.oid)                             AS rows_written,
           pg_stat_get_blocks_fetched(c.oid) - pg_stat_get_blocks_hit(c.oid)
               + coalesce(pg_stat_get_blocks_fetched(toast.oid)
                          - pg_stat_get_blocks_hit(toast.oid), 0)
               + coalesce(ir.blks_read, 0)                                     AS blocks_read,
           pg_stat_get_tuples_returned(c.oid)                                  AS seq_tup_read,
           pg_stat_get_dead_tuples(c.oid)                                      AS n_dead_tup,
           pg_stat_get_ins_since_vacuum(c.oid)                                 AS n_ins_since_vacuum,
           pg_stat_get_mod_since_analyze(c.oid)                                AS n_mod_since_analyze,
           pg_stat_get_last_analyze_time(c.oid) IS NULL
               AND pg_stat_get_last_autoanalyze_time(c.oid) IS NULL            AS never_analyzed,
           coalesce(o.enabled, true)                                           AS autovacuum_enabled,
           coalesce(o.vac_base, st.vac_base)
             + coalesce(o.vac_scale, st.vac_scale) * greatest(c.reltuples, 0)  AS vacuum_threshold,
           CASE WHEN coalesce(o.ins_base, st.ins_base) >= 0
                THEN coalesce(o.ins_base, st.ins_base)
                     + coalesce(o.ins_scale, st.ins_scale) * greatest(c.reltuples, 0)
           END                                                                 AS insert_threshold,
           coalesce(o.anl_base, st.anl_base)
             + coalesce(o.anl_scale, st.anl_scale) * greatest(c.reltuples, 0)  AS analyze_threshold,
           least(coalesce(o.freeze_max_age, st.freeze_max_age), st.freeze_max_age)
                                                                               AS freeze_max_age,
           least(coalesce(o.mxid_freeze_max_age, st.mxid_freeze_max_age),
                 st.mxid_freeze_max_age)                                       AS mxid_freeze_max_age
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN settings st
    LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
    LEFT JOIN options o ON o.relid = c.oid
    LEFT JOIN index_reads ir ON ir.relid = c.oid
    WHERE c.relkind IN ('r', 'm', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_toast'
),
assessed AS MATERIALIZED (
    SELECT t.*,
           t.relkind <> 'p' AND (t.n_dead_tup > t.vacuum_threshold
               OR (t.insert_threshold IS NOT NULL AND t.n_ins_since_vacuum > t.insert_threshold))
                                                                       AS needs_vacuum,
           t.relkind <> 'p' AND t.n_mod_since_analyze > t.analyze_threshold AS needs_analyze,
           coalesce(t.xid_age > t.freeze_max_age OR t.mxid_age > t.mxid_freeze_max_age, false)
                                                                       AS needs_freeze
    FROM tables t
),
picks AS (
    (SELECT relid, 'size' AS why FROM assessed
     ORDER BY estimated_pages DESC, relid LIMIT %(top_tables)s)
    UNION ALL
    (SELECT relid, 'writes' FROM assessed WHERE rows_written > 0
     ORDER BY rows_written DESC, relid LIMIT %(top_tables)s)
    UNION ALL
    (SELECT relid, 'reads' FROM assessed WHERE blocks_read > 0
     ORDER BY blocks_read DESC, relid LIMIT %(top_tables)s)
    UNION ALL
    (SELECT relid, 'seq_scans' FROM assessed WHERE seq_tup_read > 0
     ORDER BY seq_tup_read DESC, relid LIMIT %(top_tables)s)
    UNION ALL
    (SELECT relid, 'vacuum' FROM assessed WHERE needs_vacuum
     ORDER BY greatest(n_dead_tup - vacuum_threshold,
                       n_ins_since_vacuum - coalesce(insert_threshold, 'Infinity')) DESC, relid
     LIMIT %(top_tables)s)
    UNION ALL
    (SELECT relid, 'analyze' FROM assessed WHERE needs_analyze OR never_analyzed
     ORDER BY n_mod_since_analyze - analyze_threshold DESC, relid LIMIT %(top_tables)s)
    UNION ALL
    (SELECT relid, 'freeze' FROM assessed WHERE xid_age IS NOT NULL
     ORDER BY xid_age DESC, relid LIMIT %(top_tables)s)
),
chosen AS MATERIALIZED (
    SELECT a.*, p.tracked_because,
           a.relid IN (SELECT relid FROM locked_tables)                AS size_skipped_locked
    FROM (SELECT relid, array_agg(why ORDER BY why) AS tracked_because
          FROM picks GROUP BY relid) p
    JOIN assessed a USING (relid)
),
sized AS (
    SELECT ch.*, s.schemaname, s.relname, s.n_live_tup,
           s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
           s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,
           s.seq_scan, coalesce(s.idx_scan, 0) AS idx_scan,
           coalesce(s.idx_tup_fetch, 0) AS idx_tup_fetch,
           s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_tup_hot_upd,
           coalesce(io.heap_blks_read, 0) AS heap_blks_read,
           coalesce(io.heap_blks_hit, 0) AS heap_blks_hit,
           coalesce(io.idx_blks_read, 0) AS idx_blks_read,
           coalesce(io.idx_blks_hit, 0) AS idx_blks_hit,
           coalesce(io.toast_blks_read, 0) + coalesce(io.tidx_blks_read, 0) AS toast_blks_read,
           coalesce(io.toast_blks_hit, 0) + coalesce(io.tidx_blks_hit, 0) AS toast_blks_hit,
           CASE WHEN NOT ch.size_skipped_locked AND ch.relkind <> 'p'
                THEN pg_table_size(ch.relid) END                      AS table_and_toast_bytes,
           CASE WHEN ch.size_skipped_locked THEN NULL
                WHEN c.reltoastrelid <> 0 THEN pg_total_relation_size(c.reltoastrelid)
                ELSE 0 END                                             AS toast_bytes,
           CASE WHEN NOT ch.size_skipped_locked
                THEN pg_indexes_size(ch.relid) END                     AS indexes_bytes
    FROM chosen ch
    JOIN pg_class c ON c.oid = ch.relid
    -- = ANY of an array, not a join: the filter reaches inside the views' GROUP BY, so
    -- only the chosen tables are aggregated.
    JOIN pg_stat_user_tables s ON s.relid = ch.relid
         AND s.relid = ANY (ARRAY(SELECT relid FROM chosen))
    LEFT JOIN pg_statio_user_tables io ON io.relid = ch.relid
         AND io.relid = ANY (ARRAY(SELECT relid FROM chosen))
)
SELECT relid::bigint                                         AS relid,
       schemaname::text                                      AS schemaname,
       relname::text                                         AS relname,
       relkind::text                                         AS relkind,
       tracked_because,
       size_skipped_locked,
       table_and_toast_bytes - toast_bytes                   AS heap_bytes,
       toast_bytes,
       indexes_bytes,
       table_and_toast_bytes + indexes_bytes                 AS total_bytes,
       reltuples,
       n_live_tup, n_dead_tup,
       (n_dead_tup::float8 / nullif(n_live_tup + n_dead_tup, 0))::float8 AS dead_tuple_ratio,
       n_mod_since_analyze, n_ins_since_vacuum,
       vacuum_threshold, insert_threshold, analyze_threshold,
       autovacuum_enabled, needs_vacuum, needs_analyze, needs_freeze, never_analyzed,
       last_vacuum, last_autovacuum, last_analyze, last_autoanalyze,
       vacuum_count, autovacuum_count, analyze_count, autoanalyze_count,
       xid_age::bigint                                       AS xid_age,
       mxid_age::bigint                                      AS mxid_age,
       freeze_max_age, mxid_freeze_max_age,
       seq_scan, seq_tup_read, idx_scan, idx_tup_fetch,
       n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd,
       heap_blks_read, heap_blks_hit, idx_blks_read, idx_blks_hit, toast_blks_read, toast_blks_hit
FROM sized
