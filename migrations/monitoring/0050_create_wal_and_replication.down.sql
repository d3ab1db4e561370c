SET lock_timeout = '5s';

DROP TABLE kasho_ops.basebackup_progress;
DROP TABLE kasho_ops.recovery_status;
DROP TABLE kasho_ops.replication_slots;
DROP TABLE kasho_ops.replication_standbys;
DROP TABLE kasho_ops.wal_archive_backlog;
DROP TABLE kasho_ops.wal_archiving;
DROP TABLE kasho_ops.wal_archive_counts;
