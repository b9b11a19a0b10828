"""The deployment files say what ``lineal`` accepts: the Dockerfile, compose.yaml and the
commands in docs/deploy.md use only commands and options that exist, and the files agree with
each other. No Docker engine runs here, so this is as far as they can be checked."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest

from lineal.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
DEPLOY = ROOT / "docs" / "deploy.md"
EXTRAS = {"server", "postgres", "mysql", "s3"}


# -- checking a lineal command line against the CLI ------------------------------------------
def lineal_commands(text: str) -> list[list[str]]:
    """Every ``lineal ...`` invocation in shell-like text (continuation lines joined, comments
    dropped), as argument lists after ``lineal``: a line that starts with it (after
    ``VAR=value`` assignments, ``export`` or ``exec``; ``ExecStart=/path/bin/lineal`` too), or
    runs it in a container (``docker run ... IMAGE lineal``, ``docker compose run SERVICE
    lineal``, the image or service being named lineal)."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        for i, word in enumerate(words):
            if word != "lineal" and not word.endswith("/bin/lineal"):
                continue
            before = words[:i]
            if all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", w) or w in ("export", "exec")
                   for w in before) or before[-1:] in (["lineal"], ["lineal:local"]):
                found.append(words[i + 1:])
                break
    return found


def check_command(args: list[str]) -> list[str]:
    """Problems of ``lineal ARGS``: an unknown command or an option the command lacks."""
    ctx = click.Context(cli)
    command: click.Command = cli
    path = ["lineal"]
    global_options = {opt for p in cli.params for opt in p.opts}
    problems = []
    i = 0
    while i < len(args):
        word = args[i]
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            known = {opt for p in command.params for opt in [*p.opts, *p.secondary_opts]}
            known |= global_options | {"-h", "--help", "--version"}
            if name not in known:
                problems.append(f"{' '.join(path)}: no option {name}")
            option = next((p for p in [*command.params, *cli.params] if name in p.opts), None)
            takes_value = isinstance(option, click.Option) and not option.is_flag \
                and "=" not in word
            i += 2 if takes_value else 1
            continue
        if isinstance(command, click.Group):
            sub = command.get_command(ctx, word)
            if sub is None:
                problems.append(f"{' '.join(path)}: no command {word!r}")
                return problems
            command, path = sub, [*path, word]
        i += 1
    return problems


FENCE = re.compile(r"^[ \t]*```(\w*)[^\n]*\n(.*?)^[ \t]*```", flags=re.S | re.M)


def code_of(markdown: str) -> tuple[list[str], list[str]]:
    """``(fenced blocks, inline spans)`` of a Markdown text; ``text`` and ``json`` blocks
    (pictures and examples of output) are left out."""
    blocks = [body for info, body in FENCE.findall(markdown) if info not in ("text", "json")]
    prose = FENCE.sub("", markdown)
    spans = [" ".join(s.split()) for s in re.findall(r"`([^`]+)`", prose)]
    return blocks, spans


def test_the_command_checker_catches_what_does_not_exist() -> None:
    assert check_command(["server", "--host", "0.0.0.0", "--workers", "4", "--auth"]) == []
    assert check_command(["--uri", "postgresql://x/y", "store", "upgrade"]) == []
    assert check_command(["server", "--threads", "4"]) == ["lineal server: no option --threads"]
    assert check_command(["store", "migrate"]) == ["lineal store: no command 'migrate'"]
    assert lineal_commands("X=1 \\\n  lineal token create --role admin  # note\n"
                           "ExecStart=/opt/lineal/bin/lineal server --port 1\n"
                           "pip install lineal\n") == [
        ["token", "create", "--role", "admin"], ["server", "--port", "1"]]


# -- the server's options, from its own --help --------------------------------------------------
@pytest.fixture(scope="module")
def server_help() -> str:
    answer = subprocess.run([sys.executable, "-m", "lineal.cli", "server", "--help"],
                            capture_output=True, text=True, timeout=60, check=True)
    return answer.stdout


def server_flags(commands: list[list[str]]) -> set[str]:
    return {word.split("=", 1)[0] for args in commands if args[:1] == ["server"]
            for word in args[1:] if word.startswith("--")}


