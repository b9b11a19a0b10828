"""MLflow's model registry routes (``/api/2.0/mlflow/registered-models/...``,
``/api/2.0/mlflow/model-versions/...``) over lineal's registry.

A registered model is a lineal registered model of (almost) the same name, its MLflow name kept
in the tag ``lineal.mlflow.registered_model``; a version links the ``model`` artifact version it
registers (a logged model, ``models:/<model id>``), so its lineage is the run that produced it
and everything that run consumed. Moving a protected alias or promoting to production needs the
admin role, as everywhere in lineal.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from ..entities import ModelVersion, RegisteredModel, Stage
from ..errors import InvalidArgument, NotFound
from ..interop.mlflow_import import REGISTERED_TAG, lineal_name
from ..store.http.routes import ADMIN, READER, WRITER
from .mlflow_artifacts import artifact_parts, artifact_uri, run_tree
from .mlflow_routes import Call, logged_model_version, mlflow_route, unsupported
from .mlflow_shapes import (
    PATH_TAG,
    equality_filter,
    mlflow_model_name,
    mlflow_version_number,
    model_version_json,
    registered_model_json,
)

__all__ = ["add_mlflow_registry_routes"]

SOURCE_TAG = "mlflow.source"


def add_mlflow_registry_routes(app: FastAPI) -> None:
    """Register the model registry routes."""
    for path, method, role, handler in ROUTES:
        mlflow_route(app, path, method, role, handler)


# -- finding things ------------------------------------------------------------------------------
def _model(call: Call, role: str = READER) -> RegisteredModel:
    name = str(call.arg("name"))
    call.allow(role)
    model = call.metadata.find_registered_model(call.project, lineal_name(name, "model"))
    if model is None:
        raise NotFound(f"Registered Model with name={name} not found")
    return model


def _version(call: Call, model: RegisteredModel, number: Any) -> ModelVersion:
    wanted = str(number)
    for version in call.metadata.list_model_versions(model.project, model.name):
        if mlflow_version_number(version) == wanted:
            return version
    raise NotFound(f"Model Version (name={mlflow_model_name(model)}, version={wanted}) not found")


def _version_json(call: Call, model: RegisteredModel, version: ModelVersion) -> dict[str, Any]:
    source = version.tags.get(SOURCE_TAG) or artifact_uri(
        call.metadata.get_artifact_version(version.artifact_version_id))
    return model_version_json(version, mlflow_model_name(model), source)


def _model_json(call: Call, model: RegisteredModel) -> dict[str, Any]:
    latest: dict[Stage, ModelVersion] = {}
    for version in call.metadata.list_model_versions(model.project, model.name):
        latest.setdefault(version.stage, version)  # newest first
    return registered_model_json(model, [_version_json(call, model, v)
                                         for v in latest.values()])


def _tags(items: Any) -> dict[str, str]:
    return {str(i.get("key")): "" if i.get("value") is None else str(i.get("value"))
            for i in items or () if i.get("key")}


# -- registered models ---------------------------------------------------------------------------
def create_registered_model(call: Call) -> dict[str, Any]:
    call.allow(WRITER)
    name = str(call.arg("name"))
    tags = {**_tags(call.args.get("tags")), REGISTERED_TAG: name}
    model = call.metadata.create_registered_model(
        call.project, lineal_name(name, "model"), actor=call.actor,
        description=str(call.args.get("description") or ""), tags=tags)
    return {"registered_model": _model_json(call, model)}


def get_registered_model(call: Call) -> dict[str, Any]:
    return {"registered_model": _model_json(call, _model(call))}


def update_registered_model(call: Call) -> dict[str, Any]:
    model = _model(call, WRITER)
    model = call.metadata.update_registered_model(
        model.project, model.name, actor=call.actor,
        description=call.args.get("description"))
    return {"registered_model": _model_json(call, model)}


def set_registered_model_tag(call: Call) -> dict[str, Any]:
    model = _model(call, WRITER)
    call.metadata.update_registered_model(model.project, model.name, actor=call.actor,
                                          tags={str(call.arg("key")): str(call.arg("value"))})
    return {}


def search_registered_models(call: Call) -> dict[str, Any]:
    """Every registered model of the project; a filter may only name one (``name = '...'``)."""
    call.allow(READER)
    name = _name_filter(call.args.get("filter"))
    limit = int(call.args.get("max_results") or 100)
    offset = int(call.args.get("page_token") or 0)
    if name is not None:
        found = call.metadata.find_registered_model(call.project, lineal_name(name, "model"))
        models = [found] if found is not None else []
        offset, limit = 0, 1
    else:
        models = call.metadata.list_registered_models(call.project, limit=limit + 1,
                                                      offset=offset)
    body: dict[str, Any] = {"registered_models": [_model_json(call, m)
                                                  for m in models[:limit]]}
    if len(models) > limit:
        body["next_page_token"] = str(offset + limit)
    return body


def _name_filter(text: Any) -> str | None:
    """The model name of a filter ``name = '...'`` (all lineal answers); None for no filter."""
    terms = equality_filter(text, ("name",))
    if terms is None:
        raise unsupported(f"the filter {text!r} (lineal answers name = '...' only)")
    return terms.get("name")


# -- versions ------------------------------------------------------------------------------------
def _artifact_for(call: Call, source: str, model_id: str | None) -> str:
    """The ``model`` artifact version a new registered version links, from what MLflow sends."""
    if not model_id and source.startswith("models:/") and "/" not in source[8:].strip("/"):
        model_id = source[8:].strip("/")
    if model_id:
        return str(logged_model_version(call, model_id).id)
    path = None
    if source.startswith("mlflow-artifacts:"):
        path = artifact_parts(source.removeprefix("mlflow-artifacts:"))
    elif source.startswith("runs:/"):
        run_id, _, rest = source[6:].partition("/")
        run = call.run(READER, run_id)
        path = ["0", run.id, "artifacts", *artifact_parts(rest)]
    if path and len(path) >= 4 and path[1] == "models" and path[3] == "artifacts":
        return str(logged_model_version(call, path[2]).id)
    if path and len(path) >= 2 and path[0] == "_lineal":
        version = call.metadata.get_artifact_version(path[1])
        call.allow(READER, version.project)
        return str(version.id)
    if path and len(path) >= 4 and path[2] == "artifacts":
        wanted = "/".join(path[3:])
        run = call.run(READER, path[1])
        run_tree(call, run)  # the caller may read the run's artifacts
        for edge in call.metadata.list_edges(run_id=run.id):
            version = call.metadata.get_artifact_version(edge.artifact_id)
            kept = version.metadata.get("mlflow") if isinstance(version.metadata, dict) else {}
            where = version.tags.get(PATH_TAG) or (kept or {}).get("path")
            if where == wanted and version.kind == "model":
                return str(version.id)
    raise InvalidArgument(
        f"lineal cannot register {source!r}: it registers logged models",
        hint="log the model with mlflow.<flavor>.log_model and register models:/<model id>")


def create_model_version(call: Call) -> dict[str, Any]:
    model = _model(call, WRITER)
    source = str(call.args.get("source") or "")
    artifact = _artifact_for(call, source, call.args.get("model_id") or None)
    tags = {**_tags(call.args.get("tags")), SOURCE_TAG: source,
            "mlflow.run_id": str(call.args.get("run_id") or "")}
    version = call.metadata.create_model_version(
        model.project, model.name, artifact, actor=call.actor,
        description=str(call.args.get("description") or ""), tags=tags)
    return {"model_version": _version_json(call, model, version)}


def get_model_version(call: Call) -> dict[str, Any]:
    model = _model(call)
    return {"model_version": _version_json(call, model, _version(call, model,
                                                                 call.arg("version")))}


def update_model_version(call: Call) -> dict[str, Any]:
    model = _model(call, WRITER)
    version = _version(call, model, call.arg("version"))
    version = call.metadata.update_model_version(
        model.project, model.name, version.version, actor=call.actor,
        description=call.args.get("description"))
    return {"model_version": _version_json(call, model, version)}


def set_model_version_tag(call: Call) -> dict[str, Any]:
    model = _model(call, WRITER)
    version = _version(call, model, call.arg("version"))
    call.metadata.update_model_version(model.project, model.name, version.version,
                                       actor=call.actor,
                                       tags={str(call.arg("key")): str(call.arg("value"))})
    return {}


def transition_stage(call: Call) -> dict[str, Any]:
    stage = Stage.parse(str(call.arg("stage")))
    model = _model(call, ADMIN if stage is Stage.PRODUCTION else WRITER)
    version = _version(call, model, call.arg("version"))
    archive = str(call.args.get("archive_existing_versions")).lower() == "true"
    version = call.metadata.transition_model_stage(
        model.project, model.name, version.version, stage, actor=call.actor,
        archive_others=archive, comment="through the MLflow API")
    return {"model_version": _version_json(call, model, version)}


def get_latest_versions(call: Call) -> dict[str, Any]:
    model = _model(call)
    stages = {Stage.parse(s) for s in call.args.get("stages") or ()}
    latest: dict[Stage, ModelVersion] = {}
    for version in call.metadata.list_model_versions(model.project, model.name):
        if not stages or version.stage in stages:
            latest.setdefault(version.stage, version)
    return {"model_versions": [_version_json(call, model, v) for v in latest.values()]}


def search_model_versions(call: Call) -> dict[str, Any]:
    """The versions of one model (``name = '...'``: the one filter lineal answers)."""
    name = _name_filter(call.args.get("filter"))
    if name is None:
        raise unsupported("searching model versions without name = '...'")
    call.args["name"] = name
    model = _model(call)
    versions = call.metadata.list_model_versions(model.project, model.name)
    return {"model_versions": [_version_json(call, model, v) for v in versions]}


def get_download_uri(call: Call) -> dict[str, Any]:
    model = _model(call)
    version = _version(call, model, call.arg("version"))
    artifact = call.metadata.get_artifact_version(version.artifact_version_id)
    return {"artifact_uri": artifact_uri(artifact)}


# -- aliases -------------------------------------------------------------------------------------
def _alias_role(model: RegisteredModel, alias: str) -> str:
    return ADMIN if alias in model.policy.protected_aliases else WRITER


def set_alias(call: Call) -> dict[str, Any]:
    model = _model(call, WRITER)
    alias = str(call.arg("alias"))
    call.allow(_alias_role(model, alias), model.project)
    version = _version(call, model, call.arg("version"))
    call.metadata.set_model_alias(model.project, model.name, alias, version.version,
                                  actor=call.actor)
    return {}


def delete_alias(call: Call) -> dict[str, Any]:
    model = _model(call, WRITER)
    alias = str(call.arg("alias"))
    call.allow(_alias_role(model, alias), model.project)
    call.metadata.remove_model_alias(model.project, model.name, alias, actor=call.actor)
    return {}


def get_by_alias(call: Call) -> dict[str, Any]:
    model = _model(call)
    alias = str(call.arg("alias"))
    number = model.aliases.get(alias)
    if number is None:
        raise NotFound(f"Registered model alias {alias} not found.")
    for version in call.metadata.list_model_versions(model.project, model.name):
        if version.version == number:
            return {"model_version": _version_json(call, model, version)}
    raise NotFound(f"Registered model alias {alias} names a missing version {number}")


ROUTES = [
    ("/registered-models/create", "POST", WRITER, create_registered_model),
    ("/registered-models/get", "GET", READER, get_registered_model),
    ("/registered-models/update", "PATCH", WRITER, update_registered_model),
    ("/registered-models/set-tag", "POST", WRITER, set_registered_model_tag),
    ("/registered-models/search", "GET", READER, search_registered_models),
    ("/registered-models/get-latest-versions", "POST", READER, get_latest_versions),
    ("/registered-models/get-latest-versions", "GET", READER, get_latest_versions),
    ("/registered-models/alias", "POST", WRITER, set_alias),
    ("/registered-models/alias", "DELETE", WRITER, delete_alias),
    ("/registered-models/alias", "GET", READER, get_by_alias),
    ("/model-versions/create", "POST", WRITER, create_model_version),
    ("/model-versions/get", "GET", READER, get_model_version),
    ("/model-versions/update", "PATCH", WRITER, update_model_version),
    ("/model-versions/set-tag", "POST", WRITER, set_model_version_tag),
    ("/model-versions/transition-stage", "POST", WRITER, transition_stage),
    ("/model-versions/search", "GET", READER, search_model_versions),
    ("/model-versions/get-download-uri", "GET", READER, get_download_uri),
]
