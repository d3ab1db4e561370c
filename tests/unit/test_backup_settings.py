"""[backups] and the per-target pgBackRest keys; the drill's pure parts (backup choice,
restore arguments, recovery's log lines)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.backups.drill import choose_backup, restore_args
from collectors.backups.info import parse_info
from collectors.backups.scratch import DrillError, ScratchServer, isolation_settings
from collectors.backups.settings import BackupSettings, PgBackRestSource
from collectors.core.config import parse_config
from collectors.core.errors import ConfigError

INFO = (Path(__file__).parent / "data" / "pgbackrest_info.json").read_text()


def config(backups: dict[str, Any] | None = None, **target: Any) -> Any:
    raw: dict[str, Any] = {"store": {"dsn": "host=127.0.0.1 dbname=kasho_ops"},
                           "targets": [{"name": "kasho", "dsn": "host=127.0.0.1", **target}]}
    if backups is not None:
        raw["backups"] = backups
    return parse_config(raw, environ={})


def test_defaults_and_a_target_without_pgbackrest() -> None:
    parsed = config()
    assert parsed.backups == BackupSettings()
    assert parsed.targets[0].pgbackrest is None


def test_a_stanza_and_a_command_reaching_another_host() -> None:
    parsed = config(pgbackrest_stanza="main",
                    pgbackrest_command="ssh -o BatchMode=yes 'backup host' pgbackrest")
    assert parsed.targets[0].pgbackrest == PgBackRestSource(
        "main", ("ssh", "-o", "BatchMode=yes", "backup host", "pgbackrest"))
    assert config(pgbackrest_stanza="main").targets[0].pgbackrest == PgBackRestSource("main")


@pytest.mark.parametrize(("target", "backups", "message"), [
    ({"pgbackrest_stanza": "a b"}, None, "pgbackrest_stanza must be a stanza name"),
    ({"pgbackrest_stanza": 3}, None, "pgbackrest_stanza must be a stanza name"),
    ({"pgbackrest_command": "pgbackrest"}, None, "pgbackrest_stanza is not"),
    ({"pgbackrest_stanza": "m", "pgbackrest_command": "ssh 'x"}, None, "check the quotes"),
    ({"pgbackrest_stanza": "m", "pgbackrest_command": ""}, None, "must name a program"),
    ({"pgbackrest_stanza": "m", "pgbackrest_command": 7}, None, "must be a command line"),
    ({}, {"max_backup_age_hours": 0}, "backups.max_backup_age_hours must be a number > 0"),
    ({}, {"max_backup_age_hours": float("nan")}, "max_backup_age_hours"),
    ({}, {"pgbackrest_interval_seconds": 1.5}, "must be a whole number > 0"),
    ({}, {"drill_interval_hours": -1}, "drill_interval_hours must be a number >= 0"),
    ({}, {"drill_timeout_seconds": True}, "drill_timeout_seconds"),
    ({}, {"max_slot_retained_mb": 10**12}, "at most 1000000000"),
    ({}, {"drill_scratch_dir": ""}, "drill_scratch_dir must be a directory path"),
    ({}, {"retention": 3}, "unknown key 'retention' in [backups]"),
])
def test_bad_values_are_one_line_errors(target: dict[str, Any], backups: dict[str, Any] | None,
                                        message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config(backups, **target)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_backup_settings_are_read() -> None:
    parsed = config({"min_pitr_window_hours": 0, "drill_interval_hours": 24,
                     "drill_scratch_dir": "/srv/drills", "drill_pg_bin": "/opt/pg/bin",
                     "drill_pgbackrest_command": ["pgbackrest", "--config=/etc/pb.conf"]})
    assert parsed.backups.min_pitr_window_hours == 0.0
    assert parsed.backups.drill_interval_hours == 24.0
    assert parsed.backups.drill_scratch_dir == Path("/srv/drills")
    assert parsed.backups.drill_pg_bin == Path("/opt/pg/bin")
    assert parsed.backups.drill_pgbackrest_command == ("pgbackrest", "--config=/etc/pb.conf")


def test_the_drill_takes_the_newest_backup_before_the_target() -> None:
    backups = parse_info(INFO, "demo").backups
    assert choose_backup(backups, None).label.endswith("I")
    between = datetime.fromtimestamp(1796164824, UTC)  # after the full, before the incr ends
    assert choose_backup(backups, between).backup_type == "full"
    with pytest.raises(DrillError, match="no good backup that ended before"):
        choose_backup(backups, datetime.fromtimestamp(1796164820, UTC))


def test_restore_only_ever_writes_into_the_scratch_directory() -> None:
    scratch = Path("/scratch/kasho-ops-drill-x")
    to = datetime(2025, 3, 1, 12, 0, 5, 250000, tzinfo=UTC)
    args = restore_args("main", "F_I", scratch / "data", scratch, to)
    assert args[-1] == "restore"
    assert {"--pg1-path=/scratch/kasho-ops-drill-x/data", "--reset-pg1-host",
            "--archive-mode=off", "--set=F_I", "--type=time",
            "--tablespace-map-all=/scratch/kasho-ops-drill-x/tablespaces",
            "--target=2025-03-01 12:00:05.250000+00", "--target-action=promote"} <= set(args)
    latest = restore_args("main", "F_I", scratch / "data", scratch, None)
    assert "--type=default" in latest and not any(a.startswith("--target") for a in latest)


def test_the_copy_runs_isolated() -> None:
    settings = isolation_settings(40000, Path("/s/socket"), Path("/s/data/hba.conf"))
    for key in ("archive_command", "archive_cleanup_command", "recovery_end_command",
                "primary_conninfo", "synchronous_standby_names", "shared_preload_libraries"):
        assert settings[key] == ""
    assert settings["archive_mode"] == "off" and settings["listen_addresses"] == "127.0.0.1"
    assert settings["hba_file"] == "/s/data/hba.conf" and settings["port"] == "40000"


def test_recovery_log_lines_are_read(tmp_path: Path) -> None:
    server = ScratchServer(tmp_path, Path("/usr/lib/postgresql/15/bin"))
    server.log_file.write_text(
        "2025-03-01 12:00:09.1 UTC [9] LOG:  starting point-in-time recovery to "
        "2025-03-01 12:00:05.25+00\n"
        "2025-03-01 12:00:09.9 UTC [9] LOG:  recovery stopping before commit of transaction "
        "771, time 2025-03-01 12:00:05.314159+00\n"
        "2025-03-01 12:00:09.9 UTC [9] LOG:  last completed transaction was at log time "
        "2025-03-01 12:00:04.9+00\n"
        "2025-03-01 12:00:10.0 UTC [9] FATAL:  something else\n")
    assert server.stopped_at_target() == datetime(2025, 3, 1, 12, 0, 5, 314159, tzinfo=UTC)
    assert server.last_transaction_in_log() == datetime(2025, 3, 1, 12, 0, 4, 900000,
                                                        tzinfo=UTC)
    assert server.last_error_line().endswith("FATAL:  something else")


def test_the_line_that_says_why_pgbackrest_failed() -> None:
    from collectors.backups.pgbackrest import last_line

    output = ("WARN: unable to check pg1: [VersionNotSupportedError] unexpected control version\n"
              "      HINT: is this version of PostgreSQL supported?\n"
              "ERROR: [056]: unable to find primary cluster - cannot proceed\n"
              "       HINT: are all available clusters in recovery?\n")
    assert last_line(output) == (
        "WARN: unable to check pg1: [VersionNotSupportedError] unexpected control version "
        "(HINT: is this version of PostgreSQL supported?); ERROR: [056]: unable to find "
        "primary cluster - cannot proceed (HINT: are all available clusters in recovery?)")
    assert last_line("ssh: connect to host backup port 22: Connection refused\n") == \
        "ssh: connect to host backup port 22: Connection refused"
    assert last_line("ERROR: [037]: password=hunter2 rejected") == \
        "ERROR: [037]: password=*** rejected"
