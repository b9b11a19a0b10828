"""The web UI's endpoints under ``/api/v1/views/``: one request per page, answered by the SDK's
own questions (lineage walks, diff, impact, registry history, deployment timeline) run
server-side on the server's store, as the authenticated caller.

The UI also uses the contract routes directly where they already answer a page's question
(``POST /api/v1/runs/search`` for the runs table, ``GET /api/v1/runs/{id}/metrics/{key}`` for a
chart, ``GET /api/v1/ledger`` and ``POST /api/v1/ledger/verify`` for the audit page). What is
here combines several calls, or shapes an answer for drawing (a lineage graph with each node's
state). Every view checks the caller's role on the project it shows; the actions (approve,
reject, taint, untaint) need the role their contract call needs and are attributed to the
caller. :func:`add_view_routes` also serves the built UI itself (:mod:`.ui_bundle`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..auth.principal import acting_as
from ..errors import InvalidArgument, NotFound
from ..store import Store
from ..store.http.routes import ADMIN, READER, WRITER, encode
from .context import ServerContext
from .store_routes import caller_of, json_response, read_json

__all__ = ["add_view_routes"]

PREFIX = "/api/v1/views"
MAX_GRAPH_NODES = 5000
"""The most nodes one lineage view returns; past it the answer says ``truncated`` and the UI
offers a smaller depth or a filter instead of drawing a graph nobody can read."""
MAX_CHART_KEYS = 50
"""Metric series sent with a run page (more keys: the page fetches the others on demand)."""
MAX_COMPARE = 6
MAX_DATASET_VERSIONS = 1000
"""Dataset versions one datasets view reads (newest first); past it the answer says
``truncated``."""

T = TypeVar("T")


def add_view_routes(app: FastAPI) -> None:
    """Register the UI's view endpoints, then the UI bundle at ``/`` (last: it answers every
    other GET that no route took)."""
    views: list[tuple[str, str, Callable[..., Any], str]] = [
        ("GET", "/whoami", whoami, "Who the caller is and what roles they hold"),
        ("GET", "/lineage", lineage_view, "A lineage graph for drawing, nodes with state"),
        ("GET", "/run/{run_id}", run_view, "A run with inputs, outputs, environment, charts"),
        ("GET", "/compare", compare_view, "Runs or versions side by side, with lineal diff"),
        ("GET", "/model/{name}", model_view, "A registered model: versions, history, deploys"),
        ("GET", "/impact", impact_view, "Everything downstream of a node, with paths"),
        ("GET", "/datasets", datasets_view, "Datasets: each name with its latest version"),
        ("GET", "/dataset", dataset_view, "A dataset version: schema, profile, its versions"),
        ("GET", "/dataset-diff", dataset_diff_view, "What changed between two dataset versions"),
        ("POST", "/review", review_action, "Approve or reject a model version (admin)"),
        ("POST", "/taint", taint_action, "Taint an artifact version (writer)"),
        ("POST", "/untaint", untaint_action, "Clear a taint (writer)"),
    ]
    for verb, path, endpoint, summary in views:
        app.add_api_route(PREFIX + path, endpoint, methods=[verb], summary=summary,
                          tags=["views"], response_class=Response)
    from .ui_bundle import add_ui_bundle

    add_ui_bundle(app)


# -- plumbing ------------------------------------------------------------------------------------
def _context(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.lineal
    return context


async def _run(request: Request, role: str, what: str,
               work: Callable[[Store, Any], T], *, write: bool = False) -> Response:
    """Authenticate, check ``role`` somewhere, then run ``work(store, caller)`` in a worker
    thread (as the caller, for a write) and answer its result as JSON."""
    context = _context(request)
    caller = await caller_of(request)
    context.require_somewhere(caller, role, what)

    def call() -> Any:
        if write:
            with acting_as(caller):
                return encode(work(context.store, caller))
        return encode(work(context.store, caller))

    return json_response(await run_in_threadpool(call))


def _require(request: Request, caller: Any, project: str | None, role: str, what: str) -> None:
    _context(request).require(caller, project, role, what)


def _int(value: str | None, name: str, default: int | None, low: int, high: int,
         hint: str | None = None) -> int | None:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidArgument(f"{name} must be a whole number, got {value!r}", hint=hint) from None
    if not low <= number <= high:
        raise InvalidArgument(f"{name} must be between {low} and {high}, got {number}", hint=hint)
    return number


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"{name} is required", hint=f"send {name} as text")
    return value.strip()


def _readable(caller: Any, project: str) -> bool:
    role = caller.role_in(project)
    return role is not None


# -- who am I ------------------------------------------------------------------------------------
async def whoami(request: Request) -> Response:
    """The caller's name, how they signed in and their roles; ``auth``: whether the server
    checks credentials at all (off: everyone is the server's own account, admin)."""
    context = _context(request)
    caller = await caller_of(request)
    auth = context.settings.auth is not None and bool(getattr(context.settings.auth, "enabled",
                                                              False))
    return json_response({"name": caller.name, "method": str(caller.method), "auth": auth,
                          "roles": {k: str(v) for k, v in caller.roles.items()}})


# -- lineage -------------------------------------------------------------------------------------
async def lineage_view(request: Request) -> Response:
    """``?ref=&depth=1&direction=both&as_of=&max_nodes=``: the graph around ``ref`` with each
    node's ``flags`` (failed, running, tainted, purged, live, ended, production...), as it was
    at ``as_of`` when given (later nodes hidden, deployments live then, stages then)."""
    query = request.query_params
    ref = _text(query.get("ref"), "ref")
    full = query.get("depth") in ("all", "full")
    depth = None if full else _int(query.get("depth"), "depth", 1, 1, 1000,
                                   hint="hops from the start, or depth=all")
    direction = query.get("direction") or "both"
    as_of = query.get("as_of") or None
    max_nodes = _int(query.get("max_nodes"), "max_nodes", 2000, 1, MAX_GRAPH_NODES)
    project = query.get("project") or None

    def work(store: Store, caller: Any) -> dict[str, Any]:
        from .. import lineage

        start = lineage.node(ref, project=project, store=store)
        _require(request, caller, start.project, READER, "lineage view")
        graph = lineage.subgraph(start, direction, depth, store=store)
        return _graph_answer(store, caller, graph, as_of, max_nodes or 2000)

    return await _run(request, READER, "lineage view", work)


def _graph_answer(store: Store, caller: Any, graph: Any, as_of: str | None,
                  max_nodes: int) -> dict[str, Any]:
    from ..entities import NodeType
    from ..lineage._snapshot import dataset_facts
    from ..times import datetime_us, to_us

    at_us = to_us(as_of) if as_of else None
    start = graph.start
    nodes = [n for n in graph.nodes if n.id == start.id or _readable(caller, n.project)]
    unreadable = len(graph.nodes) - len(nodes)
    later = 0
    if at_us is not None:
        kept = [n for n in nodes
                if n.id == start.id or n.time is None or datetime_us(n.time) <= at_us]
        later = len(nodes) - len(kept)
        nodes = kept
    nodes.sort(key=lambda n: (n.id != start.id, n.depth))
    total = len(nodes)
    truncated = total > max_nodes
    nodes = nodes[:max_nodes]
    ids = {n.id for n in nodes}
    versions = store.metadata.artifact_versions_by_id(
        [n.id for n in nodes if n.type is NodeType.ARTIFACT])
    deployments = {n.id: store.metadata.get_deployment(n.id)
                   for n in nodes if n.type is NodeType.DEPLOYMENT}
    taints = {t.version_id: t for t in store.metadata.list_taints()} if any(
        n.tainted for n in nodes) else {}
    stages = _stages_at(store, nodes, as_of) if as_of else {}
    out = []
    for n in nodes:
        data = n.to_dict()
        data["flags"] = _flags(n, versions.get(n.id), deployments.get(n.id), taints.get(n.id),
                               stages, at_us)
        version = versions.get(n.id)
        if version is not None:
            data["size"] = version.size
            data["uri"] = version.uri
            data["created_by"] = version.created_by
            data["purged"] = version.purged.to_dict() if version.purged else None
            facts = dataset_facts(version)
            if facts:
                # rows, columns, schema: what the side panel shows; described: a dataset page
                # exists for it (recorded by log_dataset/use_dataset, with its profile)
                data["dataset"] = {**facts, "described": isinstance(
                    version.metadata.get("dataset"), dict)}
        if n.id in taints:
            data["taint"] = taints[n.id].to_dict()
        if n.id in deployments:
            data["deployment"] = deployments[n.id].to_dict()
        if n.type is NodeType.MODEL_VERSION and (n.project, n.name) in stages:
            data["status"] = str(stages[(n.project, n.name)].get(n.version or 0, data["status"]))
        out.append(data)
    edges = [e.to_dict() for e in graph.edges if e.source in ids and e.target in ids]
    return {"start": start.id, "nodes": out, "edges": edges, "total": total,
            "truncated": truncated, "max_nodes": max_nodes,
            "depth_limited": graph.depth_limited, "hidden_later": later,
            "hidden_unreadable": unreadable, "as_of": as_of}


def _stages_at(store: Store, nodes: list[Any], as_of: str) -> dict[tuple[str, str], dict[int, Any]]:
    from ..entities import NodeType
    from ..registry import api as registry

    found: dict[tuple[str, str], dict[int, Any]] = {}
    for n in nodes:
        key = (n.project, n.name)
        if n.type is NodeType.MODEL_VERSION and key not in found:
            state = registry.state_at(n.name, as_of, project=n.project, store=store)
            found[key] = dict(state.stages)
    return found


def _flags(n: Any, version: Any, deployment: Any, taint: Any,
           stages: dict[tuple[str, str], dict[int, Any]], at_us: int | None) -> list[str]:
    """What makes a node stand out, as it was at ``at_us`` (None: now)."""
    from ..entities import NodeType
    from ..times import datetime_us

    flags: list[str] = []
    if n.type is NodeType.RUN:
        status = str(n.status or "")
        ended = n.detail
        if at_us is not None and ended and _iso_us(ended) > at_us:
            flags.append("running")
        elif status in ("failed", "killed", "running"):
            flags.append(status)
    elif n.type is NodeType.ARTIFACT:
        if n.tainted and (at_us is None or taint is None
                          or datetime_us(taint.created_at) <= at_us):
            flags.append("tainted")
        if version is not None and version.purged is not None and (
                at_us is None or datetime_us(version.purged.purged_at) <= at_us):
            flags.append("purged")
    elif n.type is NodeType.DEPLOYMENT and deployment is not None:
        if at_us is None:
            live = deployment.ended_at is None
        else:
            live = datetime_us(deployment.started_at) <= at_us and (
                deployment.ended_at is None or at_us < datetime_us(deployment.ended_at))
        flags.append("live" if live else "ended")
    elif n.type is NodeType.MODEL_VERSION:
        stage = stages.get((n.project, n.name), {}).get(n.version or 0, n.status)
        if str(stage) in ("production", "staging", "archived"):
            flags.append(str(stage))
    return flags


def _iso_us(text: str) -> int:
    from ..times import datetime_us

    try:
        return datetime_us(datetime.fromisoformat(text))
    except ValueError:
        return 0


# -- a run ---------------------------------------------------------------------------------------
async def run_view(request: Request) -> Response:
    """A run with its params, latest metrics and the series of each (up to
    :data:`MAX_CHART_KEYS`), its inputs and outputs, code, environment, error, parent and
    children, and what was not captured."""
    run_id = request.path_params["run_id"]

    def work(store: Store, caller: Any) -> dict[str, Any]:
        from ..api import get_run
        from ..lineage._snapshot import code_fields, snapshot
        from ..store.base import RunFilter

        run = get_run(run_id, store=store)
        _require(request, caller, run.project, READER, "run view")
        snap = snapshot(store, run)
        environment = None
        if snap.environment is not None:
            from ..lineage.questions import environment as environment_of

            try:
                environment = environment_of(f"run:{run.id}", store=store).to_dict()
            except NotFound:
                environment = None
        keys = sorted(run.metrics)
        series = {key: [[p.step, encode(p.value), p.timestamp_us]
                        for p in store.metadata.metric_history(run.id, key)]
                  for key in keys[:MAX_CHART_KEYS]}
        children = store.metadata.list_runs(RunFilter(parent_id=run.id, limit=200))
        return {
            "run": run.to_dict(),
            "state": run.state,
            "duration_s": run.duration_s,
            "inputs": [{"role": role, **v.to_dict()} for role, v in snap.inputs],
            "outputs": [{"role": role, **v.to_dict()} for role, v in snap.outputs],
            "code": code_fields(snap.code, run) if snap.code or run.tags else None,
            "environment": environment,
            "not_captured": snap.not_captured,
            "metric_keys": keys,
            "series": series,
            "children": [{"id": c.id, "name": c.name, "kind": c.kind, "status": c.state}
                         for c in children],
        }

    return await _run(request, READER, "run view", work)


# -- compare -------------------------------------------------------------------------------------
async def compare_view(request: Request) -> Response:
    """``?refs=a,b[,c...]``: each subject's run params and metrics, and ``lineal diff`` of the
    first against each other one (first divergence, data, params, code, environment)."""
    refs = [r.strip() for r in (request.query_params.get("refs") or "").split(",") if r.strip()]
    project = request.query_params.get("project") or None
    if not 2 <= len(refs) <= MAX_COMPARE:
        raise InvalidArgument(f"compare needs 2 to {MAX_COMPARE} references, got {len(refs)}",
                              hint="e.g. ?refs=churn@v1,churn@v2 or two run ids")

    def work(store: Store, caller: Any) -> dict[str, Any]:
        from ..lineage._diff import diff
        from ..lineage._subject import resolve_subject

        subjects = []
        for ref in refs:
            subject = resolve_subject(ref, store, project=project)
            where = (subject.artifact.project if subject.artifact is not None
                     else subject.run.project if subject.run is not None else None)
            _require(request, caller, where, READER, "compare")
            run = subject.run
            subjects.append({
                **subject.to_dict(),
                "run": None if run is None else {
                    "id": run.id, "name": run.name, "status": run.state,
                    "params": run.params, "metrics": run.metrics,
                    "started_at": run.started_at.isoformat(),
                    # points per metric: the page overlays a curve, not a lone final value
                    "points": {key: len(store.metadata.metric_history(run.id, key))
                               for key in sorted(run.metrics)[:MAX_CHART_KEYS]}},
            })
        diffs = [diff(refs[0], other, project=project, store=store).to_dict()
                 for other in refs[1:]]
        return {"refs": refs, "subjects": subjects, "diffs": diffs}

    return await _run(request, READER, "compare", work)


# -- registry ------------------------------------------------------------------------------------
async def model_view(request: Request) -> Response:
    """``/model/{name}?project=&as_of=``: the registered model, its versions with approvals,
    every registry event (alias and stage history), the deployment timeline, what is live now
    and, with ``as_of``, the aliases, stages and live deployments then."""
    name = request.path_params["name"]
    project = request.query_params.get("project") or None
    as_of = request.query_params.get("as_of") or None

    def work(store: Store, caller: Any) -> dict[str, Any]:
        from .. import deployments
        from ..registry import api as registry

        model = registry.get_model(name, project=project, store=store)
        _require(request, caller, model.project, READER, "model view")
        versions = registry.list_versions(model.name, project=model.project, store=store)
        answer: dict[str, Any] = {
            "model": model.to_dict(),
            "versions": [v.to_dict() for v in versions],
            "history": [e.to_dict() for e in registry.history(
                model.name, project=model.project, store=store)],
            "timeline": [d.to_dict() for d in deployments.timeline(
                model.name, project=model.project, store=store)],
            "live": [d.to_dict() for d in deployments.current(
                model=model.name, project=model.project, store=store)],
        }
        if as_of:
            answer["as_of"] = {
                "state": registry.state_at(model.name, as_of, project=model.project,
                                           store=store).to_dict(),
                "live": [d.to_dict() for d in deployments.at(
                    as_of, model=model.name, project=model.project, store=store)],
            }
        return answer

    return await _run(request, READER, "model view", work)


async def review_action(request: Request) -> Response:
    """``{"project", "name", "version", "decision": "approve"|"reject", "comment", "stage"}``:
    record the caller's approval or rejection (admin on the model's project)."""
    body = await read_json(request, _context(request).settings.max_body_bytes)
    name = _text(body.get("name"), "name")
    project = body.get("project") or None
    decision = _text(body.get("decision"), "decision")
    if decision not in ("approve", "reject"):
        raise InvalidArgument(f"decision must be approve or reject, got {decision!r}")
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidArgument(f"version must be a version number, got {version!r}")
    comment = body.get("comment") or ""
    stage = body.get("stage") or "production"

    def work(store: Store, caller: Any) -> Any:
        from ..registry import api as registry

        model = registry.get_model(name, project=project, store=store)
        _require(request, caller, model.project, ADMIN, f"{decision} a model version")
        act = registry.approve if decision == "approve" else registry.reject
        return act(f"{model.name}@v{version}", comment=str(comment), stage=str(stage),
                   project=model.project, store=store)

    return await _run(request, ADMIN, f"{decision} a model version", work, write=True)


# -- impact and taint ----------------------------------------------------------------------------
async def impact_view(request: Request) -> Response:
    """``?ref=``: every artifact version, model version and deployment downstream of ``ref``,
    each with its path; live deployments flagged; the taint if ``ref`` is tainted."""
    ref = _text(request.query_params.get("ref"), "ref")
    project = request.query_params.get("project") or None

    def work(store: Store, caller: Any) -> Any:
        from .. import lineage

        start = lineage.node(ref, project=project, store=store)
        _require(request, caller, start.project, READER, "impact view")
        return lineage.impact(start, store=store)

    return await _run(request, READER, "impact view", work)


async def taint_action(request: Request) -> Response:
    """``{"ref", "reason"}``: mark the artifact version tainted (writer on its project) and
    answer the impact report."""
    body = await read_json(request, _context(request).settings.max_body_bytes)
    ref = _text(body.get("ref"), "ref")
    reason = _text(body.get("reason"), "reason")
    project = body.get("project") or None

    def work(store: Store, caller: Any) -> Any:
        from .. import lineage

        target = lineage.node(ref, project=project, store=store)
        _require(request, caller, target.project, WRITER, "taint")
        return lineage.taint(target.ref, reason, project=target.project, store=store)

    return await _run(request, WRITER, "taint", work, write=True)


async def untaint_action(request: Request) -> Response:
    """``{"ref"}``: clear the taint of an artifact version (writer on its project)."""
    body = await read_json(request, _context(request).settings.max_body_bytes)
    ref = _text(body.get("ref"), "ref")
    project = body.get("project") or None

    def work(store: Store, caller: Any) -> dict[str, Any]:
        from .. import lineage

        target = lineage.node(ref, project=project, store=store)
        _require(request, caller, target.project, WRITER, "untaint")
        lineage.untaint(target.ref, project=target.project, store=store)
        return {"untainted": target.ref}

    return await _run(request, WRITER, "untaint", work, write=True)



# -- datasets ------------------------------------------------------------------------------------
def _dataset_summary(dataset: Any) -> dict[str, Any]:
    """One row of a version list: what tells versions apart, without the profile."""
    version, desc = dataset.artifact, dataset.description
    return {"ref": version.ref, "project": version.project, "name": version.name,
            "version": version.version, "rows": desc.num_rows, "columns": desc.num_columns,
            "digest": desc.digest, "storage": str(version.storage), "size": version.size,
            "context": dataset.context, "created_at": version.created_at.isoformat(),
            "producer_run_id": version.producer_run_id, "aliases": list(version.aliases),
            "tainted": version.tainted, "purged": version.purged is not None}


async def datasets_view(request: Request) -> Response:
    """``?project=&name=``: every dataset name (in projects the caller can read) with its
    latest version and how many versions it has, newest first."""
    project = request.query_params.get("project") or None
    name = request.query_params.get("name") or None

    def work(store: Store, caller: Any) -> dict[str, Any]:
        from ..datasets import list_datasets

        if project is not None:
            _require(request, caller, project, READER, "datasets view")
        found = list_datasets(project=project, name=name, limit=MAX_DATASET_VERSIONS + 1,
                              store=store)
        truncated = len(found) > MAX_DATASET_VERSIONS
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        for dataset in found[:MAX_DATASET_VERSIONS]:
            version = dataset.artifact
            if not _readable(caller, version.project):
                continue
            group = groups.setdefault((version.project, version.name),
                                      {"latest": _dataset_summary(dataset), "versions": 0})
            group["versions"] += 1
        return {"datasets": list(groups.values()), "truncated": truncated}

    return await _run(request, READER, "datasets view", work)


async def dataset_view(request: Request) -> Response:
    """``?ref=``: the dataset version ``ref`` names (``churn-raw``, ``churn-raw@v2``,
    ``default/churn-raw@prod``) with its schema and profile, and every version of the dataset
    (newest first) to pick from."""
    ref = _text(request.query_params.get("ref"), "ref")
    project = request.query_params.get("project") or None

    def work(store: Store, caller: Any) -> dict[str, Any]:
        from ..datasets import get_dataset, list_datasets

        dataset = get_dataset(ref, project=project, store=store)
        version = dataset.artifact
        _require(request, caller, version.project, READER, "dataset view")
        versions = list_datasets(project=version.project, name=version.name,
                                 kind=version.kind, limit=MAX_DATASET_VERSIONS + 1, store=store)
        return {"dataset": {**dataset.to_dict(), "project": version.project,
                            "tainted": version.tainted},
                "versions": [_dataset_summary(d) for d in versions[:MAX_DATASET_VERSIONS]],
                "truncated": len(versions) > MAX_DATASET_VERSIONS}

    return await _run(request, READER, "dataset view", work)


async def dataset_diff_view(request: Request) -> Response:
    """``?a=&b=&threshold=``: ``lineal.datasets.diff_versions(a, b)`` (``a`` old, ``b`` new):
    columns added, removed, retyped, row counts, and each column's shift with its score."""
    from ..datasets.compare import DEFAULT_THRESHOLD

    query = request.query_params
    ref_a, ref_b = _text(query.get("a"), "a"), _text(query.get("b"), "b")
    project = query.get("project") or None
    threshold = _float(query.get("threshold"), "threshold", DEFAULT_THRESHOLD)

    def work(store: Store, caller: Any) -> dict[str, Any]:
        from ..datasets import diff, get_dataset

        old = get_dataset(ref_a, project=project, store=store)
        new = get_dataset(ref_b, project=project, store=store)
        for dataset in (old, new):
            _require(request, caller, dataset.artifact.project, READER, "dataset diff")
        change = diff(old.description, new.description, threshold=threshold)
        return {"a": _dataset_summary(old), "b": _dataset_summary(new),
                "threshold": threshold, "diff": change.to_dict()}

    return await _run(request, READER, "dataset diff", work)


def _float(value: str | None, name: str, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise InvalidArgument(f"{name} must be a number, got {value!r}") from None
    if not 0 < number < float("inf"):
        raise InvalidArgument(f"{name} must be a positive number, got {value}")
    return number
