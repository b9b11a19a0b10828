"""``lineal reproduce``: write what is needed to recreate an artifact, or re-execute and compare."""

from __future__ import annotations

import json
import sys

import click

from .complete import complete_refs
from .render import say


@click.command()
@click.argument("ref", shell_complete=complete_refs)
@click.option("-o", "--output", "directory", type=click.Path(file_okay=False),
              help="Folder to write the bundle into [default: ./reproduce-<name>-v<N>].")
@click.option("--run", "execute", is_flag=True,
              help="Re-execute in the current git checkout, compare output digests with the "
              "recorded ones and record the verdict (no bundle unless -o is given).")
@click.option("--python", "python", default=None,
              help="Interpreter for --run [default: the one running lineal].")
@click.option("--yes", "-y", "yes", is_flag=True,
              help="With --run: run without asking for confirmation (needed when stdin is not "
              "a terminal).")
@click.option("--project", default=None, help="Project of REF when it names none.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def reproduce(
    ctx: click.Context, ref: str, directory: str | None, execute: bool, python: str | None,
    yes: bool, project: str | None, as_json: bool,
) -> None:
    """Reproduce the run that produced REF (an artifact reference such as model@v3, or a run id).

    Without --run, writes README.md, checkout.sh, requirements.txt, fetch_inputs.sh, run.sh and
    lineage.json. With --run, exits 0 when the outputs are identical, 7 when they differ.

    --run first shows what it will run: the command, the working directory, the recorded
    environment variables it applies (seeds, threads, devices, time zone, locale) and those it
    skips with the reason (a recorded PYTHONPATH or LD_PRELOAD would run someone else's code),
    then asks for confirmation unless --yes is given.
    """
    from .. import reproduce as library
    from ..errors import IntegrityError, InvalidArgument
    from .render import open_store_from_ctx

    store = open_store_from_ctx(ctx)
    plan = library.plan(ref, store=store, project=project)
    result: dict[str, object] = {"run": plan.run.id, "ref": plan.ref, "warnings": list(plan.warnings)}
    if directory is not None or not execute:
        written = library.write_bundle(plan, directory)
        result["directory"] = str(written[0].parent)
        result["files"] = [p.name for p in written]
        if not as_json:
            say(f"wrote {len(written)} files to {written[0].parent}/ for run {plan.run.id} "
                       f"({plan.run.name}): {', '.join(p.name for p in written)}")
            if not execute:
                for warning in plan.warnings:
                    say(f"warning: {warning}", err=True)
    if not execute:
        if as_json:
            click.echo(json.dumps(result, indent=2))
        return
    execution = library.prepare(plan, store=store, python=python)
    for line in execution.describe():
        say(line, err=True)
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidArgument("reproduce --run re-executes recorded code and needs "
                                  "confirmation: pass --yes to run it without asking")
        if not click.confirm("run it?", default=False, err=True):
            raise click.exceptions.Abort()
    verdict = library.execute(execution, store=store)
    if as_json:
        click.echo(json.dumps({**result, **verdict.report, "verdict_run": verdict.run.id}, indent=2))
    else:
        new = verdict.report.get("new_run") or "nothing"
        say(f"{verdict.verdict}: run {plan.run.id} ({plan.run.name}) re-executed as {new}")
        for line in verdict.report["differences"]:
            say(f"  {line}")
        same = sum(1 for o in verdict.report["outputs"] if o["status"] == "same")
        say(f"{same} of {len(verdict.report['outputs'])} outputs identical; "
                   f"verdict recorded as run {verdict.run.id}")
    if not verdict.reproducible:
        ctx.exit(IntegrityError.exit_code)
