"""Backups, WAL archiving, point-in-time recovery and replication beyond the SQL groups.

The SQL side (pg_stat_archiver, pg_stat_replication, slots, recovery status, base backup
progress) is ordinary metric groups in `collectors/catalog/`. This package holds what is not
SQL: `settings.py` parses `[backups]` and the per-target `pgbackrest_stanza` /
`pgbackrest_command`; `pgbackrest.py` runs pgBackRest's read-only commands (as the postgres
OS user when root); `info.py` parses their output and computes WAL gaps and the PITR window
(pure); `collect.py` stores a stanza's state and backups; `facts.py` reads a target's latest
facts from the store and `states.py` judges them into recovery states (pure); `scratch.py`
starts a restored copy in isolation and `drill.py` is the restore drill; `jobs.py` schedules
all of it in the collector.
"""
