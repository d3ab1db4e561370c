SET lock_timeout = '5s';

DROP TABLE kasho_ops.security_ssl;
DROP TABLE kasho_ops.security_access;
DROP TABLE kasho_ops.security_hba;
DROP TABLE kasho_ops.security_roles;
DROP TABLE kasho_ops.security_settings;
