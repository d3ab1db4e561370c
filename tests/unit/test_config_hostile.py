"""Hostile configuration files and environment values through the real CLI.

Each case runs `kasho-ops config check --config F` (collectors.cli.main, the console script's
entry point) and must end with exit code 2 and exactly one line on stderr, the error, with no
traceback; the cases named in issue 7 also run as `kasho-ops collect --once` in a process of
their own. A password written into a DSN is accepted, with one warning saying where it goes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from collectors.cli import main
from collectors.core import config as config_module

ROOT = Path(__file__).resolve().parents[2]
STORE = '[store]\ndsn = "host=127.0.0.1 port=1 dbname=kasho_ops"\n'
TARGET = '[[targets]]\nname = "kasho"\ndsn = "host=127.0.0.1 port=1 dbname=kasho"\n'


@dataclass(frozen=True)
class Case:
    name: str
    text: str | bytes | None  # None: no file at all
    expect: str  # a piece of the one error line
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # written next to the config
    from_issue: bool = False


def with_section(section: str, body: str) -> str:
    return f"{STORE}{TARGET}[{section}]\n{body}\n"


def with_target(body: str) -> str:
    return f'{STORE}[[targets]]\nname = "kasho"\n{body}\n'


def collector(body: str) -> str:
    return with_section("collector", body)


def store(body: str) -> str:
    return f"[store]\n{body}\n{TARGET}"


CASES = [
    # the file itself
    Case("file missing", None, "not found; copy kasho-ops.example.toml"),
    Case("file is a directory", "DIRECTORY", "cannot read (Is a directory)"),
    Case("file not UTF-8", STORE.encode() + b"# caf\xe9\n", "not UTF-8 text (byte 0xe9",
         from_issue=True),
    Case("file not UTF-8 (UTF-16)", STORE.encode("utf-16"), "not UTF-8 text"),
    Case("not TOML", "[store\ndsn = 1", "not valid TOML"),
    Case("NUL byte in the file", STORE + "\0", "not valid TOML"),
    Case("nested too deeply", "a = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
    Case("larger than 1 MiB", STORE + "#" * (1 << 20), "larger than 1 MiB"),
    Case("the config is /dev/zero", "/dev/zero", "larger than 1 MiB"),
    Case("empty file", "", "store.dsn is missing"),
    Case("unknown top-level key", "targetz = []\n" + STORE, "unknown top-level key 'targetz'"),
    Case("store not a table", "store = 5\n", "[store] must be a table"),
    Case("targets as a table", STORE + "[targets]\nname = 'a'\n",
         "targets must be an array of tables"),
    Case("targets of numbers", "targets = [1]\n" + STORE, "targets[0] must be a table"),
    Case("unknown collector key", collector("statement_timeout = 5"),
         "unknown key 'statement_timeout' in [collector]"),
    # [store]
    Case("store dsn a number", store("dsn = 5"), "store.dsn must be a string"),
    Case("store dsn empty", store('dsn = ""'), "store.dsn is missing"),
    Case("store dsn blank", store('dsn = "   "'), "store.dsn is empty"),
    Case("store dsn with NUL", store('dsn = "host=127.0.0.1\\u0000 port=5433"'),
         "store.dsn contains a NUL character", from_issue=True),
    Case("store dsn unknown option", store('dsn = "foo=bar"'),
         "store.dsn is not a valid libpq connection string"),
    Case("store dsn port 70000", store('dsn = "host=a port=70000"'),
         "store.dsn: port '70000' is not a TCP port"),
    Case("store URL port 99999", store('dsn = "postgresql://u@h:99999/db"'),
         "port '99999' is not a TCP port"),
    Case("store dsn sslmode", store('dsn = "host=a sslmode=sometimes"'),
         "sslmode 'sometimes' is not one of"),
    Case("store dsn connect_timeout", store('dsn = "host=a connect_timeout=soon"'),
         "connect_timeout 'soon' must be whole seconds"),
    Case("retention 0", store('dsn = "host=a"\nretention_days = 0'),
         "store.retention_days must be a whole number from 1 to 3650"),
    Case("retention 10^9 days", store('dsn = "host=a"\nretention_days = 1_000_000_000'),
         "store.retention_days must be a whole number from 1 to 3650 (got 1000000000)",
         from_issue=True),
    Case("retention 1.5", store('dsn = "host=a"\nretention_days = 1.5'), "retention_days"),
    Case("retention as text", store('dsn = "host=a"\nretention_days = "14"'),
         "(got '14')"),
    Case("retention true", store('dsn = "host=a"\nretention_days = true'), "(got True)"),
    Case("store password_env a list", store('dsn = "host=a"\npassword_env = ["PW"]'),
         "store.password_env must name an environment variable"),
    Case("KASHO_OPS_STORE_DSN port 0", STORE + TARGET, "KASHO_OPS_STORE_DSN: port '0'",
         env={"KASHO_OPS_STORE_DSN": "host=a port=0"}),
    # [collector]
    Case("statement_timeout 10^20", collector("statement_timeout_ms = 100_000_000_000_000_000_000"),
         "collector.statement_timeout_ms must be a whole number from 100 to 600000",
         from_issue=True),
    Case("statement_timeout 0", collector("statement_timeout_ms = 0"), "statement_timeout_ms"),
    Case("statement_timeout negative", collector("statement_timeout_ms = -5"), "(got -5)"),
    Case("statement_timeout fraction", collector("statement_timeout_ms = 5000.5"),
         "(got 5000.5)"),
    Case("statement_timeout nan", collector("statement_timeout_ms = nan"), "(got nan)"),
    Case("lock_timeout as text", collector('lock_timeout_ms = "500"'), "lock_timeout_ms"),
    Case("connect_timeout 10^9", collector("connect_timeout_seconds = 1_000_000_000"),
         "connect_timeout_seconds must be a whole number from 2 to 300"),
    Case("connect_timeout 1", collector("connect_timeout_seconds = 1"), "from 2 to 300"),
    Case("max connections 0", collector("max_connections_per_target = 0"),
         "max_connections_per_target must be a whole number"),
    Case("max connections 6", collector("max_connections_per_target = 6"), "at most 5"),
    Case("backoff inf", collector("backoff_base_seconds = inf"),
         "collector.backoff_base_seconds must be a number from 0.1 to 3600 (got inf)",
         from_issue=True),
    Case("backoff nan", collector("backoff_base_seconds = nan"), "(got nan)", from_issue=True),
    Case("backoff negative", collector("backoff_base_seconds = -1.0"), "(got -1.0)"),
    Case("backoff cap inf", collector("backoff_cap_seconds = inf"), "backoff_cap_seconds"),
    Case("backoff cap 1e308", collector("backoff_cap_seconds = 1e308"), "(got 1e+308)"),
    Case("backoff cap below base", collector("backoff_base_seconds = 10.0\n"
                                             "backoff_cap_seconds = 5.0"),
         "backoff_cap_seconds (5) is below backoff_base_seconds (10)"),
    Case("backoff true", collector("backoff_base_seconds = true"), "(got True)"),
    # [intervals] and their overrides
    Case("intervals a number", "intervals = 5\n" + STORE, "[intervals] must be a table"),
    Case("interval of an unknown group", with_section("intervals", "conections = 5"),
         "no metric group named 'conections'"),
    Case("interval 10^15", with_section("intervals", "connections = 1_000_000_000_000_000"),
         "intervals.connections must be a whole number from 1 to 86400 seconds",
         from_issue=True),
    Case("interval 0", with_section("intervals", "connections = 0"), "intervals.connections"),
    Case("interval 1.5", with_section("intervals", "connections = 1.5"), "(got 1.5)"),
    Case("interval as text", with_section("intervals", 'connections = "60"'), "(got '60')"),
    Case("interval nan", with_section("intervals", "connections = nan"), "(got nan)"),
    Case("interval env superscript two", STORE + TARGET,
         "KASHO_OPS_INTERVAL_CONNECTIONS must be a whole number of seconds",
         env={"KASHO_OPS_INTERVAL_CONNECTIONS": "²"}, from_issue=True),
    Case("interval env Arabic-Indic digit", STORE + TARGET, "(got '٣')",
         env={"KASHO_OPS_INTERVAL_CONNECTIONS": "٣"}),
    Case("interval env 1e3", STORE + TARGET, "(got '1e3')",
         env={"KASHO_OPS_INTERVAL_CONNECTIONS": "1e3"}),
    Case("interval env negative", STORE + TARGET, "(got '-1')",
         env={"KASHO_OPS_INTERVAL_CONNECTIONS": "-1"}),
    Case("interval env 10^10", STORE + TARGET, "(got '10000000000')",
         env={"KASHO_OPS_INTERVAL_CONNECTIONS": "10000000000"}),
    Case("interval env of an unknown group", STORE + TARGET,
         "KASHO_OPS_INTERVAL_NOPE: no metric group named 'nope'",
         env={"KASHO_OPS_INTERVAL_NOPE": "5"}),
    # [dashboard]
    Case("port 70000", with_section("dashboard", "port = 70000"),
         "dashboard.port must be a whole number from 1 to 65535 (got 70000)", from_issue=True),
    Case("port 0", with_section("dashboard", "port = 0"), "dashboard.port"),
    Case("port as text", with_section("dashboard", 'port = "8501"'), "(got '8501')"),
    Case("address beyond loopback", with_section("dashboard", 'address = "0.0.0.0"'),
         "not a loopback address"),
    Case("address a number", with_section("dashboard", "address = 127"),
         "dashboard.address 127 is not a loopback address"),
    Case("stale_after nan", with_section("dashboard", "stale_after_intervals = nan"),
         "dashboard.stale_after_intervals must be a number from 1 to 1000 (got nan)",
         from_issue=True),
    Case("stale_after inf", with_section("dashboard", "stale_after_intervals = inf"),
         "(got inf)"),
    Case("stale_after 0", with_section("dashboard", "stale_after_intervals = 0"), "(got 0)"),
    Case("actions_enabled yes", with_section("dashboard", 'actions_enabled = "yes"'),
         "dashboard.actions_enabled must be true or false"),
    Case("dashboard address env not an IP", STORE + TARGET, "is not an IP address",
         env={"KASHO_OPS_DASHBOARD_ADDRESS": "everywhere"}),
    # [[targets]]
    Case("target without a name", STORE + '[[targets]]\ndsn = "host=a"\n',
         "targets[0].name must be lowercase"),
    Case("target name a number", STORE + '[[targets]]\nname = 5\ndsn = "host=a"\n', "(got 5)"),
    Case("target name upper case", STORE + '[[targets]]\nname = "Kasho"\ndsn = "host=a"\n',
         "(got 'Kasho')"),
    Case("target name with a newline", STORE + '[[targets]]\nname = "kasho\\n"\n'
         'dsn = "host=a"\n', "(got 'kasho\\n')"),
    Case("target name too long", STORE + f'[[targets]]\nname = "{"a" * 64}"\ndsn = "host=a"\n',
         "targets[0].name must be lowercase"),
    Case("target names twice", STORE + TARGET + TARGET, "targets[1].name 'kasho' is used twice"),
    Case("target names sharing overrides",
         STORE + '[[targets]]\nname = "a-b"\ndsn = "host=a"\n'
         '[[targets]]\nname = "a_b"\ndsn = "host=a"\n', "would read the same environment"),
    Case("target without a dsn", STORE + '[[targets]]\nname = "kasho"\n',
         "targets[0].dsn is missing"),
    Case("target dsn a list", with_target('dsn = ["host=a"]'), "targets[0].dsn must be a string"),
    Case("target dsn with NUL", with_target('dsn = "host=127.0.0.1 dbname=kasho\\u0000 '
                                            'host=elsewhere"'),
         "targets[0].dsn contains a NUL character; libpq would silently cut", from_issue=True),
    Case("target dsn override with a bad port", STORE + TARGET,
         "KASHO_OPS_TARGET_KASHO_DSN: port '99999'",
         env={"KASHO_OPS_TARGET_KASHO_DSN": "host=a port=99999"}),
    Case("password_env a list", with_target('dsn = "host=a"\npassword_env = ["PW"]'),
         "targets[0].password_env must name an environment variable", from_issue=True),
    Case("password_env a number", with_target('dsn = "host=a"\npassword_env = 5'), "(got 5)"),
    Case("password_env empty", with_target('dsn = "host=a"\npassword_env = ""'), "(got '')"),
    Case("password_env not a variable name",
         with_target('dsn = "host=a"\npassword_env = "MY PASSWORD"'), "(got 'MY PASSWORD')"),
    Case("password_env not set", with_target('dsn = "host=a"\npassword_env = "NOT_SET_HERE"'),
         "names 'NOT_SET_HERE', which is not set"),
    Case("password_env set but empty", with_target('dsn = "host=a"\npassword_env = "MON_PW"'),
         "password_env MON_PW is empty", env={"MON_PW": ""}),
    Case("password_file a number", with_target('dsn = "host=a"\npassword_file = 5'),
         "targets[0].password_file must be the path of a file", from_issue=True),
    Case("password_file a list", with_target('dsn = "host=a"\npassword_file = ["pw"]'),
         "(got ['pw'])"),
    Case("password_file empty path", with_target('dsn = "host=a"\npassword_file = ""'),
         "(got '')"),
    Case("password_file missing", with_target('dsn = "host=a"\npassword_file = "absent"'),
         "cannot read (No such file or directory)"),
    Case("password_file a directory", with_target('dsn = "host=a"\npassword_file = "/"'),
         "cannot read (Is a directory)"),
    Case("password_file not UTF-8", with_target('dsn = "host=a"\npassword_file = "PW"'),
         "not UTF-8 text", files={"pw": b"caf\xe9\n"}, from_issue=True),
    Case("password_file empty", with_target('dsn = "host=a"\npassword_file = "PW"'),
         "is empty", files={"pw": b"\n"}),
    Case("password_file of two lines", with_target('dsn = "host=a"\npassword_file = "PW"'),
         "holds more than one line", files={"pw": b"one\ntwo\n"}),
    Case("password_file holding a NUL", with_target('dsn = "host=a"\npassword_file = "PW"'),
         "contains a NUL character", files={"pw": b"pass\0word\n"}),
    Case("password_file too large", with_target('dsn = "host=a"\npassword_file = "PW"'),
         "larger than 64 KiB", files={"pw": b"x" * (70 << 10)}),
    Case("password_file path with NUL",
         with_target('dsn = "host=a"\npassword_file = "/etc/x\\u0000y"'),
         "password_file must be the path of a file"),
    Case("password_file of an unknown user",
         with_target('dsn = "host=a"\npassword_file = "~no_such_user_here/pw"'),
         "cannot find that user's home directory"),
    Case("password_env and password_file",
         with_target('dsn = "host=a"\npassword_env = "MON_PW"\npassword_file = "pw"'),
         "sets both password_env and password_file"),
    Case("actions_dsn a number", with_target('dsn = "host=a"\nactions_dsn = 5'),
         "targets[0].actions_dsn must be a string"),
    Case("actions_dsn with NUL", with_target('dsn = "host=a"\nactions_dsn = "host=a\\u0000"'),
         "targets[0].actions_dsn contains a NUL character"),
]


@pytest.fixture(autouse=True)
def clean_process_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each case sees only its own KASHO_OPS_* variables; main()'s logging setup is undone."""
    for key in list(os.environ):
        if key.startswith("KASHO_OPS_") or key == "MON_PW":
            monkeypatch.delenv(key)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    config_module._warn_password_in_dsn.cache_clear()  # warned once per process otherwise
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def write_case(case: Case, directory: Path) -> Path:
    for name, content in case.files.items():
        (directory / name).write_bytes(content)
    path = directory / "kasho-ops.toml"
    if case.text == "DIRECTORY":
        path.mkdir()
    elif case.text == "/dev/zero":
        return Path("/dev/zero")
    elif isinstance(case.text, bytes):
        path.write_bytes(case.text)
    elif case.text is not None:
        text = case.text.replace('"PW"', f'"{directory / "pw"}"')
        path.write_text(text)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_config_is_one_line_and_exit_2(case: Case, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = write_case(case, tmp_path)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    code = main(["config", "check", "--config", str(path)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kasho-ops: error: ")
    assert case.expect in lines[0], lines[0]


def test_the_table_is_at_least_as_large_as_the_probe_in_the_issue() -> None:
    assert len(CASES) >= 69
    assert sum(c.from_issue for c in CASES) >= 13


@pytest.mark.parametrize("dsn", ["host=127.0.0.1 dbname=kasho user=mon password=hunter2",
                                 "postgresql://mon:hunter2@127.0.0.1/kasho"])
def test_a_password_in_a_dsn_is_accepted_with_one_warning(
        dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "k.toml"
    path.write_text(f'{STORE}[[targets]]\nname = "kasho"\ndsn = "{dsn}"\n')
    assert main(["config", "check", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    [warning] = err.splitlines()
    assert " WARNING " in warning
    assert warning.endswith(f"{path}: targets[0].dsn holds a password, readable by anyone who "
                            "can read the config file; remove it from the dsn and use "
                            "password_env or password_file (or ~/.pgpass)")
    assert "hunter2" not in out + err
    assert out.startswith(f"{path}: valid; ")


def test_a_password_in_a_dsn_from_the_environment_is_not_warned_about(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The environment is where password_env reads from too: no file holds it.
    path = tmp_path / "k.toml"
    path.write_text(STORE + TARGET)
    monkeypatch.setenv("KASHO_OPS_TARGET_KASHO_DSN", "host=a user=m password=hunter2")
    assert main(["config", "check", "--config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "hunter2" not in out


def test_friendly_inputs_are_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "k.toml"
    path.write_bytes("\ufeff".encode() + (STORE + TARGET).encode())  # a BOM from an editor
    (tmp_path / "pw").write_text("s3cret\n")
    monkeypatch.setenv("KASHO_OPS_INTERVAL_CONNECTIONS", " 60 ")
    assert main(["config", "check", "--config", str(path)]) == 0
    assert capsys.readouterr().err == ""
    store_pw = tmp_path / "store.toml"
    store_pw.write_text(f'[store]\ndsn = "host=a dbname=s"\npassword_file = '
                        f'"{tmp_path / "pw"}"\n')
    dsn = config_module.load_config(store_pw).store.dsn.reveal()
    assert conninfo_to_dict(dsn) == {"host": "a", "dbname": "s", "password": "s3cret"}


def _collect_once(case: Case, directory: Path) -> subprocess.CompletedProcess[str]:
    path = write_case(case, directory)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASHO_OPS_")}
    return subprocess.run([sys.executable, "-m", "collectors.cli", "collect", "--once",
                           "--config", str(path)], capture_output=True, text=True,
                          env={**env, **case.env}, cwd=ROOT, timeout=120)


def test_the_cases_of_the_issue_through_collect_once(tmp_path: Path) -> None:
    issue_cases = [c for c in CASES if c.from_issue]
    directories = []
    for index in range(len(issue_cases)):
        directories.append(tmp_path / str(index))
        directories[-1].mkdir()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(_collect_once, issue_cases, directories))
    for case, result in zip(issue_cases, results, strict=True):
        lines = result.stderr.splitlines()
        assert (result.returncode, len(lines)) == (2, 1), f"{case.name}: {result.stderr}"
        assert case.expect in lines[0], f"{case.name}: {lines[0]}"
