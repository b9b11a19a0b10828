"""lineal's records in the JSON shapes of MLflow's REST API (``mlflow/protos/service.proto``,
``model_registry.proto``), and the few names that map one onto the other.

The mapping is the one ``lineal import mlflow`` uses (:mod:`lineal.interop.mlflow_import`), so a
history logged through the MLflow client and one imported from MLflow look the same:

- an MLflow experiment is the ``experiment`` of its runs; its id is that lineal name, except
  MLflow's default experiment ``0``, which is lineal's experiment ``Default``;
- an MLflow run id is the lineal run id; a run's artifact URI is
  ``mlflow-artifacts:/<experiment id>/<run id>/artifacts``;
- a logged model (MLflow 3) is a ``model`` artifact version tagged ``lineal.mlflow.model_id``;
  its artifact URI is ``mlflow-artifacts:/<experiment id>/models/<model id>/artifacts``;
- a registered model keeps its MLflow name in the tag ``lineal.mlflow.registered_model``.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

from ..entities import (
    ArtifactVersion,
    MetricPoint,
    ModelVersion,
    RegisteredModel,
    Run,
    datetime_to_us,
)
from ..errors import (
    AlreadyExists,
    Conflict,
    IntegrityError,
    InvalidArgument,
    LinealError,
    ModelFormatError,
    NotFound,
    PermissionDenied,
    StoreError,
    Unauthenticated,
)
from ..interop.mlflow_import import MODEL_ID_TAG, REGISTERED_TAG, VERSION_TAG, lineal_name
from ..refs import validate_name

__all__ = [
    "DEFAULT_EXPERIMENT",
    "equality_filter",
    "error_body",
    "error_status",
    "experiment_id",
    "experiment_json",
    "experiment_name",
    "logged_model_json",
    "millis",
    "model_version_json",
    "registered_model_json",
    "run_info_json",
    "run_json",
]

DEFAULT_EXPERIMENT = "Default"
"""The lineal experiment of MLflow's default experiment (id ``0``), as the importer names it."""
PATH_TAG = "lineal.mlflow.path"
"""The tag of a run artifact version logged through the MLflow client: its path in the run."""

_ERRORS: tuple[tuple[type[LinealError], str, int], ...] = (
    (NotFound, "RESOURCE_DOES_NOT_EXIST", 404),
    (AlreadyExists, "RESOURCE_ALREADY_EXISTS", 400),
    (InvalidArgument, "INVALID_PARAMETER_VALUE", 400),
    (ModelFormatError, "INVALID_PARAMETER_VALUE", 400),
    (Conflict, "ABORTED", 409),
    (PermissionDenied, "PERMISSION_DENIED", 403),
    (Unauthenticated, "UNAUTHENTICATED", 401),
    (StoreError, "TEMPORARILY_UNAVAILABLE", 503),
    (IntegrityError, "DATA_LOSS", 500),
)


# -- errors --------------------------------------------------------------------------------------
def error_body(code: str, message: str) -> dict[str, str]:
    """MLflow's error body, which its client parses into ``MlflowException``."""
    return {"error_code": code, "message": message}


def error_status(error: LinealError) -> tuple[str, int]:
    """MLflow's error code and the HTTP status for a lineal error."""
    if error.http_status == 501:
        return "NOT_IMPLEMENTED", 501
    for kind, code, status in _ERRORS:
        if isinstance(error, kind):
            # A refused body size (413) or range (416) keeps its own status.
            return code, error.http_status if error.http_status in (413, 416) else status
    return "INTERNAL_ERROR", 500


_TERM = re.compile(r"""\s*(?:attributes\.)?(\w+)\s*=\s*(?:'((?:[^']|'')*)'|"([^"]*)")\s*""")


def equality_filter(text: Any, keys: tuple[str, ...]) -> dict[str, str] | None:
    """``key = 'value' AND ...`` over ``keys``, the one filter form lineal answers on models
    (None when the filter is empty, or has any other form)."""
    if not text or not str(text).strip():
        return {}
    out: dict[str, str] = {}
    for term in re.split(r"\s+and\s+", str(text), flags=re.IGNORECASE):
        match = _TERM.fullmatch(term)
        if match is None or match.group(1) not in keys:
            return None
        out[match.group(1)] = (match.group(2) or match.group(3) or "").replace("''", "'")
    return out


