-- Sign-up: a new user and their first account (a currency and type like existing ones').
\set n random(1, :accounts)
\set r random(100000000000, 999999999999)
\set kind random(1, 10)
-- name: DemoPickCurrency :one
SELECT currency FROM kasho_demo.accounts WHERE n = :n \gset
BEGIN;
-- name: CreateUser :one
INSERT INTO users (id, email, password_hash)
VALUES (gen_random_uuid(), 'signup.:r@example.com', '$2b$12$:r.:r.:r.:r.x')
RETURNING id AS user_id, created_at \gset
\if :kind <= 6
-- name: CreateAccount :one
INSERT INTO accounts (id, user_id, account_type, balance, currency)
VALUES (gen_random_uuid(), ':user_id', 'checking', 0, ':currency')
RETURNING id, created_at;
\elif :kind <= 9
-- name: CreateAccount :one
INSERT INTO accounts (id, user_id, account_type, balance, currency)
VALUES (gen_random_uuid(), ':user_id', 'savings', 0, ':currency')
RETURNING id, created_at;
\else
-- name: CreateAccount :one
INSERT INTO accounts (id, user_id, account_type, balance, currency)
VALUES (gen_random_uuid(), ':user_id', 'business', 0, ':currency')
RETURNING id, created_at;
\endif
END;
