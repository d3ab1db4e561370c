SET lock_timeout = '5s';

-- Retention per table: drops the daily partitions (<table>_pYYYYMMDD) of one kasho_ops table
-- whose day is before `cutoff`, and returns their names.
CREATE FUNCTION kasho_ops.drop_partitions_before(parent_table text, cutoff date)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    part record;
BEGIN
    FOR part IN
        SELECT child.relname
        FROM pg_inherits i
        JOIN pg_class child ON child.oid = i.inhrelid
        JOIN pg_class parent ON parent.oid = i.inhparent
        JOIN pg_namespace n ON n.oid = parent.relnamespace
        WHERE n.nspname = 'kasho_ops' AND parent.relname = parent_table
          AND child.relname = parent_table || '_p' || right(child.relname, 8)
          AND right(child.relname, 8) ~ '^[0-9]{8}$'
          AND to_date(right(child.relname, 8), 'YYYYMMDD') < cutoff
        ORDER BY child.relname
    LOOP
        EXECUTE format('DROP TABLE kasho_ops.%I', part.relname);
        RETURN NEXT part.relname;
    END LOOP;
END;
$$;

-- Statement texts that no kept row refers to any more (their statements' per-interval rows
-- and rollups were all dropped), seen for the first time before `seen_before`. Returns how
-- many went.
CREATE FUNCTION kasho_ops.prune_query_texts(seen_before timestamptz) RETURNS bigint
LANGUAGE sql AS $$
    WITH pruned AS (
        DELETE FROM kasho_ops.query_texts t
        WHERE t.first_seen_at < seen_before
          AND NOT EXISTS (SELECT 1 FROM kasho_ops.query_stats_daily d
                          WHERE d.target = t.target AND d.queryid = t.queryid
                            AND d.dbid = t.dbid AND d.userid = t.userid)
          AND NOT EXISTS (SELECT 1 FROM kasho_ops.query_stats_hourly h
                          WHERE h.target = t.target AND h.queryid = t.queryid
                            AND h.dbid = t.dbid AND h.userid = t.userid)
          AND NOT EXISTS (SELECT 1 FROM kasho_ops.query_stats s
                          WHERE s.target = t.target AND s.queryid = t.queryid
                            AND s.dbid = t.dbid AND s.userid = t.userid)
        RETURNING 1
    )
    SELECT count(*) FROM pruned
$$;

-- The store's size per table and UTC day: every daily partition with its total size
-- (heap, indexes, TOAST), for the Kasho Ops page and the growth forecast.
CREATE VIEW kasho_ops.partition_sizes AS
SELECT parent.relname::text                                 AS table_name,
       to_date(right(child.relname, 8), 'YYYYMMDD')         AS day,
       pg_total_relation_size(child.oid)                    AS bytes
FROM pg_inherits i
JOIN pg_class child ON child.oid = i.inhrelid
JOIN pg_class parent ON parent.oid = i.inhparent
JOIN pg_namespace n ON n.oid = parent.relnamespace
WHERE n.nspname = 'kasho_ops'
  AND right(child.relname, 8) ~ '^[0-9]{8}$'
  AND child.relname = parent.relname || '_p' || right(child.relname, 8);
