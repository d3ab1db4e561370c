-- autovacuum_status, PostgreSQL 13+: is autovacuum able to keep up, one row. Workers busy
-- (autovacuum workers in pg_stat_activity) against autovacuum_max_workers: all busy for long
-- means tables wait their turn. autovacuum off, or track_counts off (autovacuum then has no
-- statistics to act on), stops routine vacuuming; only wraparound prevention still runs.
-- The thresholds and freeze ages are the server-wide defaults tables inherit unless their
-- reloptions say otherwise (table_stats applies both).
SELECT current_setting('autovacuum')::boolean                              AS autovacuum,
       current_setting('track_counts')::boolean                            AS track_counts,
       current_setting('autovacuum_max_workers')::integer                  AS max_workers,
       (SELECT count(*) FROM pg_stat_activity
        WHERE backend_type = 'autovacuum worker')::integer                 AS workers_busy,
       (SELECT count(*) FROM pg_stat_activity
        WHERE backend_type = 'autovacuum worker'
          AND query LIKE '%(to prevent wraparound)')::integer              AS wraparound_workers,
       extract(epoch FROM current_setting('autovacuum_naptime')::interval)::float8
                                                                           AS naptime_seconds,
       current_setting('autovacuum_vacuum_threshold')::integer             AS vacuum_threshold,
       current_setting('autovacuum_vacuum_scale_factor')::float8           AS vacuum_scale_factor,
       current_setting('autovacuum_vacuum_insert_threshold')::integer      AS insert_threshold,
       current_setting('autovacuum_vacuum_insert_scale_factor')::float8    AS insert_scale_factor,
       current_setting('autovacuum_analyze_threshold')::integer            AS analyze_threshold,
       current_setting('autovacuum_analyze_scale_factor')::float8          AS analyze_scale_factor,
       current_setting('autovacuum_freeze_max_age')::bigint                AS freeze_max_age,
       current_setting('autovacuum_multixact_freeze_max_age')::bigint      AS multixact_freeze_max_age,
       current_setting('autovacuum_vacuum_cost_limit')::integer            AS vacuum_cost_limit,
       (SELECT setting::float8 FROM pg_settings
        WHERE name = 'autovacuum_vacuum_cost_delay')                       AS vacuum_cost_delay_ms
