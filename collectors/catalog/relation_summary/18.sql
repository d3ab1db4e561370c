-- relation_summary, PostgreSQL 18+: the same as 13.sql, except that PostgreSQL 18's
-- autovacuum_vacuum_max_threshold (server setting or reloption; -1 disables it) caps
-- each table's vacuum threshold, as autovacuum does. 13.sql's header explains the rest.
WITH settings AS MATERIALIZED (
    SELECT current_setting('autovacuum_vacuum_threshold')::float8            AS vac_base,
           current_setting('autovacuum_vacuum_scale_factor')::float8         AS vac_scale,
           current_setting('autovacuum_vacuum_max_threshold')::float8        AS vac_max,
           current_setting('autovacuum_vacuum_insert_threshold')::float8     AS ins_base,
           current_setting('autovacuum_vacuum_insert_scale_factor')::float8  AS ins_scale,
           current_setting('autovacuum_analyze_threshold')::float8           AS anl_base,
           current_setting('autovacuum_analyze_scale_factor')::float8        AS anl_scale,
           current_setting('autovacuum_freeze_max_age')::bigint              AS freeze_max_age,
           current_setting('autovacuum_multixact_freeze_max_age')::bigint    AS mxid_freeze_max_age
),
tables AS (
    SELECT c.oid AS relid, c.relkind,
           greatest(c.reltuples, 0)::float8                                    AS reltuples,
           CASE WHEN c.relkind IN ('r', 'm')
                THEN greatest(age(c.relfrozenxid),
                              coalesce(age(toast.relfrozenxid), 0)) END        AS xid_age,
           CASE WHEN c.relkind IN ('r', 'm')
                THEN greatest(mxid_age(c.relminmxid),
                              coalesce(mxid_age(toast.relminmxid), 0)) END     AS mxid_age,
           pg_stat_get_live_tuples(c.oid)                                      AS n_live_tup,
           pg_stat_get_dead_tuples(c.oid)                                      AS n_dead_tup,
           pg_stat_get_ins_since_vacuum(c.oid)                                 AS n_ins_since_vacuum,
           pg_stat_get_mod_since_analyze(c.oid)                                AS n_mod_since_analyze,
           pg_stat_get_last_analyze_time(c.oid) IS NULL
               AND pg_stat_get_last_autoanalyze_time(c.oid) IS NULL            AS never_analyzed,
           coalesce(o.enabled, true)                                           AS autovacuum_enabled,
           CASE WHEN coalesce(o.vac_max, st.vac_max) >= 0
                THEN least(coalesce(o.vac_base, st.vac_base)
                           + coalesce(o.vac_scale, st.vac_scale) * greatest(c.reltuples, 0),
                           coalesce(o.vac_max, st.vac_max))
                ELSE coalesce(o.vac_base, st.vac_base)
                     + coalesce(o.vac_scale, st.vac_scale) * greatest(c.reltuples, 0)
           END                                                                 AS vacuum_threshold,
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
    LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid AND toast.relkind = 't'
    LEFT JOIN LATERAL (
        -- a table's own autovacuum settings (reloptions), read only where it has any
        SELECT
               bool_or(o.option_value::boolean)
                   FILTER (WHERE o.option_name = 'autovacuum_enabled')                    AS enabled,
               max(o.option_value::float8)
                   FILTER (WHERE o.option_name = 'autovacuum_vacuum_threshold')           AS vac_base,
               max(o.option_value::float8)
                   FILTER (WHERE o.option_name = 'autovacuum_vacuum_scale_factor')        AS vac_scale,
               max(o.option_value::float8)
                   FILTER (WHERE o.option_name = 'autovacuum_vacuum_max_threshold')       AS vac_max,
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
        FROM pg_options_to_table(c.reloptions) o
        WHERE c.reloptions IS NOT NULL) o ON true
    WHERE c.relkind IN ('r', 'm', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_toast'
),
-- Indexes (relkind 'i') of the tables above, found as index_stats finds them: outside
-- pg_catalog and pg_toast an index of relkind 'i' is a table's or a materialized view's, in
-- its schema. Only primary key, unique and exclusion indexes back a constraint (p, u, x).
indexes AS (
    SELECT x.indisvalid,
           x.indisvalid AND pg_stat_get_numscans(x.indexrelid) = 0 AND NOT x.indisunique
               AND NOT x.indisprimary AND NOT x.indisexclusion             AS unused,
           ic.relpages::bigint * current_setting('block_size')::bigint     AS estimated_bytes
    FROM pg_index x
    JOIN pg_class ic ON ic.oid = x.indexrelid
    JOIN pg_namespace n ON n.oid = ic.relnamespace
    WHERE ic.relkind = 'i'
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_toast'
)
SELECT current_database()::text                                        AS datname,
       (SELECT stats_reset FROM pg_stat_database
        WHERE datname = current_database())                            AS stats_reset,
       t.tables, t.tables_needing_vacuum, t.tables_needing_analyze, t.tables_never_analyzed,
       t.tables_needing_freeze, t.tables_autovacuum_disabled, t.live_tuples, t.dead_tuples,
       t.oldest_xid_age,
       i.indexes, i.invalid_indexes, i.unused_indexes, i.unused_index_estimated_bytes
FROM (SELECT count(*)::integer                                         AS tables,
             count(*) FILTER (WHERE relkind <> 'p' AND (n_dead_tup > vacuum_threshold
                 OR (insert_threshold IS NOT NULL AND n_ins_since_vacuum > insert_threshold))
             )::integer                                                AS tables_needing_vacuum,
             count(*) FILTER (WHERE relkind <> 'p'
                                AND n_mod_since_analyze > analyze_threshold)::integer
                                                                       AS tables_needing_analyze,
             count(*) FILTER (WHERE never_analyzed)::integer           AS tables_never_analyzed,
             count(*) FILTER (WHERE xid_age > freeze_max_age
                                 OR mxid_age > mxid_freeze_max_age)::integer
                                                                       AS tables_needing_freeze,
             count(*) FILTER (WHERE NOT autovacuum_enabled)::integer   AS tables_autovacuum_disabled,
             coalesce(sum(n_live_tup), 0)::bigint                      AS live_tuples,
             coalesce(sum(n_dead_tup), 0)::bigint                      AS dead_tuples,
             max(xid_age)::bigint                                      AS oldest_xid_age
      FROM tables) t
CROSS JOIN (SELECT count(*)::integer                                   AS indexes,
                   count(*) FILTER (WHERE NOT indisvalid)::integer     AS invalid_indexes,
                   count(*) FILTER (WHERE unused)::integer             AS unused_indexes,
                   coalesce(sum(estimated_bytes) FILTER (WHERE unused), 0)::bigint
                                                                       AS unused_index_estimated_bytes
            FROM indexes) i
