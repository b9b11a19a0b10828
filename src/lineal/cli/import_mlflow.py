"""``lineal import``: FILE (the lineage bulk import of :mod:`lineal.cli.lineage`) or another
tool's history, ``lineal import mlflow --from ...``.

``lineal import`` is a group whose first argument picks the form: the name of a subcommand
(``mlflow``) runs it, anything else is FILE and goes to the file command,
unchanged (its options, help and errors are its own). So ``lineal import FILE`` keeps working
as before while sources are added beside it; a file named like a source is written ``./mlflow``.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import click

from .render import console, emit_json, open_store_from_ctx, print_table, say

__all__ = ["ImportGroup", "import_command", "mlflow_command"]


def _file_command() -> click.Command:
    from .lineage import import_command as file_command

    return file_command


class ImportGroup(click.Group):
    """``lineal import FILE`` or ``lineal import SOURCE ...``: dispatch on the first argument."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in ("-h", "--help"):
            return super().parse_args(ctx, args)  # the group's own help
        # Everything else is left for the subcommand or the file command to parse.
        ctx._protected_args, ctx.args = [], list(args)  # noqa: SLF001 - click's own slots
        return ctx.args

    def invoke(self, ctx: click.Context) -> Any:
        args = list(ctx.args)
        if args and args[0] in self.commands:
            ctx._protected_args, ctx.args = args[:1], args[1:]  # noqa: SLF001
            return super().invoke(ctx)
        ctx.args = []
        file_command = _file_command()
        # The file command runs in the group's place: its usage line and errors read
        # "lineal import ...", exactly as before sources existed.
        with file_command.make_context(ctx.info_name, args, parent=ctx.parent) as sub:
            return file_command.invoke(sub)

    _file_options: list[click.Parameter] | None

    @property
    def params(self) -> list[click.Parameter]:
        # Shown by `lineal import --help` and the reference: the options of the FILE form.
        # Not its FILE argument, which click would otherwise put in every subcommand's path
        # ("lineal import FILE mlflow"); the usage line names it.
        # One list, kept: click appends its help option to it and pops it back.
        options = getattr(self, "_file_options", None)
        if options is None:
            options = self._file_options = [
                p for p in _file_command().params if isinstance(p, click.Option)]
        return options

    @params.setter
    def params(self, value: list[click.Parameter]) -> None:
        self._file_options = None  # click sets [] at construction; the file command's rule

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["[OPTIONS]", "FILE", "|", "SOURCE", "[ARGS]..."]

    @property
    def help(self) -> str:
        text = inspect.cleandoc(_file_command().help or "")
        return (f"{text}\n\nOr import another tool's history: `lineal import mlflow --from "
                "URI` (see its --help). A file named like a source is written ./NAME.")

    @help.setter
    def help(self, value: str | None) -> None:
        pass  # always the file command's help plus the line above (click sets None at first)


@click.command("mlflow")
@click.option("--from", "source", required=True, metavar="URI",
              help="The MLflow store: a tracking URI (sqlite:///mlflow.db, http://host:5000, "
              "postgresql://...), an MLflow SQLite file or an mlruns folder.")
@click.option("--experiments", "experiments", multiple=True, metavar="NAMES",
              help="Only these experiments, by name or id (comma-separated or repeated); "
              "registered versions then come only from their runs. Default: all.")
@click.option("--project", envvar="LINEAL_PROJECT", default=None,
              help="lineal project to import into [env: LINEAL_PROJECT; default: default].")
@click.option("--dry-run", is_flag=True,
              help="Read both sides and report what would be imported; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def mlflow_command(ctx: click.Context, source: str, experiments: tuple[str, ...],
                   project: str | None, dry_run: bool, as_json: bool) -> None:
    """Import an MLflow history: experiments, runs with params, tags and full metric histories
    (original times and steps), artifacts (content-addressed: identical bytes stored once),
    dataset inputs, logged models, registered models with their versions, current stage and
    aliases, and the edges between them. Running it again imports nothing twice. Ends with a
    summary of what was imported and of what was not, and why; exits 1 if something failed.

    \b
    lineal import mlflow --from sqlite:///mlflow.db
    lineal import mlflow --from ./mlruns --experiments churn,fraud --dry-run
    lineal import mlflow --from http://mlflow.internal:5000 --json
    """
    from ..errors import NotFound
    from ..interop.mlflow_import import import_into, tracking_uri

    tracking_uri(source)  # a bad --from fails before any store is opened or created
    if dry_run:
        try:
            store = open_store_from_ctx(ctx)
        except NotFound:
            store = None  # not created yet: everything would be new
    else:
        store = open_store_from_ctx(ctx, create=True)
    out = console(stderr=True)
    options: dict[str, Any] = {"experiments": list(experiments) or None, "project": project,
                               "dry_run": dry_run}
    if out.is_terminal and not as_json:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(TextColumn("importing {task.description}"), BarColumn(),
                      MofNCompleteColumn(), console=out, transient=True) as bar:
            task = bar.add_task("from MLflow", total=None)
            summary = import_into(store, source, progress=lambda what, done, total: bar.update(
                task, description=what, completed=done, total=total), **options)
    else:
        summary = import_into(store, source, **options)
    if as_json:
        emit_json(summary.to_dict())
    else:
        _render(summary)
    if summary.failed:
        sys.exit(1)


_LABELS = (("runs", "runs"), ("params", "params"), ("tags", "run tags"),
           ("metric_points", "metric points"), ("artifacts", "artifact versions"),
           ("artifacts_reused", "artifacts already stored"), ("datasets", "dataset versions"),
           ("logged_models", "logged models"), ("edges", "lineage edges"),
           ("registered_models", "registered models"), ("model_versions", "model versions"),
           ("stages", "stages"), ("aliases", "aliases"))


def _render(summary: Any) -> None:
    verb = "would import" if summary.dry_run else "imported"
    rows = [(label, f"{summary.imported.get(key, 0):,}", f"{summary.already.get(key, 0):,}")
            for key, label in _LABELS
            if summary.imported.get(key, 0) or summary.already.get(key, 0)]
    say(f"{'dry run: ' if summary.dry_run else ''}{summary.experiments} MLflow "
               f"experiment(s) read from {summary.source} into project {summary.project} "
               f"in {summary.seconds:.1f} s")
    print_table(None, ("what", verb, "already imported"), rows, empty="nothing to import")
    if summary.not_imported:
        print_table(f"not imported ({len(summary.not_imported)})", ("what", "mlflow id", "reason"),
                    [(n.kind + (" (failed)" if n.failed else ""), n.mlflow_id, n.reason)
                     for n in summary.not_imported])
    elif not summary.dry_run and summary.nothing_new:
        say("nothing new: everything was already imported")


import_command = ImportGroup("import", commands=[mlflow_command])
