SET lock_timeout = '5s';

DROP TABLE kasho_ops.kasho_schema_version;
DROP TABLE kasho_ops.transaction_ages;
DROP TABLE kasho_ops.server_settings;
DROP TABLE kasho_ops.server_state;