# -- Dockerfile ---------------------------------------------------------------------------------
def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_the_dockerfile_installs_the_server_extras_and_runs_lineal_server(
        server_help: str) -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    installed = re.search(r'pip install "\.\[([a-z0-9,]+)\]"', runs)
    assert installed, runs
    extras = set(installed.group(1).split(","))
    assert extras == EXTRAS
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert extras <= set(declared)
    for copied in (rest.split()[0] for keyword, rest in instructions if keyword == "COPY"):
        assert (ROOT / copied).exists(), copied  # what the build copies is there
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("EXPOSE", "8080") in instructions
    health = next(rest for keyword, rest in instructions if keyword == "HEALTHCHECK")
    probe = json.loads(health.split("CMD", 1)[1])
    assert probe[0] == "python" and "curl" not in health
    assert "http://127.0.0.1:8080/healthz" in probe[-1]
    compile(probe[-1], "HEALTHCHECK", "exec")  # the probe is valid Python
    cmd = json.loads(next(rest for keyword, rest in instructions if keyword == "CMD"))
    assert cmd[:2] == ["lineal", "server"]
    assert check_command(cmd[1:]) == []
    assert cmd[cmd.index("--port") + 1] == "8080" and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    for flag in server_flags([cmd[1:]]):
        assert flag in server_help


# -- compose.yaml -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_wires_lineal_to_postgres_and_minio(compose: dict, server_help: str) -> None:
    services = compose["services"]
    assert {"lineal", "postgres", "minio", "minio-init", "migrate"} <= set(services)
    for name, service in services.items():
        depends = service.get("depends_on", [])
        assert set(depends) <= set(services), name
    lineal, postgres, minio = services["lineal"], services["postgres"], services["minio"]
    env = lineal["environment"]
    assert services["migrate"]["environment"] == env  # one set of settings, both containers

    # The database URL names the postgres service, its user, password and database.
    pg_env = postgres["environment"]
    url = re.fullmatch(r"postgresql://([^:]+):(.+)@postgres:5432/(\w+)", env["LINEAL_URI"])
    assert url, env["LINEAL_URI"]
    assert url.groups() == (pg_env["POSTGRES_USER"], pg_env["POSTGRES_PASSWORD"],
                            pg_env["POSTGRES_DB"])

    # The bucket minio-init makes is the one LINEAL_ARTIFACTS names, on the minio service,
    # with the credentials minio runs with.
    bucket = re.fullmatch(r"s3://([a-z0-9.-]+)/\S+", env["LINEAL_ARTIFACTS"])
    assert bucket
    script = "\n".join(services["minio-init"]["command"])
    assert f"mc mb --ignore-existing local/{bucket.group(1)}" in script
    assert "http://minio:9000" in script and env["LINEAL_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert env["AWS_ACCESS_KEY_ID"] == minio["environment"]["MINIO_ROOT_USER"]
    assert env["AWS_SECRET_ACCESS_KEY"] == minio["environment"]["MINIO_ROOT_PASSWORD"]
    source = "\n".join(p.read_text() for p in (ROOT / "src" / "lineal").rglob("*.py"))
    for name in env:
        if name.startswith("LINEAL_"):
            assert f'"{name}"' in source, f"lineal reads no {name}"

    # The server waits for the schema and the bucket, and listens where the port is published.
    assert lineal["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert lineal["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in postgres
    command = lineal["command"]
    assert command[:2] == ["lineal", "server"] and "--auth" in command
    assert lineal["ports"] == [f"127.0.0.1:8080:{command[command.index('--port') + 1]}"]
    assert services["migrate"]["command"] == ["lineal", "store", "upgrade"]
    for service in ("lineal", "migrate"):
        assert check_command(services[service]["command"][1:]) == [], service
    for flag in server_flags([command[1:]]):
        assert flag in server_help


# -- docs/deploy.md -----------------------------------------------------------------------------
def test_every_lineal_command_in_deploy_md_exists(server_help: str) -> None:
    blocks, spans = code_of(DEPLOY.read_text())
    commands = [args for block in blocks for args in lineal_commands(block)]
    commands += [args for span in spans if span.startswith("lineal ")
                 for args in lineal_commands(span)]
    assert len(commands) >= 15  # the recipe's commands were found
    problems = [problem for args in commands for problem in check_command(args)]
    assert problems == []
    used = server_flags(commands)
    assert {"--workers", "--auth", "--auth-config", "--oidc-issuer", "--oidc-audience",
            "--oidc-jwks-url", "--oidc-role-claim", "--proxy-header",
            "--trusted-proxy"} <= used
    for flag in used:
        assert re.search(rf"(^|\s){re.escape(flag)}[\s/]", server_help), flag


def test_deploy_md_auth_config_is_valid() -> None:
    from lineal.auth import AuthSettings

    blocks = [body for info, body in FENCE.findall(DEPLOY.read_text()) if info == "toml"]
    assert len(blocks) == 1
    settings = AuthSettings.from_mapping({**tomllib.loads(blocks[0]), "enabled": True})
    assert settings.oidc_issuer and settings.oidc_jwks_url
    assert settings.role_map["churn-team"] == ("writer:churn",)


def test_deploy_md_says_no_docker_engine_ran() -> None:
    head = DEPLOY.read_text()[:2000]
    assert "No Docker engine" in head
