"""Every ``lineal ...`` command line shown in the README and docs/ names a command that exists,
with options it has: the documentation cannot drift from the CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from lineal.cli import cli

ROOT = Path(__file__).parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP_DOCS = {"cli.md"}  # generated from the CLI itself
_BLOCK = re.compile(r"```([a-z]*)\n(.*?)```", re.S)
_SHELL = {"bash", "sh", "shell", "console"}


def _command_lines(text: str) -> list[str]:
    """Lines of code blocks that run lineal: ``$ lineal ...`` anywhere, and ``lineal ...`` in
    shell blocks (other lines of other blocks are output)."""
    lines = []
    for language, block in _BLOCK.findall(text):
        if language in ("python", "toml", "json", "yaml", "mermaid", "dockerfile"):
            continue
        joined = block.replace("\\\n", " ")
        for raw in joined.splitlines():
            stripped = raw.strip()
            prompted = stripped.startswith("$ lineal ")
            if not prompted and not (language in _SHELL and stripped.startswith("lineal ")):
                continue
            line = stripped.removeprefix("$ ").split(" # ")[0].strip()
            if "..." not in line and "<" not in line:
                lines.append(line)
    return lines


def _documented() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        if doc.name in SKIP_DOCS:
            continue
        for line in _command_lines(doc.read_text(encoding="utf-8")):
            found.append((doc.name, line))
    return found


def _resolve(args: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = cli
    ctx = click.Context(cli, info_name="lineal")
    rest = list(args)
    while isinstance(command, click.Group) and rest:
        if rest[0].startswith("-"):
            rest = rest[2:] if rest[0] in ("--uri", "--artifacts") else rest[1:]
            continue
        sub = command.get_command(ctx, rest[0])
        if sub is None:
            # A group that also takes arguments itself (``lineal import FILE``) has them as
            # its own parameters; anything else is an unknown command.
            if type(command).invoke is not click.Group.invoke:
                return command, rest
            break
        command, rest = sub, rest[1:]
        ctx = click.Context(command, info_name=command.name, parent=ctx)
    return command, rest


@pytest.mark.parametrize(("doc", "line"), _documented())
def test_documented_command_exists(doc: str, line: str) -> None:
    try:
        args = shlex.split(line)[1:]
    except ValueError:
        pytest.skip("not a single shell line")
    args = [a for a in args if a not in ("|", "&&")]
    command, rest = _resolve(args)
    takes_arguments = type(command).invoke is not click.Group.invoke
    assert not isinstance(command, click.Group) or takes_arguments or not rest \
        or rest[0].startswith("-"), f"{doc}: `{line}`: no command {rest[0]!r}"
    names = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    names |= {"--help", "--uri", "--artifacts"}
    for arg in rest:
        if arg.startswith("--"):
            option = arg.split("=", 1)[0]
            assert option in names, f"{doc}: `{line}`: {command.name} has no option {option}"


def test_the_docs_show_commands() -> None:
    assert len(_documented()) > 50
