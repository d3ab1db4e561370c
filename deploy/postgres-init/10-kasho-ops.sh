#!/usr/bin/env bash
# Runs once, as the postgres superuser, when the postgres service starts on an empty data
# volume (the image runs /docker-entrypoint-initdb.d/*). It creates:
#   kasho              the Kasho application's role and database (migrate --set kasho runs as it)
#   kasho_ops_store    owner of the kasho_ops metrics-store database (migrate --set monitoring,
#                      the collector and the dashboard use it)
#   kasho_ops_monitor  the collector's role on monitored servers: pg_monitor only
# Passwords come from the environment (deploy/.env.example); psql's :'name' quotes them, so
# they never pass through shell or SQL string building. The script never runs again: to
# change a password later, use ALTER ROLE ... PASSWORD and update .env to match.
set -euo pipefail

for name in KASHO_DB_PASSWORD KASHO_STORE_PASSWORD KASHO_MONITOR_PASSWORD; do
    if [ -z "${!name:-}" ]; then
        echo "10-kasho-ops.sh: $name is not set; see deploy/.env.example" >&2
        exit 1
    fi
done

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    --set=kasho_password="$KASHO_DB_PASSWORD" \
    --set=store_password="$KASHO_STORE_PASSWORD" \
    --set=monitor_password="$KASHO_MONITOR_PASSWORD" <<'SQL'
-- The role owns its database, so migrations can create schemas and, since PostgreSQL 15
-- revoked CREATE on schema public from PUBLIC, the version table in public.
CREATE ROLE kasho LOGIN PASSWORD :'kasho_password';
CREATE DATABASE kasho OWNER kasho;

-- Not named kasho_ops: with the default search_path "$user", public, a role named like the
-- store's schema would see the schema first once it exists, so the migration version table
-- (looked up in current_schema()) would seem to vanish after the first migration.
CREATE ROLE kasho_ops_store LOGIN PASSWORD :'store_password';
CREATE DATABASE kasho_ops OWNER kasho_ops_store;

-- Least privilege: pg_monitor and nothing else; CONNECTION LIMIT backs up the collector's
-- own pool cap ([collector] max_connections_per_target).
CREATE ROLE kasho_ops_monitor LOGIN CONNECTION LIMIT 5 PASSWORD :'monitor_password';
GRANT pg_monitor TO kasho_ops_monitor;
ALTER ROLE kasho_ops_monitor SET default_transaction_read_only = on;

-- Only the roles that need a database may connect to it.
REVOKE CONNECT ON DATABASE kasho FROM PUBLIC;
GRANT CONNECT ON DATABASE kasho TO kasho, kasho_ops_monitor;
REVOKE CONNECT ON DATABASE kasho_ops FROM PUBLIC;
GRANT CONNECT ON DATABASE kasho_ops TO kasho_ops_store;

-- Query statistics for the monitored database (the library is preloaded by the server's
-- command line in docker-compose.yml).
\connect kasho
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL
