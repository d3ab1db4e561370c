SET lock_timeout = '5s';

-- Store tables of the connections and connection_limits groups (gauges).
CREATE TABLE kasho_ops.connections (
    collected_at             timestamptz NOT NULL,
    target                   text        NOT NULL,
    datname                  text        NOT NULL,
    usename                  text        NOT NULL,
    application_name         text        NOT NULL,
    client_addr              text        NOT NULL,
    state                    text        NOT NULL,
    connections              integer     NOT NULL,
    waiting_on_lock          integer     NOT NULL,
    longest_in_state_seconds double precision NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX connections_target_time_idx ON kasho_ops.connections (target, collected_at);

CREATE TABLE kasho_ops.connection_limits (
    collected_at         timestamptz NOT NULL,
    target               text        NOT NULL,
    max_connections      integer     NOT NULL,
    reserved_connections integer     NOT NULL,
    client_connections   integer     NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX connection_limits_target_time_idx
    ON kasho_ops.connection_limits (target, collected_at);
