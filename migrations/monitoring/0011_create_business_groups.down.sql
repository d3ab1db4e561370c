SET lock_timeout = '5s';

DROP TABLE kasho_ops.business_balances;
DROP TABLE kasho_ops.business_signups;
DROP TABLE kasho_ops.business_pending;
DROP TABLE kasho_ops.business_transactions;
