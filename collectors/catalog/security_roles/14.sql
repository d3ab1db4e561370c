-- security_roles, PostgreSQL 14+ (pg_read_all_data): every role but the predefined pg_* ones, with what it may
-- do on the whole cluster and when its password expires (pg_roles never shows passwords).
SELECT rolname::text AS rolname, rolsuper AS superuser, rolcanlogin AS can_login,
       rolcreaterole AS create_role, rolcreatedb AS create_db, rolreplication AS replication,
       rolbypassrls AS bypass_rls, rolvaliduntil AS password_valid_until,
       rolconnlimit AS connection_limit,
       pg_has_role(oid, 'pg_read_all_data', 'USAGE') AS reads_all_data
FROM pg_roles
WHERE rolname !~ '^pg_'
