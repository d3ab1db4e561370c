-- query_stats texts, PostgreSQL 13+: normalized statement text, database and role names of
-- the statements whose keys the store has not seen yet (one array per text key, in the same
-- order). Only this query reads the query-text file, and only when new statements appear;
-- the engine truncates long texts (catalogue text_max_chars) after reading, since left() in
-- SQL would cost a copy of every text. A statement evicted since the counters were read
-- simply returns no row.
SELECT DISTINCT ON (s.queryid, s.dbid, s.userid)
       s.queryid,
       s.dbid::bigint                            AS dbid,
       s.userid::bigint                          AS userid,
       coalesce(d.datname::text, s.dbid::text)   AS datname,
       coalesce(r.rolname::text, s.userid::text) AS rolname,
       s.query
FROM pg_stat_statements(true) s
JOIN unnest(%(queryid)s::bigint[], %(dbid)s::bigint[], %(userid)s::bigint[])
     AS wanted(queryid, dbid, userid)
  ON wanted.queryid = s.queryid AND wanted.dbid = s.dbid::bigint
 AND wanted.userid = s.userid::bigint
LEFT JOIN pg_database d ON d.oid = s.dbid
LEFT JOIN pg_roles r ON r.oid = s.userid
WHERE s.query IS NOT NULL
