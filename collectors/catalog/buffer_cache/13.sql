-- buffer_cache, PostgreSQL 13+: what occupies shared buffers, per relation (pg_buffercache,
-- where installed: the engine skips this group when it is not). Reading the view visits
-- every buffer header, so its cost grows with shared_buffers: hence the 10-minute default.
-- Relations resolve to names in the database the target connects to (the top
-- %(top_tables)s by buffers); buffers of other databases are one row per database
-- ('(other database)'), free buffers one row ('(unused)'). dirty counts buffers changed
-- since they were read; average_usage is the clock-sweep usage count (0-5: how hot).
-- One pass of the view, one aggregation (usage summed, divided at the end); every later step
-- reads the aggregated relations (thousands), never the buffers again.
WITH buffers AS MATERIALIZED (
    SELECT reldatabase, reltablespace, relfilenode, count(*) AS buffers,
           count(*) FILTER (WHERE isdirty) AS dirty, sum(usagecount) AS usage
    FROM pg_buffercache
    GROUP BY reldatabase, reltablespace, relfilenode
),
here_db AS MATERIALIZED (
    SELECT oid, datname FROM pg_database WHERE datname = current_database()
),
-- The top %(top_tables)s relations of this database (and the shared catalogs) by buffers,
-- ranked before any name is looked up: one buffer group is one relation (all its forks),
-- so only those few are resolved. pg_filenode_relation finds a relation by (tablespace,
-- filenode) through pg_class's index, and mapped catalogs (relfilenode 0 in pg_class)
-- through the relation mapper; a filenode it cannot resolve (a relation dropped or not yet
-- committed) is left out.
ranked AS MATERIALIZED (
    SELECT b.*, pg_filenode_relation(b.reltablespace, b.relfilenode) AS relid
    FROM (SELECT *
          FROM buffers
          WHERE reldatabase IN (0, (SELECT oid FROM here_db)) AND relfilenode IS NOT NULL
          ORDER BY buffers DESC, relfilenode
          LIMIT %(top_tables)s) b
),
here AS (
    SELECT (SELECT datname FROM here_db)::text AS datname, n.nspname::text AS schemaname,
           c.relname::text AS relname, c.relkind::text AS relkind, b.buffers, b.dirty, b.usage
    FROM ranked b
    JOIN pg_class c ON c.oid = b.relid
    JOIN pg_namespace n ON n.oid = c.relnamespace
),
elsewhere AS (
    SELECT coalesce(d.datname::text, 'oid ' || b.reldatabase) AS datname,
           '(other database)'::text AS schemaname, '(all relations)'::text AS relname,
           ''::text AS relkind, sum(b.buffers) AS buffers, sum(b.dirty) AS dirty,
           sum(b.usage) AS usage
    FROM buffers b
    LEFT JOIN pg_database d ON d.oid = b.reldatabase
    WHERE b.reldatabase NOT IN (0, (SELECT oid FROM here_db))
    GROUP BY 1
),
unused AS (
    SELECT ''::text, '(unused)'::text, '(free buffers)'::text, ''::text,
           buffers, 0::bigint, 0::bigint
    FROM buffers WHERE relfilenode IS NULL
)
SELECT datname, schemaname, relname, relkind,
       buffers::bigint AS buffers,
       (buffers * current_setting('block_size')::bigint)::bigint AS bytes,
       dirty::bigint AS dirty_buffers,
       coalesce(usage::float8 / buffers, 0)::float8 AS average_usage,
       (100.0 * buffers / (SELECT sum(buffers) FROM buffers))::float8 AS percent_of_cache
FROM (SELECT * FROM here UNION ALL SELECT * FROM elsewhere UNION ALL SELECT * FROM unused) r
