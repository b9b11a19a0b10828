"""The registry part of an MLflow import: registered models, their versions, stages and aliases.

Each MLflow version becomes the next version of the lineal registered model of (almost) the same
name, linked to the model artifact version it registers: the imported logged model (MLflow 3,
``models:/m-...``), the imported run artifact (``runs:/<run>/<path>``), or else the content MLflow
serves for that version, downloaded and stored like any model. Its MLflow number is the tag
``lineal.mlflow.version``: lineal numbers versions itself, so when MLflow deleted some, the
numbers differ, and aliases are mapped through that tag. The current stage is imported (MLflow
keeps no stage history); aliases are set or moved to where MLflow has them, never removed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..entities import ModelVersion, RegisteredModel, Stage
from ..refs import validate_alias
from .mlflow_import import REGISTERED_TAG, VERSION_TAG, _pages, _reason, lineal_name

if TYPE_CHECKING:
    from .mlflow_import import _Importer

__all__ = ["import_registered_model"]


def import_registered_model(importer: _Importer, model: Any) -> None:
    """Import one MLflow registered model with its versions, stages and aliases."""
    summary, project = importer.summary, importer.project
    name = lineal_name(model.name, "model")
    meta = importer.store.metadata if importer.store is not None else None
    existing = meta.find_registered_model(project, name) if meta is not None else None
    if existing is not None and existing.tags.get(REGISTERED_TAG) != model.name:
        summary.skip("registered_model", model.name, f"lineal already has a registered model "
                     f"{project}/{name} that was not imported from it", failed=True)
        return
    quote = '"' if "'" in model.name else "'"
    versions = sorted(_pages(importer.client.search_model_versions,
                             filter_string=f"name = {quote}{model.name}{quote}", max_results=1000),
                      key=lambda v: int(v.version))
    if existing is None:
        summary.count("registered_models")
        if meta is not None and not importer.dry_run:
            tags = {**(model.tags or {}), REGISTERED_TAG: model.name,
                    "mlflow.created_at_ms": str(model.creation_timestamp)}
            existing = meta.create_registered_model(
                project, name, actor=importer.actor, description=model.description or "",
                tags=tags)
    else:
        summary.found("registered_models")
    numbers: dict[int, int] = {}  # MLflow version -> lineal version
    stored = _stored_versions(importer, existing)
    for mv in versions:
        where = f"{model.name}/{mv.version}"
        try:
            version = _version(importer, model, name, mv, stored.get(str(mv.version)))
        except Exception as error:  # noqa: BLE001 - reported in the summary
            summary.skip("model_version", where, _reason(error), failed=True)
            continue
        if version is not None:
            numbers[int(mv.version)] = version
    _aliases(importer, model, name, numbers)


def _stored_versions(importer: _Importer, model: RegisteredModel | None) -> dict[str, ModelVersion]:
    if model is None or importer.store is None:
        return {}
    versions = importer.store.metadata.list_model_versions(model.project, model.name)
    return {v.tags[VERSION_TAG]: v for v in versions if VERSION_TAG in v.tags}


def _version(importer: _Importer, model: Any, name: str, mv: Any,
             found: ModelVersion | None) -> int | None:
    """Import (or find) one version and its stage; its lineal number, None if not imported."""
    summary = importer.summary
    where = f"{model.name}/{mv.version}"
    stage = _stage(mv.current_stage)
    if found is not None:
        summary.found("model_versions")
        if stage is not None and found.stage is not stage:
            _transition(importer, name, found.version, stage)
        return found.version
    if str(mv.status) != "READY":
        summary.skip("model_version", where, f"its registration is {str(mv.status).lower()} "
                     "in MLflow")
        return None
    artifact_id = _linked_artifact(importer, model, name, mv)
    if artifact_id is None:
        return None
    summary.count("model_versions")
    if importer.dry_run or importer.store is None:
        if stage is not None:
            summary.count("stages")
        return int(mv.version)
    tags = {**(mv.tags or {}), VERSION_TAG: str(mv.version), "mlflow.source": mv.source or "",
            "mlflow.run_id": mv.run_id or "", "mlflow.user": mv.user_id or "",
            "mlflow.created_at_ms": str(mv.creation_timestamp)}
    created = importer.store.metadata.create_model_version(
        importer.project, name, artifact_id, actor=importer.actor,
        description=mv.description or "", tags=tags)
    if stage is not None:
        _transition(importer, name, created.version, stage)
    return created.version


def _stage(text: str | None) -> Stage | None:
    if not text or text.strip().lower() == "none":
        return None
    return Stage.parse(text)


def _transition(importer: _Importer, name: str, version: int, stage: Stage) -> None:
    importer.summary.count("stages")
    if importer.dry_run or importer.store is None:
        return
    importer.store.metadata.transition_model_stage(
        importer.project, name, version, stage, actor=importer.actor,
        comment="imported from MLflow")


def _linked_artifact(importer: _Importer, model: Any, name: str, mv: Any) -> str | None:
    """The lineal model artifact version an MLflow version registers (downloaded and stored
    when it was not imported as a logged model or run artifact); None when left out."""
    source = mv.source or ""
    model_id = getattr(mv, "model_id", None)
    if not model_id and source.startswith("models:/") and "/" not in source[8:]:
        model_id = source[8:]
    if model_id and model_id in importer.models:
        return importer.models[model_id]
    if source.startswith("runs:/"):
        run, _, path = source[6:].partition("/")
        linked = importer.run_artifacts.get((run, path.strip("/")))
        if linked is not None and _is_model(importer, linked):
            return linked
    if importer.selected and mv.run_id not in importer.runs and model_id not in importer.models:
        importer.summary.skip("model_version", f"{model.name}/{mv.version}",
                              "its run is outside the selected experiments")
        return None
    if importer.dry_run or importer.store is None:
        return "dry-run"
    from mlflow.artifacts import download_artifacts

    uri = importer.client.get_model_version_download_uri(model.name, mv.version)
    with tempfile.TemporaryDirectory(prefix="lineal-mlflow-") as tmp:
        local = download_artifacts(artifact_uri=uri, dst_path=tmp,
                                   tracking_uri=importer.summary.source)
        metadata = {"mlflow": {"registered_model": model.name, "version": str(mv.version),
                               "source": source, "run_id": mv.run_id}}
        version = importer._log_model_content(Path(local), name, metadata, {},
                                              importer.runs.get(mv.run_id or ""))
    importer._count_version(version, importer.runs.get(mv.run_id or ""))
    return version.id


def _is_model(importer: _Importer, version_id: str) -> bool:
    assert importer.store is not None
    return importer.store.metadata.get_artifact_version(version_id).kind == "model"


def _aliases(importer: _Importer, model: Any, name: str, numbers: dict[int, int]) -> None:
    summary = importer.summary
    aliases = model.aliases or {}
    if isinstance(aliases, list):  # some MLflow versions list RegisteredModelAlias entities
        aliases = {a.alias: a.version for a in aliases}
    current: dict[str, int] = {}
    if importer.store is not None:
        found = importer.store.metadata.find_registered_model(importer.project, name)
        current = dict(found.aliases) if found is not None else {}
    for alias, mlflow_version in sorted(aliases.items()):
        where = f"{model.name}@{alias}"
        target = numbers.get(int(mlflow_version))
        if target is None:
            summary.skip("alias", where, f"it points at version {mlflow_version}, which was "
                         "not imported")
            continue
        try:
            validate_alias(alias)
        except Exception as error:  # noqa: BLE001
            summary.skip("alias", where, _reason(error), failed=True)
            continue
        if current.get(alias) == target:
            summary.found("aliases")
            continue
        summary.count("aliases")
        if importer.dry_run or importer.store is None:
            continue
        importer.store.metadata.set_model_alias(importer.project, name, alias, target,
                                                actor=importer.actor)
