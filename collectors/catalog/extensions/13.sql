-- extensions, PostgreSQL 13+: extensions installed in the database the target connects to,
-- and whether those Kasho Ops can use are available to install (pg_available_extensions
-- reads the server's extension directory). The pages use it to say what is missing and
-- the exact CREATE EXTENSION that adds it.
SELECT name::text                       AS extname,
       installed_version::text          AS installed_version,
       default_version::text            AS default_version
FROM pg_available_extensions
WHERE installed_version IS NOT NULL
   OR name IN ('pg_stat_statements', 'pgstattuple', 'hypopg', 'pg_buffercache')
