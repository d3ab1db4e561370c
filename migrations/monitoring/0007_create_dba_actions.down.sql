SET lock_timeout = '5s';

DROP TABLE kasho_ops.dba_actions;
DROP FUNCTION kasho_ops.reject_audit_change();