# -- names and times -----------------------------------------------------------------------------
def millis(value: datetime | None) -> int | None:
    """Epoch milliseconds, as MLflow counts time."""
    return None if value is None else datetime_to_us(value) // 1000


def experiment_id(experiment: str | None) -> str:
    """The MLflow id of a lineal experiment (runs without one are shown in MLflow's default)."""
    return "0" if experiment in (None, "", DEFAULT_EXPERIMENT) else str(experiment)


def experiment_name(mlflow_id: str) -> str:
    """The lineal experiment an MLflow experiment id names; NotFound for an id that cannot
    name one."""
    if mlflow_id in ("0", DEFAULT_EXPERIMENT):
        return DEFAULT_EXPERIMENT
    try:
        return validate_name(str(mlflow_id), "experiment")
    except InvalidArgument:
        raise NotFound(f"no experiment with id {mlflow_id!r}") from None


def experiment_for_name(name: str) -> str:
    """The lineal experiment of an MLflow experiment name (made a valid name, as imported)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgument("an experiment needs a name")
    return DEFAULT_EXPERIMENT if name == DEFAULT_EXPERIMENT else lineal_name(name, "experiment")


def experiment_json(experiment: str, display: str | None = None,
                    created: datetime | None = None) -> dict[str, Any]:
    eid = experiment_id(experiment)
    when = millis(created)
    return {"experiment_id": eid, "name": display or experiment,
            "artifact_location": f"mlflow-artifacts:/{eid}", "lifecycle_stage": "active",
            "creation_time": when, "last_update_time": when, "tags": []}


# -- runs ----------------------------------------------------------------------------------------
def _text(value: Any) -> str:
    """A param value as MLflow's text (params logged through lineal may be any JSON)."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _number(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def metric_json(point: MetricPoint) -> dict[str, Any]:
    return {"key": point.key, "value": _number(point.value), "step": point.step,
            "timestamp": point.timestamp_us // 1000}


def run_info_json(run: Run) -> dict[str, Any]:
    eid = experiment_id(run.experiment)
    return {"run_id": run.id, "run_uuid": run.id, "experiment_id": eid, "run_name": run.name,
            "user_id": run.created_by, "status": run.status.value.upper(),
            "start_time": millis(run.started_at), "end_time": millis(run.ended_at),
            "artifact_uri": f"mlflow-artifacts:/{eid}/{run.id}/artifacts",
            "lifecycle_stage": "active"}


def run_json(run: Run, latest: list[MetricPoint] | None = None,
             datasets: list[dict[str, Any]] | None = None,
             models: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A run as MLflow's ``Run``: ``latest`` are the last points of its metrics, with step and
    time; without them, the latest values alone (a run keeps no step per latest value)."""
    metrics = ([metric_json(p) for p in latest] if latest is not None else
               [{"key": k, "value": _number(v)} for k, v in run.metrics.items()])
    body: dict[str, Any] = {
        "info": run_info_json(run),
        "data": {"metrics": metrics,
                 "params": [{"key": k, "value": _text(v)} for k, v in run.params.items()],
                 "tags": [{"key": k, "value": v} for k, v in run.tags.items()]},
        "inputs": {"dataset_inputs": datasets or []},
    }
    if models:
        body["outputs"] = {"model_outputs": models}
    return body


def dataset_json(version: ArtifactVersion) -> dict[str, Any]:
    """A dataset version as MLflow's ``Dataset``: what MLflow sent when it was logged (kept in
    its metadata, as the importer keeps it), else what lineal knows of it."""
    kept = version.metadata.get("mlflow") if isinstance(version.metadata, dict) else None
    kept = kept if isinstance(kept, dict) else {}

    def text(value: Any) -> str | None:
        return None if value is None else value if isinstance(value, str) else json.dumps(value)

    schema = kept.get("schema")
    if schema is None and isinstance(version.metadata.get("schema"), list):
        schema = {"mlflow_colspec": version.metadata["schema"]}
    return {"name": kept.get("name") or version.name,
            "digest": str(kept.get("digest") or version.digest.removeprefix("sha256:")[:8]),
            "source_type": kept.get("source_type") or "lineal",
            "source": text(kept.get("source")) or json.dumps({"uri": version.uri}),
            "schema": text(schema), "profile": text(kept.get("profile"))}


# -- logged models -------------------------------------------------------------------------------
def logged_model_json(record: dict[str, Any]) -> dict[str, Any]:
    """A logged model as MLflow's ``LoggedModel``, from its record (see ``mlflow_artifacts``)."""
    eid = str(record.get("experiment_id") or "0")
    info = {
        "model_id": record["model_id"], "experiment_id": eid, "name": record.get("name") or "",
        "creation_timestamp_ms": record.get("created_ms"),
        "last_updated_timestamp_ms": record.get("updated_ms") or record.get("created_ms"),
        "artifact_uri": f"mlflow-artifacts:/{eid}/models/{record['model_id']}/artifacts",
        "status": record.get("status", "LOGGED_MODEL_PENDING"),
        "model_type": record.get("model_type") or "",
        "source_run_id": record.get("source_run_id") or "",
        "tags": [{"key": k, "value": v} for k, v in (record.get("tags") or {}).items()],
    }
    data = {"params": [{"key": k, "value": v} for k, v in (record.get("params") or {}).items()],
            "metrics": []}
    return {"info": info, "data": data}


def logged_model_record(version: ArtifactVersion) -> dict[str, Any]:
    """The record of a logged model lineal holds as ``version`` (kind ``model``, tagged
    ``lineal.mlflow.model_id``; logged through the client or imported)."""
    kept = version.metadata.get("mlflow") if isinstance(version.metadata, dict) else None
    kept = kept if isinstance(kept, dict) else {}
    return {
        "model_id": version.tags[MODEL_ID_TAG],
        "experiment_id": kept.get("experiment_id") or "0",
        "name": kept.get("name") or version.name,
        "created_ms": kept.get("created_at_ms") or millis(version.created_at),
        "updated_ms": millis(version.created_at),
        "status": "LOGGED_MODEL_READY", "model_type": kept.get("model_type") or "",
        "source_run_id": kept.get("source_run_id") or version.producer_run_id or "",
        "params": kept.get("params") or {},
        "tags": {k: v for k, v in version.tags.items() if not k.startswith("lineal.mlflow.")}
        | (kept.get("tags") or {}),
        "version_id": version.id,
    }


# -- the registry --------------------------------------------------------------------------------
def mlflow_model_name(model: RegisteredModel) -> str:
    return model.tags.get(REGISTERED_TAG) or model.name


def mlflow_version_number(version: ModelVersion) -> str:
    """The MLflow number of a version: lineal's, or MLflow's where it was imported."""
    return version.tags.get(VERSION_TAG) or str(version.version)


_KEPT = ("mlflow.source", "mlflow.run_id", "mlflow.user", "mlflow.created_at_ms")
"""Tags a version carries for the mapping (as the importer writes them), not shown as tags."""


def model_version_json(version: ModelVersion, name: str, source: str) -> dict[str, Any]:
    tags = {k: v for k, v in version.tags.items()
            if not k.startswith("lineal.mlflow.") and k not in _KEPT}
    body: dict[str, Any] = {
        "name": name, "version": mlflow_version_number(version),
        "creation_timestamp": millis(version.created_at),
        "last_updated_timestamp": millis(version.updated_at),
        "user_id": version.created_by, "current_stage": _stage(version.stage.value),
        "description": version.description, "source": source,
        "run_id": version.run_id or "", "status": "READY", "run_link": "",
        "aliases": list(version.aliases),
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
    }
    if source.startswith("models:/") and "/" not in source[8:]:
        body["model_id"] = source[8:]
    return body


def _stage(value: str) -> str:
    return {"none": "None", "staging": "Staging", "production": "Production",
            "archived": "Archived"}.get(value, value.capitalize())


def registered_model_json(model: RegisteredModel,
                          latest: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    tags = {k: v for k, v in model.tags.items() if not k.startswith("lineal.mlflow.")}
    return {
        "name": mlflow_model_name(model),
        "creation_timestamp": millis(model.created_at),
        "last_updated_timestamp": millis(model.updated_at),
        "user_id": model.created_by, "description": model.description,
        "latest_versions": latest or [],
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items())],
    }
