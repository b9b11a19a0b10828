"""``lineal runs``: list runs and show everything about one."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from ..entities import us_to_datetime
from ..errors import NotFound
from .complete import complete_runs
from .render import (
    LIMIT,
    emit_json,
    human_duration,
    human_size,
    local_time,
    metric_summary,
    note_limit,
    open_store_from_ctx,
    parse_age,
    parse_pairs,
    parse_time,
    print_fields,
    print_table,
    say,
    short_digest,
    truncate,
    wide_option,
)

if TYPE_CHECKING:
    from ..entities import ArtifactVersion, Edge, Run
    from ..store import Store

@click.group()
def runs() -> None:
    """Runs: executions of a step (ingest, train, evaluate...) with their params, metrics,
    inputs, outputs, code and environment."""


@runs.command("list")
@click.option("--project", help="Only runs of this project.")
@click.option("--name", help="Only runs with this name.")
@click.option("--kind", help="Only runs of this kind (train, evaluate, ...).")
@click.option("--status", type=click.Choice(["running", "finished", "failed", "killed"]),
              help="Only runs in this state.")
@click.option("--experiment", help="Only runs of this experiment.")
@click.option("--parent", "parent_id", metavar="RUN_ID",
              help="Only the step runs of this pipeline run (full id or unique prefix).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE",
              help="Only runs with this tag; repeat to require several.")
@click.option("--since", help="Only runs started at or after this time: ISO-8601 "
              "(2024-05-01, 2024-05-01T14:00) or an age (3d, 12h, 30m).")
@click.option("--until", help="Only runs started before this time (same forms as --since).")
@click.option("--filter", "filter_text", metavar="FILTER",
              help="Only runs matching this search filter (MLflow's syntax plus lineage terms), "
              "e.g. \"metrics.auc > 0.9 and params.C = '0.5'\" or \"inputs.dataset = "
              "'features@v4'\"; see `lineal.search_runs`.")
@click.option("--order-by", "order_by", multiple=True, metavar="KEY [ASC|DESC]",
              help="Sort by an attribute, metric, param or tag, e.g. \"metrics.auc DESC\"; "
              "repeatable. Runs missing the key come last. Default: newest first.")
@click.option("--page-token", metavar="TOKEN",
              help="Continue a search where the previous page stopped (the token it printed).")
@click.option("-n", "--limit", type=LIMIT, default=50,
              show_default=True, help="At most this many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@wide_option
@click.pass_context
def list_command(
    ctx: click.Context, project: str | None, name: str | None, kind: str | None,
    status: str | None, experiment: str | None, parent_id: str | None, tags: tuple[str, ...],
    since: str | None, until: str | None, filter_text: str | None, order_by: tuple[str, ...],
    page_token: str | None, limit: int, as_json: bool,
) -> None:
    """List runs, newest first: id, name, kind, status, start, duration and key metrics.

    With --filter, --order-by or --page-token it searches instead: the table gains a column
    for each metric, param and tag the filter or sort names, and a token for the next page is
    printed (on stderr) when there is one; --json then prints {"runs": [...],
    "next_page_token": ...}. The other options add to the filter.
    """
    from .. import api

    # Parse every option before opening the store: bad input fails fast and touches nothing.
    tag_map = parse_pairs(tags)
    after, before = parse_time(since, "--since"), parse_time(until, "--until")
    store = open_store_from_ctx(ctx)
    parent = find_run(store, parent_id).id if parent_id else None
    if filter_text is not None or order_by or page_token:
        _search(store, filter_text, order_by, page_token, limit, as_json, [
            *[(f"attributes.{key}", "=", value) for key, value in (
                ("project", project), ("name", name), ("kind", kind), ("status", status),
                ("experiment", experiment), ("parent_id", parent)) if value is not None],
            *[(f"tags.`{key.replace('`', '``')}`", "=", value) for key, value in tag_map.items()],
            *[("attributes.start_time", op, when.isoformat())
              for op, when in ((">=", after), ("<", before)) if when is not None],
        ])
        return
    found = api.list_runs(
        project=project, name=name, kind=kind, status=status, experiment=experiment,
        parent_id=parent, tags=tag_map, started_after=after, started_before=before,
        limit=limit, store=store,
    )
    if as_json:
        emit_json([run_dict(run) for run in found])
        return
    print_table(
        None,
        ("id", "name", "kind", "status", "started", "duration", "metrics"),
        [(run.id, run.name, run.kind, run.state, local_time(run.started_at),
          human_duration(run.duration_s), metric_summary(run.metrics)) for run in found],
        empty="no runs match",
    )
    note_limit(len(found), limit, "runs")


def _search(
    store: Store, filter_text: str | None, order_by: tuple[str, ...], page_token: str | None,
    limit: int, as_json: bool, fixed: list[tuple[str, str, str]],
) -> None:
    from .. import api
    from ..search.filter import conjoin

    page = api.search_runs(conjoin(filter_text, fixed), order_by=list(order_by), limit=limit,
                           page_token=page_token, store=store)
    if as_json:
        emit_json({"runs": [run_dict(run) for run in page],
                   "next_page_token": page.next_page_token})
        return
    named = list(page.columns)
    rows = []
    for run in page:
        values = {**{f"metrics.{k}": v for k, v in run.metrics.items()},
                  **{f"params.{k}": str(v) for k, v in run.params.items()},
                  **{f"tags.{k}": v for k, v in run.tags.items()}}
        rows.append((run.id, run.name, run.kind, run.status, local_time(run.started_at),
                     human_duration(run.duration_s), metric_summary(run.metrics),
                     *[values.get(column, "") for column in named]))
    print_table(None, ("id", "name", "kind", "status", "started", "duration", "metrics", *named),
                rows, empty="no runs match")
    if page.next_page_token:
        sys.stdout.flush()  # after the table, not in the middle of it
        say(f"(more runs: --page-token {page.next_page_token})", err=True)


@runs.command("show")
@click.argument("run_id", shell_complete=complete_runs)
@click.option("--metric", "metric_keys", multiple=True, metavar="KEY",
              help="Also show every point logged for this metric (step, time, value); "
              "repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def show_command(
    ctx: click.Context, run_id: str, metric_keys: tuple[str, ...], as_json: bool
) -> None:
    """Show one run: params, metrics, tags, parent and children, inputs and outputs, the
    captured code and environment, and the error of a failed run.

    RUN_ID is the full id or a unique prefix of at least 6 characters.
    """
    store = open_store_from_ctx(ctx)
    run = find_run(store, run_id)
    for key in metric_keys:
        if key not in run.metrics:
            raise NotFound(f"run {run.id} has no metric {key!r}",
                           hint=f"its metrics: {', '.join(sorted(run.metrics)) or 'none'}")
    details = _details(store, run)
    details["history"] = {
        key: [{"step": p.step, "timestamp": us_to_datetime(p.timestamp_us), "value": p.value}
              for p in store.metadata.metric_history(run.id, key)]
        for key in metric_keys
    }
    if as_json:
        emit_json(details)
        return
    _print_details(run, details)
    for key, points in details["history"].items():
        print_table(f"History of {key}", ("step", "time", "value"),
                    [(p["step"], local_time(p["timestamp"]), p["value"]) for p in points])


@runs.command("close")
@click.option("--stale", is_flag=True, required=True,
              help="Close the runs whose heartbeat stopped (their process was killed).")
@click.option("--older-than", "older_than", metavar="AGE",
              help="Only runs with no heartbeat for this long: 90s, 10m, 12h, 3d "
              "[default: three heartbeat intervals, 90s unless LINEAL_HEARTBEAT_INTERVAL is set].")
@click.option("--project", help="Only runs of this project.")
@click.option("--dry-run", is_flag=True, help="Show the runs that would be closed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def close_command(
    ctx: click.Context, stale: bool, older_than: str | None, project: str | None, dry_run: bool,
    as_json: bool,
) -> None:
    """Mark runs left 'running' by a process that died (SIGKILL, OOM, power loss) as killed,
    with the reason "heartbeat stopped at <time>"."""
    from ..heartbeat import close_stale_runs

    age = parse_age(older_than, "--older-than") if older_than is not None else None
    store = open_store_from_ctx(ctx)
    closed = close_stale_runs(age, project=project, dry_run=dry_run, store=store)
    if as_json:
        emit_json({"dry_run": dry_run, "runs": [run_dict(run) for run in closed]})
        return
    print_table(
        None, ("id", "name", "project", "started", "last heartbeat"),
        [(run.id, run.name, run.project, local_time(run.started_at),
          local_time(run.heartbeat_at) if run.heartbeat_at else "none") for run in closed],
        empty="no stale runs",
    )
    if closed:
        verb = "would close" if dry_run else "closed"
        say(f"{verb} {len(closed)} stale run(s) as killed")


# -- lookups -------------------------------------------------------------------------------------
def find_run(store: Store, text: str) -> Run:
    """The run with id ``text``, or the one run whose id starts with it (at least 6
    characters); NotFound or InvalidArgument (ambiguous) otherwise."""
    from ..api import get_run

    return get_run(text, store=store)


# -- assembling ----------------------------------------------------------------------------------
def run_dict(run: Run) -> dict[str, Any]:
    """A run as JSON: the entity's fields plus its duration in seconds."""
    return {**run.to_dict(), "duration_s": run.duration_s}


