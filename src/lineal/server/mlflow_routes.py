"""MLflow's REST API over lineal: the official ``mlflow`` client works against ``lineal server``
with ``MLFLOW_TRACKING_URI=http://<server>`` and no other change.

Thin layers over the store contract: each route authenticates the caller as every lineal route
does (an MLflow client sends ``MLFLOW_TRACKING_TOKEN`` as ``Authorization: Bearer``, so lineal
API tokens work), checks the caller's role on the project the call touches (reader to read,
writer to write, admin where lineal asks for it), and calls the store in a worker thread as that
principal. What MLflow logs becomes ordinary lineal data, mapped as ``lineal import mlflow``
maps an MLflow history (:mod:`.mlflow_shapes`): runs, metric histories, dataset inputs as input
edges, artifacts and logged models as artifact versions produced by their run, registered
versions linked to them. A run's user is the authenticated principal, never the ``user_id`` the
client sends (which stays the tag ``mlflow.user``).

Everything goes to one lineal project: the server's default (``LINEAL_PROJECT``, else
``default``); MLflow has no projects. Errors use MLflow's body
(``{"error_code": ..., "message": ...}``), which its client parses; a route lineal does not
serve answers 501 ``NOT_IMPLEMENTED`` saying so, never a silent success.

This module: the route plumbing, experiments, runs, metrics, search, inputs and outputs.
:mod:`.mlflow_artifacts` serves bytes and logged models, :mod:`.mlflow_registry_routes` the
model registry.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..auth.principal import acting_as
from ..entities import EdgeDirection, MetricPoint, Run, RunStatus, new_id, us_to_datetime
from ..errors import AlreadyExists, InvalidArgument, LinealError, NotFound
from ..interop.mlflow_import import MODEL_ID_TAG, RUN_ID_TAG, _dataset_spec, lineal_name
from ..store.base import ArtifactFilter, MetadataStore, RunFilter
from ..store.http.routes import READER, WRITER
from .context import ServerContext
from .mlflow_shapes import (
    DEFAULT_EXPERIMENT,
    dataset_json,
    error_body,
    error_status,
    experiment_for_name,
    experiment_id,
    experiment_json,
    experiment_name,
    metric_json,
    run_info_json,
    run_json,
)
from .store_routes import caller_of, json_response, read_json

__all__ = ["Call", "add_mlflow_routes", "mlflow_route", "unsupported"]

API = "/api/2.0/mlflow"
EXPERIMENT_TAG = "lineal.mlflow.experiment"
EXPERIMENT_ID_TAG = "lineal.mlflow.experiment_id"
_STATUS = {"RUNNING": RunStatus.RUNNING, "SCHEDULED": RunStatus.RUNNING,
           "FINISHED": RunStatus.FINISHED, "FAILED": RunStatus.FAILED,
           "KILLED": RunStatus.KILLED}
_MAX_SEARCH = 50_000
"""MLflow's own ceiling on ``max_results`` of a run search."""


@dataclass
class Call:
    """One MLflow request: who calls, the project, and the arguments (query and JSON body)."""

    context: ServerContext
    caller: Any
    project: str
    args: dict[str, Any]
    path: dict[str, str]
    what: str
    request: Request | None = field(default=None, repr=False)

    @property
    def actor(self) -> str:
        return str(self.caller.name)

    @property
    def metadata(self) -> MetadataStore:
        return self.context.store.metadata

    def allow(self, role: str, project: str | None = None) -> None:
        """PermissionDenied unless the caller holds ``role`` on ``project`` (default: the
        project MLflow's records go to)."""
        self.context.require(self.caller, project or self.project, role, self.what)

    def arg(self, name: str, *aliases: str, required: bool = True) -> Any:
        for key in (name, *aliases):
            value = self.args.get(key)
            if value not in (None, ""):
                return value
        if required:
            raise InvalidArgument(f"missing value for required parameter '{name}'")
        return None

    def run(self, role: str, run_id: str | None = None) -> Run:
        """The run the request names (``run_id`` or MLflow's older ``run_uuid``), once the
        caller may act on its project with ``role``."""
        rid = run_id or str(self.arg("run_id", "run_uuid"))
        try:
            run = self.metadata.get_run(rid)
        except NotFound:
            raise NotFound(f"Run with id={rid} not found") from None
        self.allow(role, run.project)
        return run


Handler = Callable[[Call], Any]


