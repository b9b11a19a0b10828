"""docs/cli.md is generated from the commands; this fails when someone adds or changes a command
without regenerating it."""

from __future__ import annotations

import difflib
from pathlib import Path

import click

from lineal.cli.docgen import REGENERATE, render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_is_up_to_date() -> None:
    expected = render_markdown()
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    if current != expected:
        diff = "".join(list(difflib.unified_diff(
            current.splitlines(keepends=True), expected.splitlines(keepends=True),
            "docs/cli.md", "generated", n=1))[:40])
        raise AssertionError(f"docs/cli.md is stale; regenerate it with `{REGENERATE}` "
                             f"(from the repository root)\n{diff}")


def test_reference_covers_every_command_and_option() -> None:
    from lineal.cli import cli
    from lineal.cli.docgen import iter_commands

    text = render_markdown()
    for ctx, command in iter_commands(cli, click.Context(cli, info_name="lineal")):
        assert f"\n## {ctx.command_path}\n" in text, ctx.command_path
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert f"`{param.opts[-1]}`" in text, (ctx.command_path, param.opts)


def test_check_mode_reports_staleness(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lineal.cli.docgen import main

    stale = tmp_path / "cli.md"
    stale.write_text("# old\n")
    result = CliRunner().invoke(main, ["--check", str(stale)])
    assert result.exit_code == 1 and REGENERATE in result.stderr
    assert CliRunner().invoke(main, ["-o", str(stale)]).exit_code == 0
    assert stale.read_text() == render_markdown()
    assert CliRunner().invoke(main, ["--check", str(stale)]).exit_code == 0
