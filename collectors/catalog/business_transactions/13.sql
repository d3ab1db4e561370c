-- business_transactions (PostgreSQL 13+): Kasho's transactions created or changed in the run's
-- window (since, until], per minute, type, status and account currency: counts and exact
-- amounts. Incremental: the engine binds the window from the watermark it keeps in the store. A
-- row created in the window is a 'created' event with its status as read; a row created before
-- the window and updated in it (pending -> completed/failed, completed -> reversed) is a
-- 'changed' event with the status it changed to, and how long after its creation. Each state of
-- a row is counted once. Needs SELECT on transactions and accounts (business_dsn); strings
-- compare as text, so VARCHAR and enum columns both work. Reads through the created_at and
-- updated_at indexes.
SELECT to_timestamp(floor(extract(epoch FROM
           CASE WHEN t.created_at > %(since)s THEN t.created_at ELSE t.updated_at END) / 60) * 60)
           AS minute,
       CASE WHEN t.created_at > %(since)s THEN 'created' ELSE 'changed' END AS event,
       t.transaction_type::text AS transaction_type,
       t.status::text AS status,
       coalesce(a.currency::text, '') AS currency,
       count(*) AS transactions,
       sum(t.amount) AS amount,
       sum(extract(epoch FROM t.updated_at - t.created_at))
           FILTER (WHERE t.created_at <= %(since)s)::float8 AS age_seconds_sum,
       max(extract(epoch FROM t.updated_at - t.created_at))
           FILTER (WHERE t.created_at <= %(since)s)::float8 AS age_seconds_max
FROM transactions t
LEFT JOIN accounts a ON a.id = t.account_id
WHERE (t.created_at > %(since)s AND t.created_at <= %(until)s)
   OR (t.updated_at > %(since)s AND t.updated_at <= %(until)s AND t.created_at <= %(since)s)
GROUP BY 1, 2, 3, 4, 5
