SET lock_timeout = '5s';

-- Counter baselines: the last raw sample of every counter group on every target, so the next
-- run's deltas continue from it whichever process runs next (a restart, a crash or a
-- `collect --once` from cron loses no interval). Written in the same transaction as the
-- run's rows, only if still the baseline those rows were computed from
-- (collectors/core/baselines.py).
--
-- taken_at and server_started_at are the monitored server's own clock at the read and its
-- pg_postmaster_start_time(); counters is the order of the values in each series' state.
CREATE TABLE kasho_ops.counter_baselines (
    target            text        NOT NULL,
    metric_group      text        NOT NULL,
    taken_at          timestamptz NOT NULL,
    server_started_at timestamptz,
    counters          text[]      NOT NULL,
    series_count      integer     NOT NULL,
    written_at        timestamptz NOT NULL,
    PRIMARY KEY (target, metric_group)
);

-- One row per series (a statement, a database): its key columns and its state, both compact
-- JSON arrays ([reset marker, counter values...]). Only changed series are rewritten each
-- run, so the heap sees many updates of few rows: room on each page keeps them HOT.
CREATE TABLE kasho_ops.counter_baseline_series (
    target       text NOT NULL,
    metric_group text NOT NULL,
    series       text NOT NULL,
    state        text NOT NULL,
    PRIMARY KEY (target, metric_group, series)
) WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.05);

-- What a run says beyond success or failure: "baseline taken", "server restarted: new
-- baseline", "statistics reset for 3 series".
ALTER TABLE kasho_ops.collector_runs ADD COLUMN note text;
