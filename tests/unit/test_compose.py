"""docker-compose.yml, the Dockerfile and deploy/ checked offline: no container engine runs here.

The compose file is read the way compose reads it: YAML with merge keys, then `${VAR}`
interpolation, here from deploy/.env.example's placeholders. What it asks of the project is
then checked against the project itself: every `kasho-ops` command line against the real
argparse parser, every service environment against collectors.core.config.parse_config with the
mounted deploy/kasho-ops.toml, and the whole file against the compose-spec JSON schema.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from collectors.cli import build_parser
from collectors.core.config import (
    CONFIG_ENV,
    DASHBOARD_ADDRESS_ENV,
    LOOPBACK_ADDRESSES,
    parse_config,
    resolve_config_path,
)
from collectors.core.metric_groups import load_catalog
from collectors.migrate import MIGRATIONS_ROOT
from tests.ci import missing_tool

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
INIT_DIR = ROOT / "deploy" / "postgres-init"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
APP_SERVICES = ("migrate", "collector", "dashboard")
CONFIGURED_SERVICES = ("collector", "dashboard")  # the ones that load kasho-ops.toml

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, $NAME, or $$
_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])"
    r"(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


# -- reading the files the way compose and docker would ---------------------------------------

def env_example() -> tuple[dict[str, str], set[str]]:
    """deploy/.env.example: (required NAME=value lines, optional names in `# NAME=` lines)."""
    required: dict[str, str] = {}
    optional: set[str] = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        if match := re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line):
            required[match.group(1)] = match.group(2)
        elif match := re.match(r"^#\s*([A-Z][A-Z0-9_]*)=", line):
            optional.add(match.group(1))
    return required, optional


def interpolate(value: Any, variables: dict[str, str], seen: set[str]) -> Any:
    """Compose's interpolation over a parsed document; records every variable name in `seen`."""
    if isinstance(value, dict):
        return {key: interpolate(item, variables, seen) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, variables, seen) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("bare")
        seen.add(name)
        op, arg = match.group("op"), match.group("arg")
        current = variables.get(name)
        missing = current is None or (current == "" and op is not None and op.startswith(":"))
        if op and op.endswith("?") and missing:
            raise AssertionError(f"compose would stop: {name} is required ({arg})")
        if op and op.endswith("-") and missing:
            return arg
        return current or ""

    return _INTERPOLATION.sub(substitute, value)


@cache
def raw_compose() -> dict[str, Any]:
    return YAML(typ="safe", pure=True).load(COMPOSE_FILE.read_text())


def compose(variables: dict[str, str] | None = None) -> dict[str, Any]:
    """The compose file after interpolation (default: the placeholders of .env.example)."""
    if variables is None:
        variables = env_example()[0]
    return interpolate(raw_compose(), variables, set())


def services() -> dict[str, Any]:
    return compose()["services"]


def kasho_ops_argvs(service: dict[str, Any]) -> list[list[str]]:
    """Every `kasho-ops` argument list a service runs (entrypoint kasho-ops or a sh -c script)."""
    entrypoint = service.get("entrypoint")
    command = service.get("command")
    if entrypoint is None:
        return [list(command)]
    assert entrypoint[0] in ("sh", "/bin/sh") and entrypoint[-1].endswith("c"), entrypoint
    argvs = []
    for line in "\n".join(command).splitlines():
        words = shlex.split(line, comments=True)
        while words and _ASSIGNMENT.match(words[0]):
            words.pop(0)
        if words:
            assert words[0] == "kasho-ops", f"script line runs {words[0]!r}, not kasho-ops: {line}"
            argvs.append(words[1:])
    return argvs


def container_env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    assert isinstance(environment, dict), "write environment as a mapping"
    return {key: str(value) for key, value in environment.items()}


def mounted_config(service: dict[str, Any]) -> Path:
    """The repository file mounted where the service's KASHO_OPS_CONFIG points (read-only)."""
    path = container_env(service)[CONFIG_ENV]
    for volume in service.get("volumes", []):
        source, target, *options = volume.split(":")
        if target == path:
            assert options == ["ro"], f"{volume}: mount the config read-only"
            return ROOT / source
    raise AssertionError(f"{CONFIG_ENV}={path} is not a mounted file")


