SET lock_timeout = '5s';

DROP INDEX kasho_ops.sign_ins_session_key_idx;
ALTER TABLE kasho_ops.sign_ins DROP COLUMN session_key;
