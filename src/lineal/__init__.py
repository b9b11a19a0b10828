"""lineal: ML metadata, model lineage, artifact tracking and a model registry.

    import lineal

    with lineal.run("train", kind="train", params={"C": 1.0}) as run:
        data = run.use_artifact("iris-raw@latest")
        run.log_metric("accuracy", 0.97)
        run.log_artifact("model.skops", kind="model")

Importing lineal does no work and imports nothing heavy: every public name is loaded on first
use (PEP 562), so ``import lineal`` stays fast in scripts and CLIs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "ActiveRun": "lineal.tracking",
    "AlreadyExists": "lineal.errors",
    "ArtifactVersion": "lineal.entities",
    "Conflict": "lineal.errors",
    "Edge": "lineal.entities",
    "IntegrityError": "lineal.errors",
    "InvalidArgument": "lineal.errors",
    "LinealError": "lineal.errors",
    "MetricPoint": "lineal.entities",
    "NotFound": "lineal.errors",
    "PermissionDenied": "lineal.errors",
    "Purged": "lineal.errors",
    "Run": "lineal.entities",
    "RunPage": "lineal.search.page",
    "RunStatus": "lineal.entities",
    "Store": "lineal.store",
    "StoreError": "lineal.errors",
    "Unauthenticated": "lineal.errors",
    "active_run": "lineal.tracking",
    "add_webhook": "lineal.webhooks.api",
    "artifact_path": "lineal.api",
    "audit": "lineal.audit",
    "close_stale_runs": "lineal.heartbeat",
    "create_token": "lineal.tokens",
    "datasets": "lineal.datasets",
    "deployments": "lineal.deployments",
    "download_artifact": "lineal.api",
    "gc": "lineal.housekeeping",
    "import_mlflow": "lineal.interop.mlflow_import",
    "get_artifact": "lineal.api",
    "get_run": "lineal.api",
    "lineage": "lineal.lineage",
    "list_artifacts": "lineal.api",
    "list_runs": "lineal.api",
    "list_tokens": "lineal.tokens",
    "list_webhooks": "lineal.webhooks.api",
    "load_model": "lineal.models.tracking",
    "metric_history": "lineal.api",
    "models": "lineal.models",
    "open_store": "lineal.store",
    "purge": "lineal.housekeeping",
    "registry": "lineal.registry",
    "remove_webhook": "lineal.webhooks.api",
    "reproduce": "lineal.reproduce",
    "revoke_token": "lineal.tokens",
    "run": "lineal.tracking",
    "search_runs": "lineal.api",
    "set_alias": "lineal.api",
    "start_run": "lineal.tracking",
    "step": "lineal.steps",
    "test_webhook": "lineal.webhooks.api",
    "webhook_deliveries": "lineal.webhooks.api",
    "webhooks": "lineal.webhooks",
}

__all__ = sorted([*_EXPORTS, "__version__"])


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


if TYPE_CHECKING:
    from . import audit, datasets, deployments, lineage, models, registry, reproduce, webhooks
    from .api import (
        artifact_path,
        download_artifact,
        get_artifact,
        get_run,
        list_artifacts,
        list_runs,
        metric_history,
        search_runs,
        set_alias,
    )
    from .entities import ArtifactVersion, Edge, MetricPoint, Run, RunStatus
    from .errors import (
        AlreadyExists,
        Conflict,
        IntegrityError,
        InvalidArgument,
        LinealError,
        NotFound,
        PermissionDenied,
        Purged,
        StoreError,
        Unauthenticated,
    )
    from .heartbeat import close_stale_runs
    from .housekeeping import gc, purge
    from .interop.mlflow_import import import_mlflow
    from .models.tracking import load_model
    from .search.page import RunPage
    from .steps import step
    from .store import Store, open_store
    from .tokens import create_token, list_tokens, revoke_token
    from .tracking import ActiveRun, active_run, run, start_run
    from .webhooks.api import (
        add_webhook,
        list_webhooks,
        remove_webhook,
        test_webhook,
        webhook_deliveries,
    )
