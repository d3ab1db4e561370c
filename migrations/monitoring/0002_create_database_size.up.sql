SET lock_timeout = '5s';

-- Store table of the database_size group (gauge).
CREATE TABLE kasho_ops.database_size (
    collected_at timestamptz NOT NULL,
    target       text        NOT NULL,
    datname      text        NOT NULL,
    size_bytes   bigint      NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX database_size_target_time_idx ON kasho_ops.database_size (target, collected_at);
