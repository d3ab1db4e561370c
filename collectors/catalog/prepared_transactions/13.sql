-- prepared_transactions, PostgreSQL 13+: pg_prepared_xacts (two-phase commit), one row.
-- A forgotten prepared transaction holds its locks and the xmin horizon until someone
-- commits or rolls it back, and it survives restarts; max_prepared_transactions = 0
-- means the feature is off and the count is always 0.
SELECT current_setting('max_prepared_transactions')::integer         AS max_prepared_transactions,
       count(*)::integer                                              AS prepared,
       greatest(coalesce(max(extract(epoch FROM now() - prepared)), 0), 0)::float8
                                                                      AS oldest_seconds,
       coalesce((array_agg(database ORDER BY prepared))[1], '')::text AS oldest_datname
FROM pg_prepared_xacts
