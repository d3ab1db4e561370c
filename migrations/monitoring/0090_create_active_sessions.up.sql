SET lock_timeout = '5s';

-- Store table of the active_sessions group (sampled): active session history. The collector
-- reads pg_stat_activity every sample interval (1 s by default) and stores, per store
-- interval, how many client backends were active on average, by wait event and statement.
-- sessions is that average (the sum of the counts over the interval's samples divided by
-- `samples`), so summing it over rows gives the interval's average active sessions, and
-- sessions * interval_seconds its active session-seconds. queryid 0: no statement id (before
-- PostgreSQL 14, or compute_query_id off). No query text is stored.
CREATE TABLE kasho_ops.active_sessions (
    collected_at     timestamptz      NOT NULL,
    target           text             NOT NULL,
    interval_seconds double precision NOT NULL,
    samples          integer          NOT NULL,
    datname          text             NOT NULL,
    usename          text             NOT NULL,
    application_name text             NOT NULL,
    wait_event_type  text             NOT NULL,
    wait_event       text             NOT NULL,
    queryid          bigint           NOT NULL,
    sessions         double precision NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX active_sessions_target_time_idx
    ON kasho_ops.active_sessions (target, collected_at);
