"""Logged model versions with what they are and where they came from, without reading their
bytes: ``lineal models list|show`` and the SDK calls behind them.

``run.log_model`` stores the model's manifest (flavor, format, framework and version,
signature, pickle-based) in the artifact version's metadata, so a listing is one metadata query
plus one lookup per producing run.

    >>> from lineal.models.listing import list_models, get_model   # doctest: +SKIP
    >>> [m.framework for m in list_models(framework="sklearn")]    # doctest: +SKIP
    ['sklearn', 'sklearn']
    >>> get_model("churn@v3").run.metrics                           # doctest: +SKIP
    {'auc': 0.91}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..entities import ArtifactVersion, Run
from ..errors import NotFound

if TYPE_CHECKING:
    from datetime import datetime

    from ..store import Store

__all__ = ["MODEL_KIND", "ModelVersionInfo", "get_model", "list_models", "model_info"]

MODEL_KIND = "model"

# A filter on flavor or framework is applied after the query (they live in the metadata JSON),
# so versions are read in pages of at least this many until the limit is met.
_PAGE = 200


@dataclass(frozen=True, slots=True)
class ModelVersionInfo:
    """A model artifact version, the model facts recorded with it, and the run that produced it.

    Fields read from metadata are None for a model logged without ``run.log_model`` (a folder
    logged with ``kind="model"`` by hand): lineal then knows its bytes, not its format.
    """

    version: ArtifactVersion
    flavor: str | None
    format: str | None
    framework: str | None
    framework_version: str | None
    pickle_based: bool | None
    signature: dict[str, Any] | None
    files: list[str] | None
    input_example: Any
    run: Run | None
    """The producing run, or None for a model logged outside a run (or whose run is gone)."""

    @property
    def ref(self) -> str:
        return self.version.ref

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the version's fields, the model facts, and the producing run in brief
        (id, name, kind, status, params, metrics)."""
        run: dict[str, Any] | None = None
        if self.run is not None:
            run = {"id": self.run.id, "name": self.run.name, "kind": self.run.kind,
                   "status": str(self.run.status), "started_at": self.run.started_at.isoformat(),
                   "params": dict(self.run.params), "metrics": dict(self.run.metrics)}
        elif self.version.producer_run_id is not None:
            run = {"id": self.version.producer_run_id, "missing": True}
        return {
            **self.version.to_dict(),
            "flavor": self.flavor,
            "format": self.format,
            "framework": self.framework,
            "framework_version": self.framework_version,
            "pickle_based": self.pickle_based,
            "signature": self.signature,
            "files": self.files,
            "input_example": self.input_example,
            "run": run,
        }


def model_info(version: ArtifactVersion, run: Run | None = None) -> ModelVersionInfo:
    """The model facts ``run.log_model`` recorded in ``version``'s metadata."""
    meta = version.metadata

    def text(key: str) -> str | None:
        value = meta.get(key)
        return None if value is None else str(value)

    pickle_based = meta.get("pickle_based")
    signature = meta.get("signature")
    files = meta.get("files")
    return ModelVersionInfo(
        version=version,
        flavor=text("flavor"),
        format=text("format"),
        framework=text("framework"),
        framework_version=text("framework_version"),
        pickle_based=None if pickle_based is None else bool(pickle_based),
        signature=signature if isinstance(signature, dict) else None,
        files=[str(f) for f in files] if isinstance(files, list) else None,
        input_example=meta.get("input_example"),
        run=run,
    )


def list_models(
    *,
    project: str | None = None,
    name: str | None = None,
    flavor: str | None = None,
    framework: str | None = None,
    producer_run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    created_after: datetime | float | str | None = None,
    created_before: datetime | float | str | None = None,
    limit: int = 100,
    store: Store | None = None,
) -> list[ModelVersionInfo]:
    """Model versions (artifact kind ``model``) matching every filter, newest first, each with
    its producing run (params and latest metrics).

    ``flavor`` and ``framework`` compare case-insensitively with what ``log_model`` recorded
    (``sklearn``, ``torch``, ``xgboost``...).
    """
    from .. import api
    from ..store import default_store

    store = store or default_store()
    wanted_flavor = flavor.lower() if flavor else None
    wanted_framework = framework.lower() if framework else None
    page = max(limit, _PAGE) if (wanted_flavor or wanted_framework) else limit
    found: list[ModelVersionInfo] = []
    runs: dict[str, Run | None] = {}
    offset = 0
    while len(found) < limit:
        versions = api.list_artifacts(
            project=project, name=name, kind=MODEL_KIND, producer_run_id=producer_run_id,
            tags=tags, created_after=created_after, created_before=created_before,
            limit=page, offset=offset, store=store,
        )
        for version in versions:
            info = model_info(version)
            if wanted_flavor and (info.flavor or "").lower() != wanted_flavor:
                continue
            if wanted_framework and (info.framework or "").lower() != wanted_framework:
                continue
            found.append(_with_run(store, info, runs))
            if len(found) == limit:
                break
        if len(versions) < page:
            break
        offset += page
    return found


def get_model(ref: str, *, project: str | None = None, store: Store | None = None) -> ModelVersionInfo:
    """The model a reference names, with its producing run: a registry reference
    (``churn@prod``) when the registry knows the name, else an artifact reference
    (``churn-model@v3``). InvalidArgument if the artifact is not a model."""
    from ..store import default_store
    from .tracking import resolve_model

    store = store or default_store()
    return _with_run(store, model_info(resolve_model(ref, store, project)), {})


def _with_run(store: Store, info: ModelVersionInfo, cache: dict[str, Run | None]) -> ModelVersionInfo:
    run_id = info.version.producer_run_id
    if run_id is None:
        return info
    if run_id not in cache:
        try:
            cache[run_id] = store.metadata.get_run(run_id)
        except NotFound:  # `lineal verify` reports the dangling producer; the listing goes on
            cache[run_id] = None
    run = cache[run_id]
    return info if run is None else replace(info, run=run)
