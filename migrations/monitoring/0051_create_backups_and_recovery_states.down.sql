SET lock_timeout = '5s';

DROP VIEW kasho_ops.recovery_states_latest;
DROP TABLE kasho_ops.recovery_states;
DROP TABLE kasho_ops.restore_drills;
DROP TABLE kasho_ops.pgbackrest_backups;
DROP TABLE kasho_ops.pgbackrest_stanzas;
