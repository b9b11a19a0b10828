"""Write the CLI reference (``docs/cli.md``) from the click commands themselves.

    python -m lineal.cli.docgen -o docs/cli.md        # regenerate
    python -m lineal.cli.docgen --check docs/cli.md   # exit 1 if it is stale

Every command in the tree is included, lazy groups from ``COMMANDS`` too, so a new command
group is documented by regenerating, and ``tests/cli/test_docs.py`` fails until someone does.
The output depends only on the commands (no environment, no terminal width), so it is stable.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click

__all__ = ["REGENERATE", "iter_commands", "render_markdown"]

REGENERATE = ".venv/bin/python -m lineal.cli.docgen -o docs/cli.md"

_HEADER = f"""# lineal command-line reference

<!-- Generated from the click commands by `{REGENERATE}`. Do not edit by hand:
     tests/cli/test_docs.py fails when this file and the commands disagree. -->

Every command prints a readable table or text by default and JSON with `--json`. Errors print
one line on stderr and exit non-zero: 2 bad input, 3 not found, 4 already exists, 5 conflict,
6 permission denied, 7 integrity failure (corrupt content), 8 store unavailable.
Global options (`--uri`, `--artifacts`) go before or after the command: `lineal --uri ./store runs list` and `lineal runs list --uri ./store` are the same.
"""


def iter_commands(
    command: click.Command, ctx: click.Context
) -> Iterator[tuple[click.Context, click.Command]]:
    """``(context, command)`` for ``command`` and every command below it, depth first, in name
    order, loading lazy groups as ``lineal <group> --help`` would; hidden commands are
    skipped."""
    yield ctx, command
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            yield from iter_commands(sub, click.Context(sub, info_name=name, parent=ctx))


def render_markdown(root: click.Command | None = None) -> str:
    """The whole reference as Markdown."""
    if root is None:
        from . import cli

        root = cli
    top = click.Context(root, info_name="lineal")
    sections = list(iter_commands(root, top))
    lines = [_HEADER, "## Commands", ""]
    for ctx, command in sections[1:]:
        depth = ctx.command_path.count(" ") - 1
        summary = command.get_short_help_str(limit=200)
        lines.append(f"{'  ' * depth}- [`{ctx.command_path}`](#{_anchor(ctx.command_path)}): "
                     f"{summary}")
    lines.append("")
    for ctx, command in sections:
        lines.extend(_section(ctx, command))
    return "\n".join(lines).rstrip() + "\n"


def _anchor(path: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", path.lower()).replace(" ", "-")


def _section(ctx: click.Context, command: click.Command) -> list[str]:
    pieces = " ".join(command.collect_usage_pieces(ctx))
    lines = [f"## {ctx.command_path}", "", "```", f"{ctx.command_path} {pieces}".rstrip(), "```",
             ""]
    lines.extend(_paragraphs(command.help or ""))
    if command.epilog:
        lines.extend(_paragraphs(command.epilog))
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    if arguments:
        lines.append("Arguments: " + ", ".join(
            f"`{a.make_metavar(ctx)}`" + ("" if a.required else " (optional)") for a in arguments
        ) + ".")
        lines.append("")
    # --help is on every command; listing it each time says nothing.
    options = [p for p in command.params if isinstance(p, click.Option) and not p.hidden]
    if options:
        lines += ["| option | description |", "|---|---|"]
        lines += [_option_row(ctx, option) for option in options]
        lines.append("")
    if isinstance(command, click.Group):
        names = [n for n in command.list_commands(ctx)
                 if (sub := command.get_command(ctx, n)) is not None and not sub.hidden]
        lines.append("Commands: " + ", ".join(
            f"[`{n}`](#{_anchor(ctx.command_path + ' ' + n)})" for n in names) + ".")
        lines.append("")
    return lines


def _paragraphs(text: str) -> list[str]:
    # click's "\b" marks a paragraph it must not rewrap (examples, lists of commands): Markdown
    # would join its lines, so it becomes an indented code block, every line of it.
    paragraphs = inspect.cleandoc(text).split("\n\n")
    for i, paragraph in enumerate(paragraphs):
        if paragraph.startswith("\b\n"):
            paragraphs[i] = "\n".join(f"    {line}" for line in paragraph.splitlines()[1:])
    text = "\n\n".join(paragraphs).strip("\n")
    return [text, ""] if text else []


def _option_row(ctx: click.Context, option: click.Option) -> str:
    names = ", ".join(f"`{n}`" for n in [*option.opts, *option.secondary_opts])
    if not option.is_flag and not option.count:
        names += f" `{_metavar(ctx, option)}`"
    notes = []
    if option.required:
        notes.append("required")
    if option.multiple:
        notes.append("repeatable")
    if option.show_default and option.default is not None and not option.is_flag:
        notes.append(f"default: `{option.default}`")
    help_text = " ".join((option.help or "").split())
    if notes:
        help_text += f" ({'; '.join(notes)})"
    # A "|" splits a Markdown table cell even inside backticks unless it is escaped.
    return f"| {_cell(names)} | {_cell(help_text)} |"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _metavar(ctx: click.Context, option: click.Option) -> str:
    if option.metavar:
        return option.metavar
    if isinstance(option.type, click.Choice):
        return "[" + "|".join(str(c) for c in option.type.choices) + "]"
    # "integer range" -> INTEGER: the range itself is in the option's help where it matters.
    return option.type.name.split()[0].upper()


@click.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the reference to this file instead of stdout.")
@click.option("--check", "check_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Exit 1 if this file differs from what would be generated.")
def main(output: Path | None, check_path: Path | None) -> None:
    """Generate the lineal CLI reference in Markdown."""
    text = render_markdown()
    if check_path is not None:
        current = check_path.read_text(encoding="utf-8") if check_path.exists() else ""
        if current != text:
            click.echo(f"{check_path} is stale; regenerate it with `{REGENERATE}`", err=True)
            sys.exit(1)
        return
    if output is None:
        click.echo(text, nl=False)
        return
    # Written beside and renamed: a failed run never leaves a truncated reference behind.
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)


if __name__ == "__main__":
    main()
