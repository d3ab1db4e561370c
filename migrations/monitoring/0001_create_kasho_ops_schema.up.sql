SET lock_timeout = '5s';

-- The metrics store. Every metric table is range-partitioned by day on its time column so
-- retention drops whole partitions; partitions are named <table>_pYYYYMMDD (UTC days).
CREATE SCHEMA kasho_ops;

CREATE FUNCTION kasho_ops.ensure_partition(parent text, day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    partition_name text := parent || '_p' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(format('kasho_ops.%I', partition_name)) IS NOT NULL THEN
        RETURN;
    END IF;
    EXECUTE format(
        'CREATE TABLE kasho_ops.%I PARTITION OF kasho_ops.%I FOR VALUES FROM (%L) TO (%L)',
        partition_name, parent,
        (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
EXCEPTION WHEN duplicate_table THEN
    NULL;  -- another writer created it first
END;
$$;

-- Drops every daily partition of every kasho_ops table that ends on or before `cutoff`.
CREATE FUNCTION kasho_ops.drop_partitions_before(cutoff date) RETURNS SETOF text
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
        WHERE n.nspname = 'kasho_ops'
          AND child.relname ~ '_p[0-9]{8}$'
          AND to_date(right(child.relname, 8), 'YYYYMMDD') < cutoff
    LOOP
        EXECUTE format('DROP TABLE kasho_ops.%I', part.relname);
        RETURN NEXT part.relname;
    END LOOP;
END;
$$;

-- One row per collector run of one group against one target: "every failure is data".
CREATE TABLE kasho_ops.collector_runs (
    started_at    timestamptz NOT NULL,
    target        text        NOT NULL,
    metric_group  text        NOT NULL,
    duration_ms   double precision NOT NULL,
    rows_written  integer     NOT NULL,
    error         text
) PARTITION BY RANGE (started_at);
CREATE INDEX collector_runs_target_group_idx
    ON kasho_ops.collector_runs (target, metric_group, started_at DESC);

-- Last run and last successful run of every (target, group): the dashboard's freshness.
CREATE VIEW kasho_ops.collection_freshness AS
SELECT target,
       metric_group,
       max(started_at)                          AS last_run_at,
       max(started_at) FILTER (WHERE error IS NULL) AS last_success_at,
       (array_agg(error ORDER BY started_at DESC))[1] AS last_error
FROM kasho_ops.collector_runs
GROUP BY target, metric_group;