def _brief(run: Run) -> dict[str, Any]:
    return {"id": run.id, "name": run.name, "kind": run.kind, "status": str(run.status),
            "started_at": run.started_at, "duration_s": run.duration_s}


def _artifact_ref(edge: Edge, version: ArtifactVersion | None) -> dict[str, Any]:
    if version is None:  # a dangling edge: `lineal verify` reports it; show what is known
        return {"role": edge.role, "id": edge.artifact_id, "ref": None}
    return {"role": edge.role, "ref": version.ref, "id": version.id, "kind": version.kind,
            "digest": version.digest, "size": version.size, "storage": str(version.storage),
            "producer_run_id": version.producer_run_id}


def _details(store: Store, run: Run) -> dict[str, Any]:
    from .. import api

    parent = None
    if run.parent_id:
        try:
            parent = _brief(store.metadata.get_run(run.parent_id))
        except NotFound:
            parent = {"id": run.parent_id, "missing": True}
    children = [_brief(c) for c in api.list_runs(parent_id=run.id, limit=1000, store=store)]
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    captured: dict[str, tuple[ArtifactVersion, dict[str, Any]]] = {}
    for edge in store.metadata.list_edges(run_id=run.id):
        try:
            version: ArtifactVersion | None = store.metadata.get_artifact_version(edge.artifact_id)
        except NotFound:
            version = None
        entry = _artifact_ref(edge, version)
        (inputs if str(edge.direction) == "input" else outputs).append(entry)
        if version is not None and str(edge.direction) == "input" and version.kind in (
            "code", "environment"
        ):
            captured[version.kind] = (version, dict(version.metadata))
    return {
        "run": run_dict(run),
        "parent": parent,
        "children": children,
        "inputs": inputs,
        "outputs": outputs,
        "code": _code(captured.get("code")),
        "environment": _environment(captured.get("environment"), run.tags),
    }


