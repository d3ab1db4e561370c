-- business_signups (PostgreSQL 13+): new Kasho users, and new accounts per account type and
-- currency, created in the run's window (since, until], per minute. Incremental like
-- business_transactions; reads the created_at indexes of users and accounts. Users carry no
-- type or currency ('').
SELECT to_timestamp(floor(extract(epoch FROM u.created_at) / 60) * 60) AS minute,
       'user' AS entity, '' AS account_type, '' AS currency, count(*) AS created
FROM users u
WHERE u.created_at > %(since)s AND u.created_at <= %(until)s
GROUP BY 1
UNION ALL
SELECT to_timestamp(floor(extract(epoch FROM a.created_at) / 60) * 60),
       'account', a.account_type::text, a.currency::text, count(*)
FROM accounts a
WHERE a.created_at > %(since)s AND a.created_at <= %(until)s
GROUP BY 1, 3, 4