def mlflow_route(app: FastAPI, path: str, method: str, role: str, handler: Handler,
                 *, prefix: str = API) -> None:
    """Serve ``handler`` at ``method prefix+path``: it runs in a worker thread as the caller,
    and returns JSON data (or a ready Response); errors leave in MLflow's shape."""
    what = f"{method} {prefix}{path}"

    async def endpoint(request: Request) -> Response:
        try:
            context: ServerContext = request.app.state.lineal
            caller = await caller_of(request)
            context.require_somewhere(caller, role, what)
            args: dict[str, Any] = dict(request.query_params)
            if method not in ("GET", "PUT"):
                args.update(await read_json(request, context.settings.max_body_bytes))
            from ..config import default_project

            call = Call(context, caller, default_project(), args, dict(request.path_params),
                        what, request)
            if method == "PUT":  # bytes: the handler streams the body itself
                result = await handler(call)
            else:
                result = await run_in_threadpool(_as_caller, handler, call)
        except LinealError as error:
            return mlflow_error(error)
        return result if isinstance(result, Response) else json_response(result)

    endpoint.__name__ = "mlflow_" + path.strip("/").replace("/", "_").replace("-", "_").replace(
        "{", "").replace("}", "").replace(":path", "")
    app.add_api_route(prefix + path, endpoint, methods=[method], include_in_schema=False,
                      response_class=Response)


def _as_caller(handler: Handler, call: Call) -> Any:
    with acting_as(call.caller):
        return handler(call)


def mlflow_error(error: LinealError) -> Response:
    """A lineal error in MLflow's body, with the matching status."""
    code, status = error_status(error)
    headers = {"www-authenticate": "Bearer"} if status == 401 else None
    response = json_response(error_body(code, str(error)), status_code=status)
    if headers:
        response.headers.update(headers)
    return response


def not_implemented(request: Request) -> Response:
    """The answer of every MLflow route lineal does not serve."""
    path = request.url.path
    return json_response(error_body(
        "NOT_IMPLEMENTED",
        f"lineal server does not implement {request.method} {path} of the MLflow API; "
        "see docs/migrating-from-mlflow.md for the routes it serves"), status_code=501)


def add_mlflow_routes(app: FastAPI) -> None:
    """Register MLflow's REST API (``/api/2.0/mlflow/...``, ``/api/2.0/mlflow-artifacts/...``);
    every other route under those prefixes answers 501."""
    from .mlflow_artifacts import add_mlflow_artifact_routes
    from .mlflow_registry_routes import add_mlflow_registry_routes

    for path, method, role, handler in ROUTES:
        mlflow_route(app, path, method, role, handler)
    add_mlflow_artifact_routes(app)
    add_mlflow_registry_routes(app)
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    for prefix in ("/api/2.0/mlflow/", "/api/2.0/mlflow-artifacts/", "/api/3.0/mlflow/",
                   "/ajax-api/2.0/mlflow/"):
        app.add_api_route(prefix + "{rest:path}", not_implemented, methods=methods,
                          include_in_schema=False, response_class=Response)


# -- experiments ---------------------------------------------------------------------------------
def _first_run(call: Call, experiment: str) -> Run | None:
    found = call.metadata.list_runs(RunFilter(project=call.project, experiment=experiment,
                                              limit=1))
    return found[0] if found else None


def _experiment(call: Call, experiment: str) -> dict[str, Any]:
    run = _first_run(call, experiment)
    display = run.tags.get(EXPERIMENT_TAG) if run is not None else None
    return experiment_json(experiment, display, run.started_at if run is not None else None)


def get_experiment(call: Call) -> dict[str, Any]:
    call.allow(READER)
    return {"experiment": _experiment(call, experiment_name(str(call.arg("experiment_id"))))}


def get_experiment_by_name(call: Call) -> dict[str, Any]:
    call.allow(READER)
    name = str(call.arg("experiment_name"))
    experiment = experiment_for_name(name)
    if experiment != DEFAULT_EXPERIMENT and _first_run(call, experiment) is None:
        raise NotFound(f"Could not find experiment with name '{name}'")
    return {"experiment": _experiment(call, experiment)}


def create_experiment(call: Call) -> dict[str, Any]:
    """An experiment is the name its runs carry: creating one records nothing until a run goes
    in (lineal keeps no empty experiments), so only what cannot be kept is refused."""
    call.allow(WRITER)
    name = str(call.arg("name"))
    if call.args.get("artifact_location"):
        raise unsupported("an experiment's own artifact_location (lineal keeps artifacts in "
                           "its store)")
    if call.args.get("tags"):
        raise unsupported("experiment tags")
    experiment = experiment_for_name(name)
    if experiment == DEFAULT_EXPERIMENT or _first_run(call, experiment) is not None:
        raise AlreadyExists(f"Experiment '{name}' already exists.")
    return {"experiment_id": experiment_id(experiment)}


