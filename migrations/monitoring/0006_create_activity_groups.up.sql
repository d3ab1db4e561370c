SET lock_timeout = '5s';

-- Store tables of the session_ages, wait_events, lock_waits and prepared_transactions
-- groups (gauges): what the server's sessions were doing, sampled. No query text is stored:
-- pg_stat_activity.query holds raw literals (names, amounts, e-mail addresses).
CREATE TABLE kasho_ops.session_ages (
    collected_at                        timestamptz NOT NULL,
    target                              text        NOT NULL,
    datname                             text        NOT NULL,
    active                              integer     NOT NULL,
    idle_in_transaction                 integer     NOT NULL,
    waiting_on_lock                     integer     NOT NULL,
    longest_idle_in_transaction_seconds double precision NOT NULL,
    longest_query_seconds               double precision NOT NULL,
    longest_transaction_seconds         double precision NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX session_ages_target_time_idx ON kasho_ops.session_ages (target, collected_at);

CREATE TABLE kasho_ops.wait_events (
    collected_at    timestamptz NOT NULL,
    target          text        NOT NULL,
    backend_type    text        NOT NULL,
    wait_event_type text        NOT NULL,
    wait_event      text        NOT NULL,
    sessions        integer     NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX wait_events_target_time_idx ON kasho_ops.wait_events (target, collected_at);

-- One row per session that waited for a lock at collected_at. root_blocker_pid 0 is a
-- prepared transaction; chain_depth NULL is a wait cycle or a blocker gone meanwhile.
CREATE TABLE kasho_ops.lock_waits (
    collected_at                     timestamptz NOT NULL,
    target                           text        NOT NULL,
    pid                              integer     NOT NULL,
    datname                          text        NOT NULL,
    usename                          text        NOT NULL,
    application_name                 text        NOT NULL,
    client_addr                      text        NOT NULL,
    locktype                         text        NOT NULL,
    mode                             text        NOT NULL,
    relation                         text        NOT NULL,
    blocking_pids                    integer[]   NOT NULL,
    root_blocker_pid                 integer,
    chain_depth                      integer,
    wait_seconds                     double precision NOT NULL,
    transaction_seconds              double precision NOT NULL,
    root_blocker_state               text        NOT NULL,
    root_blocker_application_name    text        NOT NULL,
    root_blocker_transaction_seconds double precision
) PARTITION BY RANGE (collected_at);
CREATE INDEX lock_waits_target_time_idx ON kasho_ops.lock_waits (target, collected_at);

CREATE TABLE kasho_ops.prepared_transactions (
    collected_at              timestamptz NOT NULL,
    target                    text        NOT NULL,
    max_prepared_transactions integer     NOT NULL,
    prepared                  integer     NOT NULL,
    oldest_seconds            double precision NOT NULL,
    oldest_datname            text        NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX prepared_transactions_target_time_idx
    ON kasho_ops.prepared_transactions (target, collected_at);
