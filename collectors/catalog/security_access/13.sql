-- security_access, PostgreSQL 13+: who can read Kasho's personal and financial data, in the
-- database the target connects to. For every role that can log in, and for PUBLIC: SELECT on
-- users.email and users.password_hash (column or table grants, ownership, superuser,
-- pg_read_all_data all count: has_column_privilege follows role membership), and SELECT on
-- accounts and transactions; plus PUBLIC's CREATE on schema public and each table's
-- row-level security. Catalog reads only; no row of Kasho's data is read.
WITH kasho_table(name, relation) AS (
    SELECT t, to_regclass('public.' || t) FROM unnest(ARRAY['users', 'accounts', 'transactions']) t
), object(object, relation, column_name) AS (
    VALUES ('users.email', to_regclass('public.users'), 'email'),
           ('users.password_hash', to_regclass('public.users'), 'password_hash'),
           ('accounts', to_regclass('public.accounts'), NULL),
           ('transactions', to_regclass('public.transactions'), NULL)
), grantee(rolname, oid, superuser) AS (
    SELECT rolname::text, oid, rolsuper FROM pg_roles WHERE rolcanlogin
), access AS (
    SELECT g.rolname, o.object,
           CASE WHEN o.relation IS NULL THEN NULL
                WHEN o.column_name IS NULL THEN has_table_privilege(g.oid, o.relation, 'SELECT')
                WHEN NOT EXISTS (SELECT 1 FROM pg_attribute att WHERE att.attrelid = o.relation
                                   AND att.attname = o.column_name AND NOT att.attisdropped)
                    THEN NULL
                ELSE has_column_privilege(g.oid, o.relation, o.column_name, 'SELECT') END
               AS can_select,
           g.superuser
    FROM grantee g CROSS JOIN object o
    UNION ALL
    -- PUBLIC: grants to everyone, read from the ACLs (0 is PUBLIC in aclexplode).
    SELECT 'PUBLIC', o.object,
           CASE WHEN o.relation IS NULL THEN NULL ELSE EXISTS (
               SELECT 1 FROM pg_class c, aclexplode(c.relacl) a
               WHERE c.oid = o.relation AND a.grantee = 0 AND a.privilege_type = 'SELECT'
               UNION ALL
               SELECT 1 FROM pg_attribute att, aclexplode(att.attacl) a
               WHERE att.attrelid = o.relation AND att.attname = o.column_name
                 AND a.grantee = 0 AND a.privilege_type = 'SELECT') END,
           false
    FROM object o
)
SELECT rolname, object, can_select, superuser, NULL::boolean AS rls_enabled,
       NULL::boolean AS rls_forced
FROM access
UNION ALL
SELECT 'PUBLIC', 'schema public',
       EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a
               WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE'),
       false, NULL, NULL
UNION ALL
SELECT '', 'table ' || k.name, k.relation IS NOT NULL, false,
       c.relrowsecurity, c.relforcerowsecurity
FROM kasho_table k LEFT JOIN pg_class c ON c.oid = k.relation