def _unknown(body: dict[str, Any], parts: tuple[str, ...]) -> dict[str, str]:
    """The parts of a captured body that were not captured, with the reason."""
    from ..capture import not_captured_reason

    found = {part: not_captured_reason(body.get(part)) for part in parts}
    return {part: reason for part, reason in found.items() if reason is not None}


def _code(found: tuple[ArtifactVersion, dict[str, Any]] | None) -> dict[str, Any] | None:
    if found is None:
        return None
    version, body = found
    return {"ref": version.ref, "git": body.get("git"), "entry_point": body.get("entry_point"),
            "not_captured": _unknown(body, ("git", "entry_point"))}


def _environment(
    found: tuple[ArtifactVersion, dict[str, Any]] | None, tags: dict[str, str]
) -> dict[str, Any] | None:
    if found is None:
        return None
    version, body = found
    unknown = _unknown(body, ("python", "os", "container", "conda", "hardware", "packages"))
    packages = body.get("packages")
    if "packages" not in unknown and not isinstance(packages, dict):
        unknown["packages"] = "no packages recorded"  # a scan that timed out, in older records
    frameworks = {k.removeprefix("lineal.framework."): v for k, v in sorted(tags.items())
                  if k.startswith("lineal.framework.")}
    return {
        "ref": version.ref,
        "python": body.get("python"),
        "os": body.get("os"),
        "container": body.get("container"),
        "conda": body.get("conda"),
        "hardware": body.get("hardware"),
        "packages": None if "packages" in unknown or not isinstance(packages, dict)
        else len(packages),
        "frameworks": frameworks,
        "not_captured": unknown,
    }


