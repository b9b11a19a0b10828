"""``lineal cache``: the memoised-step cache."""

from __future__ import annotations

import json

import click


@click.group()
def cache() -> None:
    """Inspect the cache of memoised steps (@lineal.step)."""


@cache.command("explain")
@click.argument("ref")
@click.option("--project", help="Project of the step (default: any).")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@click.pass_context
def explain_command(ctx: click.Context, ref: str, project: str | None, as_json: bool) -> None:
    """Tell why step run REF (a run id, or a step name for its latest run) was or was not
    served from cache: which part of its key (code, params, inputs, environment) changed."""
    from ..steps import explain
    from .render import open_store_from_ctx, say

    report = explain(ref, store=open_store_from_ctx(ctx), project=project)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    say(f"{report['step']} run {report['run']}: {report['reason']}")
    for part, diff in report["changes"].items():
        if part == "code":
            say(f"  code: {diff['from']} -> {diff['to']}")
            continue
        for key, change in diff.items():
            say(f"  {part}.{key}: {change['from']!r} -> {change['to']!r}")
