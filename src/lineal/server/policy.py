"""Which project a contract call touches, and which role it needs there.

Roles per project (:mod:`lineal.auth`): a reader reads; a writer logs runs and artifacts,
registers versions and records deployments; an admin also moves protected aliases, approves,
promotes to production, purges, and manages tokens and webhooks. Each route declares its base
role (:data:`lineal.store.http.routes.ROUTES`); the rules here raise it where the arguments make
a call an admin's (a stage change to production, a protected alias).
"""

from __future__ import annotations

from typing import Any

from ..store.base import MetadataStore
from ..store.http.routes import ADMIN, Route

__all__ = ["needed_role", "project_of"]


def needed_role(metadata: MetadataStore, route: Route, kwargs: dict[str, Any]) -> str:
    """The role the call needs: the route's, raised to admin by what it does."""
    method = route.method
    if method == "transition_model_stage" and str(kwargs.get("stage")) == "production":
        return ADMIN
    if method in ("set_model_alias", "remove_model_alias"):
        model = metadata.find_registered_model(kwargs["project"], kwargs["name"])
        if model is not None and kwargs["alias"] in model.policy.protected_aliases:
            return ADMIN
    if method == "create_deployment":
        spec = kwargs["spec"]
        if spec.alias is not None:
            model = metadata.find_registered_model(spec.project, spec.name)
            if model is not None and spec.alias in model.policy.protected_aliases:
                return ADMIN
    return route.role


def project_of(metadata: MetadataStore, method: str, kwargs: dict[str, Any]) -> str | None:
    """The project a call touches, or None for a call across projects (which needs the role
    on every project). NotFound when the id it names does not exist."""
    if isinstance(kwargs.get("project"), str):
        return str(kwargs["project"])
    for name in ("run", "spec", "flt", "ref", "start", "batch", "token"):
        value = kwargs.get(name)
        project = getattr(value, "project", None)
        if isinstance(project, str):
            return project
        if name == "batch" and value is not None:
            return _batch_project(value)
    if isinstance(kwargs.get("run_id"), str):
        return metadata.get_run(kwargs["run_id"]).project
    if isinstance(kwargs.get("version_id"), str):
        if method == "get_model_version_by_id":
            return metadata.get_model_version_by_id(kwargs["version_id"]).project
        return metadata.get_artifact_version(kwargs["version_id"]).project
    if isinstance(kwargs.get("model_version_id"), str):
        return metadata.get_model_version_by_id(kwargs["model_version_id"]).project
    if isinstance(kwargs.get("deployment_id"), str):
        return metadata.get_deployment(kwargs["deployment_id"]).project
    if isinstance(kwargs.get("token_id"), str):
        return metadata.get_api_token(kwargs["token_id"]).project
    if method == "lineage_node":
        return metadata.lineage_node(kwargs["node_id"], kwargs["node_type"]).project
    return None


def _batch_project(batch: Any) -> str | None:
    projects = {item.project for item in (*batch.runs, *batch.artifacts)}
    return projects.pop() if len(projects) == 1 else None
