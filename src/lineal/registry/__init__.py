"""The model registry: named models whose versions link model artifacts (and their lineage), with
stages, movable aliases, approvals, a policy, and a history of every change.

    from lineal import registry

    v = registry.register_model("churn", "churn-model@v3")      # churn@v1
    registry.approve("churn@v1", comment="beats v0 on the holdout")
    registry.transition_stage("churn@v1", "production")
    registry.set_alias("churn@v1", "prod")
    registry.alias_at("churn", "prod", "last tuesday")           # as-of queries from history
    registry.compare("churn@v1", "churn@v2")                     # params, data, code, packages

The functions are in :mod:`lineal.registry.api` and :mod:`lineal.registry.comparison`; they load on
first use so that importing this package stays cheap. The entities are defined in
:mod:`lineal.entities` (the store's layer) and re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ..entities import (
    NOT_SET,
    Approval,
    Decision,
    Deployment,
    DeploymentStatus,
    ModelPolicy,
    ModelVersion,
    RegisteredModel,
    RegistryEvent,
    Stage,
)

_LAZY: dict[str, str] = {
    "ModelComparison": "comparison",
    "ModelSide": "comparison",
    "RegistryState": "api",
    "StageSpan": "api",
    "admins": "api",
    "alias_at": "api",
    "approve": "api",
    "compare": "comparison",
    "create_model": "api",
    "create_version": "api",
    "get_model": "api",
    "get_version": "api",
    "history": "api",
    "list_models": "api",
    "list_versions": "api",
    "register_model": "api",
    "reject": "api",
    "remove_alias": "api",
    "resolve_model_ref": "api",
    "set_admins": "api",
    "set_alias": "api",
    "set_policy": "api",
    "stage_at": "api",
    "state_at": "api",
    "transition_stage": "api",
    "update_model": "api",
    "update_version": "api",
    "versions_in_stage_between": "api",
}

__all__ = [
    "Approval",
    "Decision",
    "Deployment",
    "DeploymentStatus",
    "ModelComparison",
    "ModelPolicy",
    "ModelSide",
    "ModelVersion",
    "NOT_SET",
    "RegisteredModel",
    "RegistryEvent",
    "RegistryState",
    "Stage",
    "StageSpan",
    "admins",
    "alias_at",
    "approve",
    "compare",
    "create_model",
    "create_version",
    "get_model",
    "get_version",
    "history",
    "list_models",
    "list_versions",
    "register_model",
    "reject",
    "remove_alias",
    "resolve_model_ref",
    "set_admins",
    "set_alias",
    "set_policy",
    "stage_at",
    "state_at",
    "transition_stage",
    "update_model",
    "update_version",
    "versions_in_stage_between",
]
# A test checks that __all__ is exactly the eager names plus _LAZY.


__getattr__, __dir__ = lazy_exports(globals(), {name: f"{__name__}.{module}" for name, module in _LAZY.items()})


if TYPE_CHECKING:
    from .api import (
        RegistryState,
        StageSpan,
        admins,
        alias_at,
        approve,
        create_model,
        create_version,
        get_model,
        get_version,
        history,
        list_models,
        list_versions,
        register_model,
        reject,
        remove_alias,
        resolve_model_ref,
        set_admins,
        set_alias,
        set_policy,
        stage_at,
        state_at,
        transition_stage,
        update_model,
        update_version,
        versions_in_stage_between,
    )
    from .comparison import ModelComparison, ModelSide, compare
