SET lock_timeout = '5s';

-- Store tables of the security_* groups (gauges, issue 11): the security posture of each
-- target as collected, judged by the Security page. Names only, never data or passwords.
CREATE TABLE kasho_ops.security_settings (
    collected_at timestamptz NOT NULL,
    target       text        NOT NULL,
    name         text        NOT NULL,
    setting      text        NOT NULL,
    present      boolean     NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX security_settings_target_time_idx
    ON kasho_ops.security_settings (target, collected_at);

CREATE TABLE kasho_ops.security_roles (
    collected_at         timestamptz NOT NULL,
    target               text        NOT NULL,
    rolname              text        NOT NULL,
    superuser            boolean     NOT NULL,
    can_login            boolean     NOT NULL,
    create_role          boolean     NOT NULL,
    create_db            boolean     NOT NULL,
    replication          boolean     NOT NULL,
    bypass_rls           boolean     NOT NULL,
    password_valid_until timestamptz,
    connection_limit     integer     NOT NULL,
    reads_all_data       boolean     NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX security_roles_target_time_idx ON kasho_ops.security_roles (target, collected_at);

CREATE TABLE kasho_ops.security_hba (
    collected_at timestamptz NOT NULL,
    target       text        NOT NULL,
    line_number  integer     NOT NULL,
    type         text        NOT NULL,
    database     text        NOT NULL,
    user_name    text        NOT NULL,
    address      text        NOT NULL,
    netmask      text        NOT NULL,
    auth_method  text        NOT NULL,
    error        text        NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX security_hba_target_time_idx ON kasho_ops.security_hba (target, collected_at);

CREATE TABLE kasho_ops.security_access (
    collected_at timestamptz NOT NULL,
    target       text        NOT NULL,
    rolname      text        NOT NULL,
    object       text        NOT NULL,
    can_select   boolean,
    superuser    boolean     NOT NULL,
    rls_enabled  boolean,
    rls_forced   boolean
) PARTITION BY RANGE (collected_at);
CREATE INDEX security_access_target_time_idx ON kasho_ops.security_access (target, collected_at);

CREATE TABLE kasho_ops.security_ssl (
    collected_at timestamptz NOT NULL,
    target       text        NOT NULL,
    ssl          boolean     NOT NULL,
    version      text        NOT NULL,
    connections  integer     NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX security_ssl_target_time_idx ON kasho_ops.security_ssl (target, collected_at);
