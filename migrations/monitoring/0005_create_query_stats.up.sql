SET lock_timeout = '5s';

-- Store tables of the query_stats group (counter, pg_stat_statements). Each query_stats row
-- holds one statement's deltas over interval_seconds ending at collected_at, and exists
-- only for statements that ran in that interval.
CREATE TABLE kasho_ops.query_stats (
    collected_at          timestamptz      NOT NULL,
    target                text             NOT NULL,
    interval_seconds      double precision NOT NULL,
    queryid               bigint           NOT NULL,
    dbid                  bigint           NOT NULL,
    userid                bigint           NOT NULL,
    calls                 bigint           NOT NULL,
    total_exec_time_ms    double precision NOT NULL,
    exec_time_squares_ms2 double precision NOT NULL,
    plans                 bigint           NOT NULL,
    total_plan_time_ms    double precision NOT NULL,
    rows                  bigint           NOT NULL,
    shared_blks_hit       bigint           NOT NULL,
    shared_blks_read      bigint           NOT NULL,
    shared_blks_dirtied   bigint           NOT NULL,
    shared_blks_written   bigint           NOT NULL,
    temp_blks_read        bigint           NOT NULL,
    temp_blks_written     bigint           NOT NULL,
    blk_read_time_ms      double precision NOT NULL,
    blk_write_time_ms     double precision NOT NULL,
    wal_records           bigint           NOT NULL,
    wal_bytes             bigint           NOT NULL,
    stats_since           timestamptz,
    toplevel              boolean          NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX query_stats_target_time_idx ON kasho_ops.query_stats (target, collected_at);
CREATE INDEX query_stats_statement_idx ON kasho_ops.query_stats (target, queryid, collected_at);

-- Store table of the query_stats_info group (counter): pg_stat_statements evictions per
-- interval; any means statistics of rarely run statements were lost.
CREATE TABLE kasho_ops.query_stats_info (
    collected_at     timestamptz      NOT NULL,
    target           text             NOT NULL,
    interval_seconds double precision NOT NULL,
    dealloc          bigint           NOT NULL,
    stats_reset      timestamptz
) PARTITION BY RANGE (collected_at);
CREATE INDEX query_stats_info_target_time_idx
    ON kasho_ops.query_stats_info (target, collected_at);

-- Normalized statement text, database and role names: once per (target, queryid, dbid,
-- userid), written the first time the statement has a row in query_stats.
CREATE TABLE kasho_ops.query_texts (
    target        text        NOT NULL,
    queryid       bigint      NOT NULL,
    dbid          bigint      NOT NULL,
    userid        bigint      NOT NULL,
    first_seen_at timestamptz NOT NULL,
    datname       text        NOT NULL,
    rolname       text        NOT NULL,
    query         text        NOT NULL,
    PRIMARY KEY (target, queryid, dbid, userid)
);

-- Rollups kept current by a statement trigger on every write to query_stats, so pages over
-- days read a few rows per statement instead of one per interval: query_stats summed per
-- UTC hour and per UTC day, and the top-level statement time of all statements per hour
-- (the load-shape chart's totals).
CREATE TABLE kasho_ops.query_stats_hourly (
    hour                  timestamptz      NOT NULL,
    target                text             NOT NULL,
    queryid               bigint           NOT NULL,
    dbid                  bigint           NOT NULL,
    userid                bigint           NOT NULL,
    samples               integer          NOT NULL,
    calls                 bigint           NOT NULL,
    total_exec_time_ms    double precision NOT NULL,
    exec_time_squares_ms2 double precision NOT NULL,
    plans                 bigint           NOT NULL,
    total_plan_time_ms    double precision NOT NULL,
    rows                  bigint           NOT NULL,
    shared_blks_hit       bigint           NOT NULL,
    shared_blks_read      bigint           NOT NULL,
    shared_blks_dirtied   bigint           NOT NULL,
    shared_blks_written   bigint           NOT NULL,
    temp_blks_read        bigint           NOT NULL,
    temp_blks_written     bigint           NOT NULL,
    blk_read_time_ms      double precision NOT NULL,
    blk_write_time_ms     double precision NOT NULL,
    wal_records           bigint           NOT NULL,
    wal_bytes             bigint           NOT NULL,
    toplevel              boolean          NOT NULL,
    PRIMARY KEY (target, queryid, dbid, userid, toplevel, hour)
) PARTITION BY RANGE (hour);
CREATE INDEX query_stats_hourly_target_hour_idx ON kasho_ops.query_stats_hourly (target, hour);

CREATE TABLE kasho_ops.query_stats_daily (
    day                   timestamptz      NOT NULL,
    target                text             NOT NULL,
    queryid               bigint           NOT NULL,
    dbid                  bigint           NOT NULL,
    userid                bigint           NOT NULL,
    samples               integer          NOT NULL,
    calls                 bigint           NOT NULL,
    total_exec_time_ms    double precision NOT NULL,
    exec_time_squares_ms2 double precision NOT NULL,
    plans                 bigint           NOT NULL,
    total_plan_time_ms    double precision NOT NULL,
    rows                  bigint           NOT NULL,
    shared_blks_hit       bigint           NOT NULL,
    shared_blks_read      bigint           NOT NULL,
    shared_blks_dirtied   bigint           NOT NULL,
    shared_blks_written   bigint           NOT NULL,
    temp_blks_read        bigint           NOT NULL,
    temp_blks_written     bigint           NOT NULL,
    blk_read_time_ms      double precision NOT NULL,
    blk_write_time_ms     double precision NOT NULL,
    wal_records           bigint           NOT NULL,
    wal_bytes             bigint           NOT NULL,
    toplevel              boolean          NOT NULL,
    PRIMARY KEY (target, queryid, dbid, userid, toplevel, day)
) PARTITION BY RANGE (day);
CREATE INDEX query_stats_daily_target_day_idx ON kasho_ops.query_stats_daily (target, day);

CREATE TABLE kasho_ops.query_load_hourly (
    hour               timestamptz      NOT NULL,
    target             text             NOT NULL,
    calls              bigint           NOT NULL,
    total_exec_time_ms double precision NOT NULL,
    PRIMARY KEY (target, hour)
) PARTITION BY RANGE (hour);

CREATE FUNCTION kasho_ops.query_stats_roll_up() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    partition_day date;
BEGIN
    FOR partition_day IN SELECT DISTINCT (collected_at AT TIME ZONE 'UTC')::date FROM new_rows LOOP
        PERFORM kasho_ops.ensure_partition('query_stats_hourly', partition_day);
        PERFORM kasho_ops.ensure_partition('query_stats_daily', partition_day);
        PERFORM kasho_ops.ensure_partition('query_load_hourly', partition_day);
    END LOOP;
    INSERT INTO kasho_ops.query_stats_hourly AS r
    SELECT to_timestamp(floor(extract(epoch FROM collected_at) / 3600) * 3600), target, queryid, dbid, userid, count(*)::integer,
           sum(calls), sum(total_exec_time_ms), sum(exec_time_squares_ms2), sum(plans),
           sum(total_plan_time_ms), sum(rows), sum(shared_blks_hit), sum(shared_blks_read),
           sum(shared_blks_dirtied), sum(shared_blks_written), sum(temp_blks_read),
           sum(temp_blks_written), sum(blk_read_time_ms), sum(blk_write_time_ms),
           sum(wal_records), sum(wal_bytes), toplevel
    FROM new_rows
    GROUP BY 1, target, queryid, dbid, userid, toplevel
    ON CONFLICT (target, queryid, dbid, userid, toplevel, hour) DO UPDATE SET
        samples = r.samples + excluded.samples,
        calls = r.calls + excluded.calls,
        total_exec_time_ms = r.total_exec_time_ms + excluded.total_exec_time_ms,
        exec_time_squares_ms2 = r.exec_time_squares_ms2 + excluded.exec_time_squares_ms2,
        plans = r.plans + excluded.plans,
        total_plan_time_ms = r.total_plan_time_ms + excluded.total_plan_time_ms,
        rows = r.rows + excluded.rows,
        shared_blks_hit = r.shared_blks_hit + excluded.shared_blks_hit,
        shared_blks_read = r.shared_blks_read + excluded.shared_blks_read,
        shared_blks_dirtied = r.shared_blks_dirtied + excluded.shared_blks_dirtied,
        shared_blks_written = r.shared_blks_written + excluded.shared_blks_written,
        temp_blks_read = r.temp_blks_read + excluded.temp_blks_read,
        temp_blks_written = r.temp_blks_written + excluded.temp_blks_written,
        blk_read_time_ms = r.blk_read_time_ms + excluded.blk_read_time_ms,
        blk_write_time_ms = r.blk_write_time_ms + excluded.blk_write_time_ms,
        wal_records = r.wal_records + excluded.wal_records,
        wal_bytes = r.wal_bytes + excluded.wal_bytes;

    INSERT INTO kasho_ops.query_stats_daily AS r
    SELECT to_timestamp(floor(extract(epoch FROM collected_at) / 86400) * 86400), target, queryid, dbid, userid, count(*)::integer,
           sum(calls), sum(total_exec_time_ms), sum(exec_time_squares_ms2), sum(plans),
           sum(total_plan_time_ms), sum(rows), sum(shared_blks_hit), sum(shared_blks_read),
           sum(shared_blks_dirtied), sum(shared_blks_written), sum(temp_blks_read),
           sum(temp_blks_written), sum(blk_read_time_ms), sum(blk_write_time_ms),
           sum(wal_records), sum(wal_bytes), toplevel
    FROM new_rows
    GROUP BY 1, target, queryid, dbid, userid, toplevel
    ON CONFLICT (target, queryid, dbid, userid, toplevel, day) DO UPDATE SET
        samples = r.samples + excluded.samples,
        calls = r.calls + excluded.calls,
        total_exec_time_ms = r.total_exec_time_ms + excluded.total_exec_time_ms,
        exec_time_squares_ms2 = r.exec_time_squares_ms2 + excluded.exec_time_squares_ms2,
        plans = r.plans + excluded.plans,
        total_plan_time_ms = r.total_plan_time_ms + excluded.total_plan_time_ms,
        rows = r.rows + excluded.rows,
        shared_blks_hit = r.shared_blks_hit + excluded.shared_blks_hit,
        shared_blks_read = r.shared_blks_read + excluded.shared_blks_read,
        shared_blks_dirtied = r.shared_blks_dirtied + excluded.shared_blks_dirtied,
        shared_blks_written = r.shared_blks_written + excluded.shared_blks_written,
        temp_blks_read = r.temp_blks_read + excluded.temp_blks_read,
        temp_blks_written = r.temp_blks_written + excluded.temp_blks_written,
        blk_read_time_ms = r.blk_read_time_ms + excluded.blk_read_time_ms,
        blk_write_time_ms = r.blk_write_time_ms + excluded.blk_write_time_ms,
        wal_records = r.wal_records + excluded.wal_records,
        wal_bytes = r.wal_bytes + excluded.wal_bytes;

    INSERT INTO kasho_ops.query_load_hourly AS r
    SELECT to_timestamp(floor(extract(epoch FROM collected_at) / 3600) * 3600), target, sum(calls), sum(total_exec_time_ms)
    FROM new_rows
    WHERE toplevel
    GROUP BY 1, target
    ON CONFLICT (target, hour) DO UPDATE SET
        calls = r.calls + excluded.calls,
        total_exec_time_ms = r.total_exec_time_ms + excluded.total_exec_time_ms;
    RETURN NULL;
END;
$$;

CREATE TRIGGER query_stats_roll_up AFTER INSERT ON kasho_ops.query_stats
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kasho_ops.query_stats_roll_up();

-- The audit trail of EXPLAINs run from the Queries page (a live read of a monitored
-- server): one row per attempt, refusals and failures included; the DBA's sample values are
-- never stored, only whether there were any. Append-only.
CREATE TABLE kasho_ops.explain_runs (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_at        timestamptz NOT NULL DEFAULT now(),
    actor         text        NOT NULL,
    target        text        NOT NULL,
    datname       text        NOT NULL,
    queryid       bigint,
    sample_values boolean     NOT NULL,
    outcome       text        NOT NULL CHECK (outcome IN ('planned', 'refused', 'failed')),
    error         text
);
CREATE INDEX explain_runs_target_time_idx ON kasho_ops.explain_runs (target, run_at DESC);

-- Shared by every audit table (explain_runs here, dba_actions in 0007): rows are never changed.
CREATE FUNCTION kasho_ops.reject_audit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only: % is not allowed', TG_TABLE_SCHEMA, TG_TABLE_NAME,
        TG_OP;
END;
$$;
CREATE TRIGGER explain_runs_append_only BEFORE UPDATE OR DELETE ON kasho_ops.explain_runs
    FOR EACH ROW EXECUTE FUNCTION kasho_ops.reject_audit_change();
CREATE TRIGGER explain_runs_no_truncate BEFORE TRUNCATE ON kasho_ops.explain_runs
    FOR EACH STATEMENT EXECUTE FUNCTION kasho_ops.reject_audit_change();
