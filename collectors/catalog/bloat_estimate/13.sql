-- bloat_estimate, PostgreSQL 13+: estimated bloat of tables and B-tree indexes in the
-- database the target connects to, from the catalog only, no scans: the pages a relation
-- has (pg_class.relpages) against the pages its rows would need (reltuples rows of the
-- estimated width, with tuple and page headers, item pointers and fillfactor). Relations
-- under 1 MB (128 pages) are left out: there the estimate's rounding is the bloat.
--
-- Row width: a fixed-width column's type length (uuid 16, timestamptz 8, ...) needs no
-- statistics; a variable-width one (text, numeric, ...) needs its avg_width from pg_stats.
-- Only null_frac and avg_width are read, never a value column (most_common_vals,
-- histogram_bounds hold real data). pg_stats shows a column only to roles that may SELECT
-- it, so for pg_monitor alone tables with variable-width columns are suppressed:
-- suppressed_reason names the column and why (no privilege, not analyzed), and the exact
-- measure (pgstattuple, from the dashboard) remains. Expression indexes are not estimated.
-- Returned: the top %(top_tables)s tables and indexes by estimated bloat, and the largest
-- %(top_tables)s suppressed ones. relpages and reltuples are as of the last VACUUM, ANALYZE
-- or CREATE INDEX; last_analyze and modified_since_analyze tell how stale that is.
WITH consts AS MATERIALIZED (
    SELECT current_setting('block_size')::numeric AS block_size
),
relations AS MATERIALIZED (
    SELECT c.oid, c.relkind, n.nspname, c.relname, c.relpages::numeric AS relpages,
           greatest(c.reltuples, 0)::numeric AS reltuples,
           coalesce((SELECT option_value::numeric FROM pg_options_to_table(c.reloptions)
                     WHERE option_name = 'fillfactor'),
                    CASE c.relkind WHEN 'i' THEN 90 ELSE 100 END)            AS fillfactor,
           CASE WHEN c.relkind = 'i' THEN x.indrelid ELSE c.oid END          AS table_oid,
           x.indexprs IS NOT NULL                                           AS has_expressions,
           CASE WHEN c.relkind = 'i'
                THEN (string_to_array(x.indkey::text, ' ')::int2[])[1:x.indnkeyatts]
           END                                                              AS index_columns
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_index x ON x.indexrelid = c.oid
    LEFT JOIN pg_am am ON am.oid = c.relam
    WHERE c.relpages >= 128
      AND (c.relkind IN ('r', 'm') OR (c.relkind = 'i' AND am.amname = 'btree'))
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname !~ '^pg_toast'
),
columns AS (
    SELECT r.oid, a.attnum, a.attname, ty.typlen,
           CASE WHEN ty.typlen > 0 THEN ty.typlen ELSE s.avg_width END      AS width,
           coalesce(s.null_frac, 0)                                         AS null_frac,
           ty.typlen < 0 AND s.avg_width IS NULL                            AS unknown,
           ty.typlen < 0                                                    AS needs_stats,
           has_column_privilege(r.table_oid, a.attnum, 'SELECT')            AS readable
    FROM relations r
    JOIN pg_attribute a ON a.attrelid = r.table_oid AND a.attnum > 0 AND NOT a.attisdropped
                       AND (r.relkind <> 'i' OR a.attnum = ANY (r.index_columns))
    JOIN pg_type ty ON ty.oid = a.atttypid
    JOIN pg_class t ON t.oid = r.table_oid
    JOIN pg_namespace tn ON tn.oid = t.relnamespace
    LEFT JOIN pg_stats s ON s.schemaname = tn.nspname AND s.tablename = t.relname
                        AND s.attname = a.attname AND NOT s.inherited
    WHERE NOT r.has_expressions
),
widths AS (
    SELECT oid,
           sum(width * (1 - null_frac))                                     AS data_width,
           bool_or(null_frac > 0)                                           AS has_nulls,
           count(*)                                                         AS column_count,
           bool_or(needs_stats)                                             AS used_stats,
           bool_and(NOT needs_stats)                                        AS types_only,
           (array_agg(attname ORDER BY attnum) FILTER (WHERE unknown))[1]   AS first_unknown,
           bool_or(unknown AND NOT readable)                                AS unreadable
    FROM columns
    GROUP BY oid
),
estimated AS MATERIALIZED (
    SELECT r.*, w.used_stats, w.types_only,
           CASE WHEN r.has_expressions THEN 'expression index: not estimated'
                WHEN w.first_unknown IS NULL THEN NULL
                WHEN w.unreadable
                THEN 'column ' || w.first_unknown || ': pg_stats hides its statistics from '
                     || 'this role (no SELECT privilege on it)'
                ELSE 'column ' || w.first_unknown || ': no statistics yet (not analyzed)'
           END                                                              AS suppressed_reason,
           -- bytes per row on a page: header (+ null bitmap) and data, each 8-byte aligned,
           -- plus its 4-byte item pointer
           CASE WHEN r.relkind = 'i'
                THEN 8 + ceil(w.data_width / 8) * 8 + 4
                ELSE ceil((23 + CASE WHEN w.has_nulls THEN ceil(w.column_count / 8.0)
                                     ELSE 0 END) / 8) * 8
                     + ceil(w.data_width / 8) * 8 + 4
           END                                                              AS row_bytes
    FROM relations r
    LEFT JOIN widths w USING (oid)
),
expected AS MATERIALIZED (
    SELECT e.*,
           CASE WHEN e.suppressed_reason IS NULL AND e.row_bytes > 0 THEN
               greatest(floor((c.block_size - 24 - CASE WHEN e.relkind = 'i' THEN 16 ELSE 0 END)
                              * e.fillfactor / 100 / e.row_bytes), 1)
           END                                                              AS rows_per_page,
           c.block_size
    FROM estimated e CROSS JOIN consts c
),
result AS MATERIALIZED (
    SELECT x.*,
           CASE WHEN x.rows_per_page IS NOT NULL THEN
               ceil(x.reltuples / x.rows_per_page)
               -- B-tree: the metapage and roughly one internal page per page of leaves
               + CASE WHEN x.relkind = 'i'
                      THEN 1 + ceil(x.reltuples / x.rows_per_page / x.rows_per_page) ELSE 0 END
           END                                                              AS expected_pages
    FROM expected x
),
picks AS (
    (SELECT oid FROM result WHERE relkind <> 'i' AND expected_pages IS NOT NULL
     ORDER BY relpages - expected_pages DESC, oid LIMIT %(top_tables)s)
    UNION
    (SELECT oid FROM result WHERE relkind = 'i' AND expected_pages IS NOT NULL
     ORDER BY relpages - expected_pages DESC, oid LIMIT %(top_tables)s)
    UNION
    (SELECT oid FROM result WHERE suppressed_reason IS NOT NULL
     ORDER BY relpages DESC, oid LIMIT %(top_tables)s)
)
SELECT r.nspname::text                                                   AS schemaname,
       r.relname::text                                                   AS relname,
       CASE WHEN r.relkind = 'i' THEN 'index' ELSE 'table' END           AS kind,
       t.relname::text                                                   AS table_name,
       (r.relpages * r.block_size)::bigint                               AS relation_bytes,
       (r.expected_pages * r.block_size)::bigint                         AS expected_bytes,
       CASE WHEN r.expected_pages IS NOT NULL
            THEN (greatest(r.relpages - r.expected_pages, 0) * r.block_size)::bigint
       END                                                               AS bloat_bytes,
       CASE WHEN r.expected_pages IS NOT NULL
            THEN (greatest(r.relpages - r.expected_pages, 0) / r.relpages)::float8
       END                                                               AS bloat_ratio,
       r.reltuples::float8                                               AS reltuples,
       r.fillfactor::integer                                             AS fillfactor,
       CASE WHEN r.suppressed_reason IS NOT NULL THEN NULL
            WHEN r.types_only THEN 'column types'
            ELSE 'column types and pg_stats' END                         AS width_source,
       r.suppressed_reason,
       greatest(pg_stat_get_last_analyze_time(r.table_oid),
                pg_stat_get_last_autoanalyze_time(r.table_oid))          AS last_analyze,
       pg_stat_get_mod_since_analyze(r.table_oid)                        AS modified_since_analyze
FROM result r
JOIN pg_class t ON t.oid = r.table_oid
WHERE r.oid IN (SELECT oid FROM picks)
