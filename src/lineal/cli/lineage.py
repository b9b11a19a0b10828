"""``lineal lineage``, ``taint``, ``untaint``, ``taints``, ``impact`` and ``import``: walk the
lineage graph, mark bad artifact versions and see what they reach, bulk-load a graph."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import InvalidArgument
from .complete import complete_refs
from .render import (
    LIMIT,
    console,
    emit_json,
    local_time,
    open_store_from_ctx,
    parse_time,
    print_table,
    say,
    short_digest,
    wide_option,
)

if TYPE_CHECKING:
    from ..entities import Closure, Node
    from ..entities import Path as LineagePath
    from ..lineage.api import Impact, ImpactItem

_FORMATS = ("table", "json", "dot", "mermaid", "prov", "openlineage")


def _short(n: Node) -> str:
    """A node as people read it in a path: ``default/raw@v2``, ``train``, ``registered
    default/churn@v2``. References keep their project, ``default/`` too, as in every table."""
    from ..entities import NodeType

    project = f"{n.project}/"
    if n.type is NodeType.ARTIFACT:
        return f"{project}{n.name}@v{n.version}"
    if n.type is NodeType.RUN:
        return f"{n.name}"
    if n.type is NodeType.MODEL_VERSION:
        return f"registered {project}{n.name}@v{n.version}"
    # Several records of one service differ by their status (live, replaced, rolled_back).
    return f"deployment {n.name} ({n.detail}, {n.status})" if n.status else (
        f"deployment {n.name} ({n.detail})")


def _path_text(path: LineagePath) -> str:
    return " → ".join(_short(n) for n in path.nodes)


def _flags(n: Node) -> str:
    flags = []
    if n.tainted:
        flags.append("TAINTED")
    if n.beyond_depth:
        flags.append("cut")
    return " ".join(flags)


def _closure_table(closure: Closure) -> None:
    # Times and node types are in --json; the table keeps what fits a terminal.
    rows = [
        (n.depth, n.ref if n.type.value != "run" else f"run {n.name}", n.kind,
         short_digest(n.digest) if n.digest else (n.id if n.type.value == "run" else ""),
         n.role or "", " ".join(x for x in (n.status or "", _flags(n)) if x))
        for n in closure.nodes
    ]
    way = "upstream of" if closure.direction.value == "up" else "downstream of"
    print_table(f"{way} {closure.start.label}",
                ("depth", "node", "kind", "digest / id", "role", "status"),
                rows, empty=f"nothing {way} {closure.start.label}",
                no_wrap=("digest / id", "node"))
    notes = [f"{len(closure.nodes)} of {closure.total} node(s)"]
    if closure.truncated:
        notes.append(f"more: --cursor {closure.next_cursor}")
    if closure.depth_limited:
        notes.append(f"the depth limit {closure.max_depth} cut the walk at the nodes flagged 'cut'")
    say("; ".join(notes))


@click.command("lineage")
@click.argument("ref", shell_complete=complete_refs)
@click.option("--up", "direction", flag_value="up", default=True,
              help="What REF was made from (default).")
@click.option("--down", "direction", flag_value="down", help="What was made from REF.")
@click.option("--both", "direction", flag_value="both",
              help="Both ways (graph formats only: dot, mermaid, prov, openlineage, json).")
@click.option("--depth", type=click.IntRange(min=1), help="At most N hops (run <-> artifact = 1).")
@click.option("--kind", "kinds", multiple=True, help="Only nodes of this kind (dataset, model, "
              "train, ...); repeatable.")
@click.option("--type", "types", multiple=True,
              type=click.Choice(["artifact", "run", "model_version", "deployment"]),
              help="Only nodes of this type; repeatable.")
@click.option("--name", help="Only nodes with this name; '*' is a wildcard.")
@click.option("--since", help="Only nodes created/started at or after (ISO date or age: 3d).")
@click.option("--until", help="Only nodes created/started before (ISO date or age).")
@click.option("-n", "--limit", type=LIMIT, default=1000, show_default=True,
              help="Nodes per page; the footer gives the cursor of the next page.")
@click.option("--cursor", help="Continue after this cursor (from the previous page).")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="table", show_default=True,
              help="table and json list the closure; dot, mermaid, prov and openlineage export "
              "the subgraph (nodes and edges).")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--project", envvar="LINEAL_PROJECT", default=None,
              help="Project for a REF that names none [env: LINEAL_PROJECT].")
@wide_option
@click.pass_context
def lineage_command(
    ctx: click.Context, ref: str, direction: str, depth: int | None, kinds: tuple[str, ...],
    types: tuple[str, ...], name: str | None, since: str | None, until: str | None, limit: int,
    cursor: str | None, fmt: str, as_json: bool, project: str | None,
) -> None:
    """Walk the lineage graph from REF: an artifact version (data@v3, name@latest,
    project/name@alias, name@sha256:ab12), a registered model (churn@prod), a run id or a
    deployment id. Every node comes with its distance in hops; a page or a depth limit that cut
    the result says so."""
    from .. import lineage

    store = open_store_from_ctx(ctx)
    fmt = "json" if as_json else fmt
    filtered = kinds or types or name or since or until or cursor
    if fmt in ("dot", "mermaid", "prov", "openlineage") or (fmt == "json" and direction == "both"):
        if filtered:
            raise InvalidArgument(f"--format {fmt} exports the whole subgraph; --kind, --type, "
                                  "--name, --since, --until and --cursor apply to table and json",
                                  hint="drop the filters, or use --format table/json")
        graph = lineage.subgraph(ref, direction, depth, project=project, store=store)
        click.echo(lineage.export_graph(graph, fmt, store), nl=False)
        return
    if direction == "both":
        raise InvalidArgument("a closure goes one way", hint="use --up or --down, or a graph "
                              "format: --format dot|mermaid|prov|openlineage|json --both")
    walk = lineage.upstream if direction == "up" else lineage.downstream
    closure = walk(ref, depth=depth, kind=list(kinds) or None, name=name,
                   since=parse_time(since, "--since"), until=parse_time(until, "--until"),
                   types=list(types) or None, limit=limit, cursor=cursor, project=project,
                   store=store)
    if fmt == "json":
        emit_json(closure.to_dict())
    else:
        _closure_table(closure)


# -- taints and impact ---------------------------------------------------------------------------
def _item_rows(items: list[ImpactItem]) -> list[tuple[Any, ...]]:
    return [(_short(i.node), " ".join(i.flags).upper(), i.node.depth, _path_text(i.path))
            for i in items]


def _show_impact(report: Impact, *, marked: bool) -> None:
    out = console()
    start = report.start
    if report.taint is not None:
        out.print(f"[bold red]TAINTED[/] {start.label}: {report.taint.reason} "
                  f"({report.taint.actor}, {local_time(report.taint.created_at)})",
                  highlight=False, markup=True)
    elif not marked:
        out.print(f"impact of {start.label} (nothing marked)", highlight=False, markup=False)
    live = report.live_deployments
    if live:
        out.print(f"[bold red]{len(live)} LIVE deployment(s) serve something made from it:[/]",
                  markup=True)
        for item in live:
            out.print(f"  [bold red]LIVE[/] {_short(item.node)}  [dim]{item.node.id}[/]",
                      markup=True, highlight=False)
    columns = ("reached", "flags", "hops", "path")
    for title, items in (("Deployments", report.deployments),
                         ("Registered model versions", report.model_versions),
                         ("Artifact versions", report.artifacts)):
        if items:
            print_table(f"{title} ({len(items)})", columns, _item_rows(items), no_wrap=("reached",))
    summary = (f"{len(report.artifacts)} artifact version(s), {len(report.model_versions)} model "
               f"version(s), {len(report.deployments)} deployment(s) ({len(live)} live) "
               f"through {report.runs} run(s)")
    say(("downstream: " if report.items else "nothing downstream; ") + summary)
    if report.depth_limited:
        say("the depth limit cut the walk: more may be affected")


@click.command("taint")
@click.argument("ref", shell_complete=complete_refs)
@click.option("--reason", required=True, help="Why it is bad (leaked labels, corrupt rows...).")
@click.option("--project", envvar="LINEAL_PROJECT", default=None,
              help="Project for a REF that names none [env: LINEAL_PROJECT].")
@click.option("--json", "as_json", is_flag=True, help="Print the impact report as JSON.")
@click.pass_context
def taint_command(ctx: click.Context, ref: str, reason: str, project: str | None,
                  as_json: bool) -> None:
    """Mark an artifact version (or a registered model's artifact) tainted and report every
    artifact version, registered model version and deployment made from it, with the path that
    reaches each; live deployments first. Recorded in the audit ledger."""
    from .. import lineage

    report = lineage.taint(ref, reason, project=project, store=open_store_from_ctx(ctx))
    if as_json:
        emit_json(report.to_dict())
    else:
        _show_impact(report, marked=True)


@click.command("impact")
@click.argument("ref", shell_complete=complete_refs)
@click.option("--depth", type=click.IntRange(min=1), help="At most N hops.")
@click.option("--project", envvar="LINEAL_PROJECT", default=None,
              help="Project for a REF that names none [env: LINEAL_PROJECT].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@wide_option
@click.pass_context
def impact_command(ctx: click.Context, ref: str, depth: int | None, project: str | None,
                   as_json: bool) -> None:
    """What REF reaches downstream: the report `lineal taint` prints, marking nothing."""
    from .. import lineage

    report = lineage.impact(ref, depth=depth, project=project, store=open_store_from_ctx(ctx))
    if as_json:
        emit_json(report.to_dict())
    else:
        _show_impact(report, marked=False)


@click.command("untaint")
@click.argument("ref", shell_complete=complete_refs)
@click.option("--project", envvar="LINEAL_PROJECT", default=None,
              help="Project for a REF that names none [env: LINEAL_PROJECT].")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def untaint_command(ctx: click.Context, ref: str, project: str | None, as_json: bool) -> None:
    """Clear the taint of an artifact version (recorded in the audit ledger)."""
    from .. import lineage

    store = open_store_from_ctx(ctx)
    target = lineage.node(ref, project=project, store=store)
    lineage.untaint(target, project=project, store=store)
    if as_json:
        emit_json({"untainted": target.ref})
    else:
        say(f"untainted {target.label}")


@click.command("taints")
@click.option("--project", default=None, help="Only this project.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@wide_option
@click.pass_context
def taints_command(ctx: click.Context, project: str | None, as_json: bool) -> None:
    """Every tainted artifact version, newest first: what to clean up after."""
    from .. import lineage

    found = lineage.taints(project=project, store=open_store_from_ctx(ctx))
    if as_json:
        emit_json([t.to_dict() for t in found])
        return
    print_table("Tainted artifact versions", ("artifact", "reason", "by", "when"),
                [(t.ref, t.reason, t.actor, local_time(t.created_at)) for t in found],
                empty="no tainted artifact versions", no_wrap=("artifact", "when"))


# -- import --------------------------------------------------------------------------------------
@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--project", envvar="LINEAL_PROJECT", default=None,
              help="Project for lines that name none [env: LINEAL_PROJECT; default: default].")
@click.option("--json", "as_json", is_flag=True, help="Print counts and the key -> id map as JSON.")
@click.pass_context
def import_command(ctx: click.Context, file: Path, project: str | None, as_json: bool) -> None:
    """Bulk-load a lineage FILE in one transaction: lineal JSON Lines (one run, artifact or edge
    per line, format in docs/lineage.md), OpenLineage run events (JSON lines as the
    openlineage-python file transport writes them, or a JSON array as `lineal lineage --format
    openlineage` exports them) or a `lineal lineage --format json` export. The format is read
    from the content. A bad line or event is named and nothing is written."""
    from ..lineage.file_import import import_file

    store = open_store_from_ctx(ctx, create=True)
    out = console(stderr=True)
    if out.is_terminal and not as_json:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(),
                      console=out, transient=True) as bar:
            task = bar.add_task("import", total=None)
            result = import_file(file, project=project, store=store,
                                 progress=lambda done, total: bar.update(task, completed=done,
                                                                         total=total))
    else:
        result = import_file(file, project=project, store=store)
    if as_json:
        emit_json(result.to_dict())
        return
    say(f"imported {result.runs:,} runs, {result.artifacts:,} artifact versions and "
               f"{result.edges:,} edges from {file.name} ({result.format}) in "
               f"{result.seconds:.2f} s ({result.rows_per_second:,.0f} rows/s)")
    for note in result.skipped:
        say(f"not imported: {note}")