def load_service_config(service: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    raw = tomllib.loads(mounted_config(service).read_text())
    return parse_config(raw, environ=container_env(service) if env is None else env,
                        known_groups=set(load_catalog()))


def dockerfile_instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


# -- the compose file ---------------------------------------------------------------------------

def test_compose_file_matches_the_compose_spec_schema() -> None:
    executable = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) \
        or shutil.which("check-jsonschema")
    if executable is None:
        missing_tool("check-jsonschema is not installed (pip install -r requirements-dev.txt)")
    result = subprocess.run(
        [executable, "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_services_images_and_restart_policies() -> None:
    svc = services()
    assert set(svc) == {"postgres", *APP_SERVICES}
    assert svc["postgres"]["image"] == "postgres:15"
    images = {svc[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1, f"one kasho-ops image for every service, got {images}"
    for name in APP_SERVICES:
        assert svc[name]["build"] == ".", f"{name} builds the Dockerfile at the root"
        assert svc[name]["init"] is True, f"{name}: PID 1 must forward SIGTERM"
        assert svc[name]["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in svc[name]["security_opt"]
    assert svc["migrate"]["restart"] == "no"
    for name in ("postgres", "collector", "dashboard"):
        assert svc[name]["restart"] == "unless-stopped"


def test_postgres_preloads_pg_stat_statements_and_keeps_data_in_a_named_volume() -> None:
    postgres = services()["postgres"]
    command = postgres["command"]
    assert command[0] == "postgres"
    settings = dict(value.split("=", 1) for flag, value in zip(command[1::2], command[2::2],
                                                                strict=True) if flag == "-c")
    assert "pg_stat_statements" in settings["shared_preload_libraries"].split(",")
    assert settings["pg_stat_statements.track"] == "all"

    volumes = postgres["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in volumes
    assert "pgdata" in compose()["volumes"]
    assert "./deploy/postgres-init:/docker-entrypoint-initdb.d:ro" in volumes
    assert "ports" not in postgres, "the database is reachable from the compose network only"


def test_healthchecks_and_startup_order() -> None:
    svc = services()
    pg_check = svc["postgres"]["healthcheck"]["test"]
    # TCP, not the socket: the init scripts run while the server listens on its socket only.
    assert pg_check[:2] == ["CMD", "pg_isready"] and "--host=127.0.0.1" in pg_check
    assert "healthcheck" not in svc["migrate"], "a one-shot service has nothing to probe"
    collector_check = "\n".join(svc["collector"]["healthcheck"]["test"])
    assert "kasho_ops.collector_runs" in collector_check
    assert "KASHO_OPS_STORE_DSN" in collector_check

    def condition(service: str, on: str) -> str:
        return svc[service]["depends_on"][on]["condition"]

    assert condition("migrate", "postgres") == "service_healthy"
    assert condition("collector", "migrate") == "service_completed_successfully"
    assert condition("collector", "postgres") == "service_healthy"
    assert condition("dashboard", "migrate") == "service_completed_successfully"


def test_dashboard_is_published_on_the_host_loopback_only() -> None:
    svc = services()
    for name, service in svc.items():
        for port in service.get("ports", []):
            # Long syntax names host_ip; short syntax is [[HOST_IP:]HOST_PORT:]CONTAINER_PORT.
            parts = str(port).split(":")
            host_ip = port.get("host_ip") if isinstance(port, dict) else ":".join(parts[:-2])
            assert host_ip in LOOPBACK_ADDRESSES, f"{name} publishes {port} beyond loopback"
    dashboard = svc["dashboard"]
    assert dashboard["ports"] == ["127.0.0.1:8501:8501"]
    assert compose({**env_example()[0], "KASHO_DASHBOARD_PORT": "9000"})["services"][
        "dashboard"]["ports"] == ["127.0.0.1:9000:8501"]
    # The wildcard bind is only for the service whose ports are all on the host's loopback.
    for name, service in svc.items():
        if name != "dashboard":
            assert DASHBOARD_ADDRESS_ENV not in container_env(service)
    assert container_env(dashboard)[DASHBOARD_ADDRESS_ENV] == "0.0.0.0"

    [argv] = kasho_ops_argvs(dashboard)
    port = build_parser().parse_args(argv).port
    check = " ".join(dashboard["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/_stcore/health" in check
    assert dashboard["ports"][0].endswith(f":{port}")


# -- commands against the real CLI ------------------------------------------------------------

def test_every_kasho_ops_command_parses_with_the_cli() -> None:
    parser = build_parser()
    parsed: dict[str, list[Any]] = {}
    for name in APP_SERVICES:
        for argv in kasho_ops_argvs(services()[name]):
            try:
                parsed.setdefault(name, []).append(parser.parse_args(argv))
            except SystemExit:
                pytest.fail(f"{name}: `kasho-ops {shlex.join(argv)}` does not parse")
    assert [(a.command, a.action, a.set) for a in parsed["migrate"]] == [
        ("migrate", "up", "monitoring"), ("migrate", "up", "kasho")]
    [collect] = parsed["collector"]
    assert (collect.command, collect.once, collect.group) == ("collect", False, None)
    [dashboard] = parsed["dashboard"]
    assert (dashboard.command, dashboard.port) == ("dashboard", 8501)


def test_migrate_reads_its_urls_from_the_environment_not_the_command_line() -> None:
    migrate = services()["migrate"]
    variables = []
    for line in filter(str.strip, "\n".join(migrate["command"]).splitlines()):
        assignment = shlex.split(line)[0]
        assert assignment.startswith("DATABASE_URL=$"), line
        variables.append(assignment.removeprefix("DATABASE_URL=$"))
    assert sorted(variables) == sorted(container_env(migrate)), \
        "each URL the script uses is set on the service, and nothing else is"
    for argv in kasho_ops_argvs(migrate):
        assert "--database-url" not in argv, "a URL with a password would show in ps"


@pytest.mark.parametrize("migration_set", ["monitoring", "kasho"])
def test_every_migration_set_the_migrate_service_applies_is_in_the_image(
        migration_set: str) -> None:
    sets = [build_parser().parse_args(a).set for a in kasho_ops_argvs(services()["migrate"])]
    assert migration_set in sets
    directory = MIGRATIONS_ROOT / migration_set
    assert any(directory.glob("*.up.sql")), f"{directory} holds no migrations"


# -- environment against the real config loader -----------------------------------------------

@pytest.mark.parametrize("name", CONFIGURED_SERVICES)
def test_service_environment_configures_the_mounted_toml(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    service = services()[name]
    env = container_env(service)
    monkeypatch.setenv(CONFIG_ENV, env[CONFIG_ENV])
    assert str(resolve_config_path(None)) == env[CONFIG_ENV]

    cfg = load_service_config(service)
    assert cfg.store.dsn.reveal() == env["KASHO_OPS_STORE_DSN"]
    assert "password='change-me-kasho-ops-store'" in cfg.store.dsn.reveal()
    [target] = cfg.targets
    assert target.dsn.reveal() == "host=postgres port=5432 dbname=kasho user=kasho_ops_monitor"
    assert target.password is not None
    assert target.password.reveal() == env_example()[0]["KASHO_MONITOR_PASSWORD"]
    assert cfg.dashboard.address == ("0.0.0.0" if name == "dashboard" else "127.0.0.1")


@pytest.mark.parametrize("name", CONFIGURED_SERVICES)
def test_every_variable_a_service_sets_is_read_by_the_config(name: str) -> None:
    """Change each variable alone: if the parsed config stays the same, nothing reads it."""
    service = services()[name]
    env = container_env(service)
    baseline = load_service_config(service)
    for key in env:
        if key == CONFIG_ENV:
            continue  # read by resolve_config_path, checked above
        if key.endswith("_DSN"):
            changed = "host=perturbed.invalid dbname=perturbed"
        elif key == DASHBOARD_ADDRESS_ENV:
            changed = "::1"
        elif key.startswith("KASHO_OPS_INTERVAL_"):
            changed = "4242"
        else:
            changed = "perturbed"
        assert load_service_config(service, {**env, key: changed}) != baseline, (
            f"{name} sets {key}, but collectors/config.py does not read it")


def test_env_example_documents_every_variable_the_compose_file_reads() -> None:
    required, optional = env_example()
    seen: set[str] = set()
    interpolate(raw_compose(), required, seen)
    assert seen == set(required) | optional
    compose_text = COMPOSE_FILE.read_text()
    for name in required:
        assert f"${{{name}:?" in compose_text, f"{name} is required: use ${{{name}:?message}}"
        assert required[name].startswith("change-me"), f"{name}: only placeholders here"
    with pytest.raises(AssertionError, match="KASHO_STORE_PASSWORD is required"):
        compose({k: v for k, v in required.items() if k != "KASHO_STORE_PASSWORD"})


def test_no_password_is_written_into_the_compose_file() -> None:
    text = COMPOSE_FILE.read_text()
    for match in re.finditer(r"password\s*=\s*'?([^'\s\"]*)", text, re.IGNORECASE):
        assert match.group(1).startswith("${"), f"literal password in compose: {match.group(0)}"
    assert "POSTGRES_HOST_AUTH_METHOD" not in text


# -- postgres init script -----------------------------------------------------------------------

def init_sql(script: Path) -> str:
    """The SQL the init script feeds psql (its <<'SQL' here-document), comments removed."""
    body = script.read_text().split("<<'SQL'\n", 1)[1].split("\nSQL\n", 1)[0]
    return " ".join(" ".join(line.split("--")[0] for line in body.splitlines()).split())


def test_init_script_creates_databases_and_a_least_privilege_monitor_role() -> None:
    [script] = sorted(INIT_DIR.iterdir())
    assert script.suffix == ".sh" and script.stat().st_mode & 0o111, "an executable .sh"
    text = script.read_text()
    if shutil.which("bash"):
        subprocess.run(["bash", "-n", str(script)], check=True)
    sql = init_sql(script)
    for statement in ("CREATE DATABASE kasho OWNER kasho;",
                      "CREATE DATABASE kasho_ops OWNER kasho_ops_store;",
                      "CREATE ROLE kasho_ops_monitor LOGIN CONNECTION LIMIT 5 PASSWORD "
                      ":'monitor_password';",
                      "GRANT pg_monitor TO kasho_ops_monitor;",
                      "\\connect kasho CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"):
        assert statement in sql
    assert "SUPERUSER" not in sql.upper()
    grants = re.findall(r"GRANT ([^;]+) TO ([^;]+);", sql)
    assert [g for g in grants if "kasho_ops_monitor" in g[1]] == [
        ("pg_monitor", "kasho_ops_monitor"),
        ("CONNECT ON DATABASE kasho", "kasho, kasho_ops_monitor")]
    # Every variable the script reads reaches the postgres container.
    postgres_env = container_env(services()["postgres"])
    read = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", text)) - {"POSTGRES_USER"}
    assert read == set(postgres_env) - {"POSTGRES_PASSWORD"}, \
        f"{script.name} reads {sorted(read)}; the postgres service passes {sorted(postgres_env)}"


def test_roles_in_connection_strings_match_the_init_script() -> None:
    sql = init_sql(INIT_DIR / "10-kasho-ops.sh")
    migrate_env = container_env(services()["migrate"])
    for dsn, role, database in (
            (migrate_env["KASHO_OPS_STORE_DSN"], "kasho_ops_store", "kasho_ops"),
            (migrate_env["KASHO_DATABASE_URL"], "kasho", "kasho"),
            (container_env(services()["collector"])["KASHO_OPS_TARGET_KASHO_PRIMARY_DSN"],
             "kasho_ops_monitor", "kasho")):
        params = dict(word.split("=", 1) for word in shlex.split(dsn))
        assert (params["user"], params["dbname"]) == (role, database)
        assert f"CREATE ROLE {role} LOGIN" in sql
        [grantees] = re.findall(rf"GRANT CONNECT ON DATABASE {database} TO ([^;]+);", sql)
        assert role in [g.strip() for g in grantees.split(",")]


# -- Dockerfile -----------------------------------------------------------------------------------

def test_dockerfile_runs_kasho_ops_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert json.loads(dict(instructions)["ENTRYPOINT"]) == ["kasho-ops"]
    users = [i for i, (keyword, _) in enumerate(instructions) if keyword == "USER"]
    assert users, "the image must switch to a non-root USER"
    user = instructions[users[-1]][1].split(":")[0]
    assert user not in ("root", "0")
    runs = [i for i, (keyword, _) in enumerate(instructions) if keyword == "RUN"]
    assert max(runs) < users[-1], "the non-root USER comes after every RUN, so it is the one left"
    runs_text = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert "pip install -r requirements.txt" in runs_text
    assert "requirements-dev" not in DOCKERFILE.read_text()


def test_dockerfile_copies_only_what_dockerignore_lets_in() -> None:
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", ".dockerignore is an allow-list"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "COPY":
            *sources, _destination = rest.split()
            copied += [s.rstrip("/") for s in sources if not s.startswith("--")]
    assert set(copied) == allowed
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: missing from the repository"
    # What the CLI resolves next to the collectors package must be in the image.
    assert {"collectors", "migrations", "dashboard", "pyproject.toml"} <= set(copied)