def search_experiments(call: Call) -> dict[str, Any]:
    """Every experiment of the project (read from its runs), and the default one."""
    call.allow(READER)
    if call.args.get("filter"):
        raise unsupported("filtering experiments")
    seen: dict[str, Run] = {}
    offset = 0
    while True:
        page = call.metadata.list_runs(RunFilter(project=call.project, limit=1000,
                                                 offset=offset))
        for run in page:
            seen.setdefault(run.experiment or DEFAULT_EXPERIMENT, run)
        if len(page) < 1000:
            break
        offset += 1000
    seen.setdefault(DEFAULT_EXPERIMENT, None)  # type: ignore[arg-type]
    out = []
    for experiment, run in sorted(seen.items()):
        display = run.tags.get(EXPERIMENT_TAG) if run is not None else None
        out.append(experiment_json(experiment, display, run.started_at if run else None))
    return {"experiments": out}


# -- runs ----------------------------------------------------------------------------------------
def _ms(value: Any, what: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{what} must be an integer (milliseconds), got {value!r}") from None


def _tags(items: Any) -> dict[str, str]:
    from ..run_data import check_key, tag_value

    out: dict[str, str] = {}
    for item in items or ():
        key = check_key(item.get("key"), "tag")
        out[key] = tag_value(key, item.get("value") if item.get("value") is not None else "")
    return out


def create_run(call: Call) -> dict[str, Any]:
    call.allow(WRITER)
    experiment = experiment_name(str(call.arg("experiment_id", required=False) or "0"))
    tags = _tags(call.args.get("tags"))
    name = (call.arg("run_name", required=False) or tags.get("mlflow.runName") or "run")
    started = _ms(call.args.get("start_time"), "start_time") or time.time_ns() // 1_000_000
    parent = tags.get("mlflow.parentRunId")
    if parent:
        call.run(READER, parent)
    first = _first_run(call, experiment)
    display = (first.tags.get(EXPERIMENT_TAG) if first is not None else None) or experiment
    run_id = new_id()
    if call.args.get("user_id"):  # MLflow's user: a tag only; the run's user is the caller
        tags.setdefault("mlflow.user", str(call.args["user_id"]))
    tags.update({RUN_ID_TAG: run_id, EXPERIMENT_ID_TAG: experiment_id(experiment),
                 EXPERIMENT_TAG: display})
    run = Run(id=run_id, project=call.project, name=str(name)[:128], kind="run",
              status=RunStatus.RUNNING,
              started_at=us_to_datetime(started * 1000),  # type: ignore[arg-type]
              parent_id=parent or None, experiment=experiment, tags=tags)
    call.metadata.create_run(run, call.actor)
    return {"run": run_json(call.metadata.get_run(run_id))}


def get_run(call: Call) -> dict[str, Any]:
    run = call.run(READER)
    return {"run": _run_body(call, run)}


def _run_body(call: Call, run: Run, *, detail: bool = True) -> dict[str, Any]:
    """A run as MLflow's ``Run``. Its metrics are the latest values (MLflow's client asks
    ``metrics/get-history`` for steps and times); with ``detail``, its dataset inputs and
    logged-model outputs too (search results leave them out: one query per edge)."""
    if not detail:
        return run_json(run)
    datasets: list[dict[str, Any]] = []
    models: list[dict[str, Any]] = []
    for edge in call.metadata.list_edges(run_id=run.id):
        version = call.metadata.get_artifact_version(edge.artifact_id)
        if edge.direction is EdgeDirection.INPUT and version.kind == "dataset":
            datasets.append({"tags": [{"key": "mlflow.data.context", "value": edge.role}],
                             "dataset": dataset_json(version)})
        elif (edge.direction is EdgeDirection.OUTPUT and version.kind == "model"
              and MODEL_ID_TAG in version.tags):
            models.append({"model_id": version.tags[MODEL_ID_TAG], "step": 0})
    return run_json(run, None, datasets, models)


def update_run(call: Call) -> dict[str, Any]:
    run = call.run(WRITER)
    new_name = call.args.get("run_name")
    if new_name and new_name != run.name:
        raise unsupported("renaming a run (a lineal run keeps the name it started with)")
    status_text = str(call.args.get("status") or "").upper()
    if status_text:
        status = _STATUS.get(status_text)
        if status is None:
            raise InvalidArgument(f"unknown run status {status_text!r}")
        if status is not RunStatus.RUNNING:
            if run.status is RunStatus.RUNNING:
                ended = _ms(call.args.get("end_time"), "end_time") or time.time_ns() // 10**6
                call.metadata.finish_run(run.id, status, ended * 1000, None, call.actor)
            elif run.status is not status:
                raise InvalidArgument(f"run {run.id} already ended as {run.status.value}",
                                      hint="a lineal run's final status is kept as it was")
        elif run.status is not RunStatus.RUNNING:
            raise InvalidArgument(f"run {run.id} already ended as {run.status.value}; it "
                                  "cannot run again")
    return {"run_info": run_info_json(call.metadata.get_run(run.id))}


def _float(value: Any, key: str) -> float:
    if isinstance(value, str):
        spelled = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf,
                   "inf": math.inf, "-inf": -math.inf}.get(value.strip().lower())
        if spelled is not None:
            return spelled
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"metric {key!r} value {value!r} is not a number") from None