# -- text rendering ------------------------------------------------------------------------------
def _print_details(run: Run, details: dict[str, Any]) -> None:
    parent = details["parent"]
    parent_text = None
    if parent:
        parent_text = (f"{parent['id']} (missing)" if parent.get("missing")
                       else f"{parent['id']} {parent['name']} ({parent['status']})")
    print_fields([
        ("run", f"{run.id}  {run.name}"),
        ("project", run.project),
        ("kind", run.kind),
        ("status", run.state),  # 'stale': running, but its heartbeat stopped
        ("started", local_time(run.started_at)),
        ("ended", local_time(run.ended_at) if run.ended_at else None),
        ("duration", human_duration(run.duration_s) if run.ended_at else None),
        ("experiment", run.experiment),
        ("parent", parent_text),
        ("created by", run.created_by),
        ("cache key", run.cache_key),
        ("reused from", run.cached_from),
    ])
    if run.params:
        print_table("Params", ("param", "value"),
                    [(k, truncate(repr(v) if isinstance(v, str) else str(v)))
                     for k, v in sorted(run.params.items())])
    if run.metrics:
        print_table("Metrics (latest)", ("metric", "value"),
                    [(k, v) for k, v in sorted(run.metrics.items())])
    if run.tags:
        # The user's tags first; lineal's own (lineal.*) after them.
        ordered = sorted(run.tags.items(), key=lambda kv: (kv[0].startswith("lineal."), kv[0]))
        print_table("Tags", ("tag", "value"), [(k, truncate(v)) for k, v in ordered])
    for title, edges in (("Inputs", details["inputs"]), ("Outputs", details["outputs"])):
        if edges:
            print_table(title, ("role", "artifact", "kind", "size", "digest"), [
                (e["role"], e["ref"] or f"{e['id']} (missing)", e.get("kind", ""),
                 human_size(e.get("size")), short_digest(e["digest"]) if e.get("digest") else "")
                for e in edges
            ])
    if details["children"]:
        print_table("Child runs", ("id", "name", "kind", "status", "duration"), [
            (c["id"], c["name"], c["kind"], c["status"], human_duration(c["duration_s"]))
            for c in details["children"]
        ])
    _print_capture(run, details["code"], details["environment"])
    if run.error is not None:
        say(f"\nError: {run.error.type}: {run.error.message}")
        if run.error.traceback:
            say(run.error.traceback.rstrip())


def _not_captured(reason: str) -> str:
    return f"not captured ({reason})"


def _print_capture(
    run: Run, code: dict[str, Any] | None, environment: dict[str, Any] | None
) -> None:
    fields: list[tuple[str, Any]] = []
    if code is None and environment is None:
        if str(run.status) == "running":
            fields.append(("capture", "recorded when the run ends"))
        else:
            fields.append(("capture", "none recorded (started with capture=False, or by an "
                           "older lineal)"))
    if code is not None:
        unknown = code.get("not_captured") or {}
        git = code.get("git") or {}
        if "git" in unknown:
            fields.append(("git", _not_captured(unknown["git"])))
        elif git.get("commit"):
            state = "dirty" if git.get("dirty") else "clean"
            branch = f" on {git['branch']}" if git.get("branch") else " (detached)"
            fields.append(("git", f"{git['commit'][:12]}{branch}, {state}"))
        elif git:
            fields.append(("git", "a repository with no commit yet"))
        else:
            fields.append(("git", "not a git checkout"))
        entry = code.get("entry_point") or {}
        if "entry_point" in unknown:
            fields.append(("entry point", _not_captured(unknown["entry_point"])))
        elif entry:
            fields.append(("entry point", " ".join(str(entry[k]) for k in ("kind", "path")
                                                   if entry.get(k))))
    if environment is not None:
        unknown = environment.get("not_captured") or {}
        for part in ("python", "os", "container", "hardware"):
            if part in unknown:
                fields.append((part, _not_captured(unknown[part])))
        py = environment.get("python") or {}
        if py and "python" not in unknown:
            fields.append(("python", f"{py.get('version', '?')} ({py.get('implementation', '?')})"))
        system = environment.get("os") or {}
        if system and "os" not in unknown:
            parts = [system.get("system"), system.get("release"), system.get("machine")]
            text = " ".join(str(p) for p in parts if p)
            if system.get("distribution"):
                text += f" ({system['distribution']})"
            fields.append(("os", text))
        container = environment.get("container") or {}
        if "container" not in unknown:
            fields.append(("container", container.get("image") or container.get("runtime")
                           or "none"))
        if "packages" in unknown:
            fields.append(("packages", _not_captured(unknown["packages"])))
        elif environment.get("packages") is not None:
            fields.append(("packages", str(environment["packages"])))
        frameworks = environment.get("frameworks") or {}
        if frameworks:
            fields.append(("frameworks", ", ".join(f"{k} {v}" for k, v in frameworks.items())))
    if fields:
        say("\nCode and environment")
        print_fields(fields)