def _points(items: Any) -> list[MetricPoint]:
    from ..run_data import check_key, metric_step

    out = []
    for item in items or ():
        key = check_key(item.get("key"), "metric")
        when = _ms(item.get("timestamp"), "timestamp") or time.time_ns() // 1_000_000
        out.append(MetricPoint(key, _float(item.get("value"), key),
                               metric_step(key, int(item.get("step") or 0)), when * 1000))
    return out


def _params(items: Any) -> dict[str, str]:
    from ..run_data import check_key, param_value

    out: dict[str, str] = {}
    for item in items or ():
        key = check_key(item.get("key"), "param")
        value = "" if item.get("value") is None else str(item.get("value"))
        param_value(key, value)
        out[key] = value
    return out


def _log(call: Call, **batch: Any) -> dict[str, Any]:
    """One batch written once: MLflow's client retries a write whose answer it did not get,
    and MLflow keeps an identical point once, so the request itself is the idempotency key
    (:mod:`lineal.store.idempotency`): a retry of an applied batch writes nothing."""
    from ..canonical import canonical_json
    from ..store.idempotency import Replayed, applying

    run = call.run(WRITER)
    digest = hashlib.sha256(canonical_json([call.what, call.args]).encode()).hexdigest()
    key = f"{call.actor}:mlflow:{digest}"
    try:
        with applying(key, "log_batch"):
            call.metadata.log_batch(run.id, call.actor, **batch)
    except Replayed:
        return {}
    call.metadata.save_request_response(key, "{}")
    return {}


def log_param(call: Call) -> dict[str, Any]:
    return _log(call, params=_params([{"key": call.arg("key"),
                                       "value": call.arg("value", required=False)}]))


def log_metric(call: Call) -> dict[str, Any]:
    return _log(call, metrics=_points([call.args]))


def set_tag(call: Call) -> dict[str, Any]:
    return _log(call, tags=_tags([{"key": call.arg("key"),
                                   "value": call.arg("value", required=False)}]))


def log_batch(call: Call) -> dict[str, Any]:
    params = _params(call.args.get("params"))
    items = call.args.get("metrics") or []
    points = _points(items)
    if any(item.get("model_id") for item in items):
        points = _new_points(call, points)
    return _log(call, params=params or None, metrics=points,
                tags=_tags(call.args.get("tags")) or None)


def _new_points(call: Call, points: list[MetricPoint]) -> list[MetricPoint]:
    """The points not logged already. ``log_model`` sends the run's metrics again to link them
    to the model; MLflow keeps a point once (its key is the whole point), and so does this."""
    run = call.run(READER)
    seen: set[tuple[Any, ...]] = set()
    for key in {p.key for p in points}:
        seen.update(tuple(p) for p in call.metadata.metric_history(run.id, key))
    return [p for p in points if tuple(p) not in seen]


def get_metric_history(call: Call) -> dict[str, Any]:
    run = call.run(READER)
    points = call.metadata.metric_history(run.id, str(call.arg("metric_key")))
    limit = int(call.args.get("max_results") or 25_000)
    start = int(call.args.get("page_token") or 0)
    page = points[start:start + limit]
    body: dict[str, Any] = {"metrics": [metric_json(p) for p in page]}
    if start + limit < len(points):
        body["next_page_token"] = str(start + limit)
    return body


def log_inputs(call: Call) -> dict[str, Any]:
    """Datasets become ``dataset`` versions recorded by reference (MLflow sends no rows), each
    consumed by the run in the role of its context; models become ``model`` input edges."""
    run = call.run(WRITER)
    meta = call.metadata
    for item in call.args.get("datasets") or ():
        tags = {t.get("key"): t.get("value") for t in item.get("tags") or ()}
        spec = _dataset_spec(_Dataset(item.get("dataset") or {}), run.project, run.id)
        version, _ = meta.create_artifact_version(spec, call.actor)
        role = lineal_name(str(tags.get("mlflow.data.context") or ""), "input")
        meta.add_edge(run.id, version.id, EdgeDirection.INPUT, role, call.actor)
    for item in call.args.get("models") or ():
        version = logged_model_version(call, str(item.get("model_id") or ""))
        meta.add_edge(run.id, version.id, EdgeDirection.INPUT, "model", call.actor)
    return {}


class _Dataset:
    """MLflow's dataset JSON with the attributes the importer's mapping reads."""

    def __init__(self, body: dict[str, Any]) -> None:
        if not body.get("name") or not body.get("digest"):
            raise InvalidArgument("a dataset input needs a name and a digest")
        self.name, self.digest = str(body["name"]), str(body["digest"])
        self.source_type = body.get("source_type")
        self.source, self.schema, self.profile = (body.get("source"), body.get("schema"),
                                                  body.get("profile"))


def logged_model_version(call: Call, model_id: str) -> Any:
    """The artifact version of a finished logged model; NotFound otherwise."""
    found = call.metadata.list_artifact_versions(ArtifactFilter(
        tags={MODEL_ID_TAG: model_id}, limit=1)) if model_id else []
    if not found:
        raise NotFound(f"Logged model with ID '{model_id}' not found (or not finalized)")
    call.allow(READER, found[0].project)
    return found[0]


def log_outputs(call: Call) -> dict[str, Any]:
    """A logged model the run produced: an output edge once the model is finished (its
    source run produces it when it is finalized)."""
    from .mlflow_artifacts import note_output

    run = call.run(WRITER)
    for item in call.args.get("models") or ():
        note_output(call, run, str(item.get("model_id") or ""))
    return {}


# -- search --------------------------------------------------------------------------------------
def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def search_runs(call: Call) -> dict[str, Any]:
    """MLflow's filter language is lineal's (``metrics.x > 1 and params.y = '...'``); the
    project and the experiments are added as conditions."""
    from ..search.filter import parse_filter

    call.allow(READER)
    text = call.args.get("filter") or None
    parse_filter(text)  # errors name columns of the filter as the user typed it
    view = str(call.args.get("run_view_type") or "ACTIVE_ONLY")
    if view == "DELETED_ONLY":
        return {"runs": []}  # lineal never deletes a run
    ids = call.args.get("experiment_ids") or []
    if isinstance(ids, str):
        ids = [ids]
    parts = [f"attributes.project = {_quoted(call.project)}"]
    if ids:
        names = ", ".join(_quoted(experiment_name(str(i))) for i in ids)
        parts.append(f"attributes.experiment IN ({names})")
    if text:
        parts.append(f"({text})")
    limit = int(call.args.get("max_results") or 1000)
    if not 1 <= limit <= _MAX_SEARCH:
        raise InvalidArgument(f"max_results {limit} is outside 1..{_MAX_SEARCH}")
    limit = min(limit, call.context.settings.max_page)
    order = call.args.get("order_by") or None
    page = call.metadata.search_runs(" and ".join(parts), order, limit,
                                     call.args.get("page_token") or None)
    body: dict[str, Any] = {"runs": [_run_body(call, run, detail=False) for run in page]}
    if page.next_page_token:
        body["next_page_token"] = page.next_page_token
    return body


# -- what lineal does not do ---------------------------------------------------------------------
def unsupported(what: str) -> LinealError:
    error = InvalidArgument(f"lineal server does not support {what}")
    error.http_status = 501  # answered as MLflow's NOT_IMPLEMENTED
    return error


ROUTES: list[tuple[str, str, str, Handler]] = [
    ("/experiments/get", "GET", READER, get_experiment),
    ("/experiments/get-by-name", "GET", READER, get_experiment_by_name),
    ("/experiments/create", "POST", WRITER, create_experiment),
    ("/experiments/search", "POST", READER, search_experiments),
    ("/experiments/search", "GET", READER, search_experiments),
    ("/runs/create", "POST", WRITER, create_run),
    ("/runs/get", "GET", READER, get_run),
    ("/runs/update", "POST", WRITER, update_run),
    ("/runs/log-parameter", "POST", WRITER, log_param),
    ("/runs/log-metric", "POST", WRITER, log_metric),
    ("/runs/set-tag", "POST", WRITER, set_tag),
    ("/runs/log-batch", "POST", WRITER, log_batch),
    ("/runs/log-inputs", "POST", WRITER, log_inputs),
    ("/runs/outputs", "POST", WRITER, log_outputs),
    ("/runs/search", "POST", READER, search_runs),
    ("/metrics/get-history", "GET", READER, get_metric_history),
]
