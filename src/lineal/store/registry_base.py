"""The registry contract: registered models, versions, aliases, stages, approvals, the registry's
event history, and deployments.

One part of the metadata contract, :class:`~lineal.store.base.MetadataStore`, which every
implementation implements whole (``SqlMetadataStore``); a remote
lineal server client implements the same methods over HTTP. Policy (protected aliases,
approvals before production) is enforced here, inside the write transaction, so no client can
skip it and no concurrent writer can slip between the check and the change.

Every change appends a :class:`~lineal.entities.RegistryEvent` in the same transaction,
so the history cannot miss a change nor record one that did not happen.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    _NotSet,
)
from ..refs import ArtifactRef

__all__ = ["DeploymentFilter", "NewDeployment", "RegistryStore"]

ENV_ADMINS = "LINEAL_ADMINS"


@dataclass(frozen=True, slots=True)
class NewDeployment:
    """What the SDK knows about a deployment before the store records it."""

    project: str
    name: str
    environment: str
    model_version_id: str
    run_id: str
    target: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    started_at_us: int | None = None
    """When it went live; default: when the store records it. May be in the past (recording a
    deployment after the fact) but not before the record it replaces started."""
    restores_id: str | None = None
    comment: str = ""
    expected_live: str | None | _NotSet = NOT_SET
    """Compare-and-set: the id of the record expected to be live under this name and
    environment (None: nothing live). Conflict if another record is live."""
    alias: str | None = None
    """A registry alias to point at the deployed version in the same transaction (``prod``
    follows what is live), with the registry's rules (protected aliases need an admin)."""


@dataclass(frozen=True, slots=True)
class DeploymentFilter:
    project: str | None = None
    name: str | None = None
    environment: str | None = None
    model: str | None = None
    """Registered model name (with ``project``, or in any project)."""
    model_version_id: str | None = None
    live_from_us: int | None = None
    """Only deployments live at this instant (``started_at <= t < ended_at``), or, with
    ``live_to_us``, at any moment of ``[live_from_us, live_to_us)``."""
    live_to_us: int | None = None
    live_now: bool = False
    started_after_us: int | None = None
    started_before_us: int | None = None
    newest_first: bool = False
    limit: int = 1000


class RegistryStore(abc.ABC):
    """Registry and deployment records. ``actor`` is who makes the change: the SDK passes
    :func:`lineal.identity.current_principal` (the OS account locally, the authenticated
    principal behind a server); the public API takes no ``actor``."""

    # -- registered models --------------------------------------------------------------------
    @abc.abstractmethod
    def create_registered_model(
        self,
        project: str,
        name: str,
        *,
        actor: str,
        description: str = "",
        owner: str = "",
        tags: Mapping[str, str] | None = None,
        policy: ModelPolicy | None = None,
    ) -> RegisteredModel:
        """Create a registered model; AlreadyExists if the name is taken in the project."""

    @abc.abstractmethod
    def find_registered_model(self, project: str, name: str) -> RegisteredModel | None:
        """The registered model, or None if no model of that name is registered."""

    @abc.abstractmethod
    def list_registered_models(
        self, project: str | None = None, *, limit: int = 1000, offset: int = 0
    ) -> list[RegisteredModel]:
        """Registered models by project and name."""

    @abc.abstractmethod
    def update_registered_model(
        self,
        project: str,
        name: str,
        *,
        actor: str,
        description: str | None = None,
        owner: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        """Change description, owner, or set tags (None leaves a field as it is)."""

    @abc.abstractmethod
    def set_model_policy(
        self, project: str, name: str, policy: ModelPolicy, *, actor: str
    ) -> RegisteredModel:
        """Replace the model's policy. Loosening it (unprotecting an alias, dropping the approval
        requirement) needs an admin; tightening it does not."""

    # -- model versions ------------------------------------------------------------------------
    @abc.abstractmethod
    def create_model_version(
        self,
        project: str,
        name: str,
        artifact_version_id: str,
        *,
        actor: str,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        aliases: Sequence[str] = (),
        create_model: bool = False,
    ) -> ModelVersion:
        """Number and register a model artifact version (kind ``model``) as the next version,
        and point ``aliases`` at it. With ``create_model``, a model not registered yet is
        created. One transaction: on any error nothing is written."""

    @abc.abstractmethod
    def get_model_version_by_id(self, version_id: str) -> ModelVersion:
        """By internal id; NotFound if absent."""

    @abc.abstractmethod
    def resolve_model_version(self, ref: ArtifactRef) -> ModelVersion:
        """The version a registry reference names (``churn@v4``, ``churn@prod``, ``churn``
        = latest, ``churn@sha256:...`` = by artifact digest); NotFound otherwise."""

    @abc.abstractmethod
    def list_model_versions(
        self, project: str, name: str, *, stage: Stage | None = None
    ) -> list[ModelVersion]:
        """Versions of one model, newest first."""

    @abc.abstractmethod
    def update_model_version(
        self,
        project: str,
        name: str,
        version: int,
        *,
        actor: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        """Change a version's description or set tags."""

    @abc.abstractmethod
    def set_model_alias(
        self,
        project: str,
        name: str,
        alias: str,
        version: int,
        *,
        actor: str,
        expected: int | None | _NotSet = NOT_SET,
    ) -> ModelVersion:
        """Point (or move) ``alias`` at ``version``. With ``expected`` (a version number, or None
        for "the alias does not exist"), raise Conflict unless that is what the alias holds at
        the moment of writing: a compare-and-set."""

    @abc.abstractmethod
    def remove_model_alias(
        self,
        project: str,
        name: str,
        alias: str,
        *,
        actor: str,
        expected: int | _NotSet = NOT_SET,
    ) -> None:
        """Remove an alias; NotFound if absent; Conflict if it does not hold ``expected``."""

    @abc.abstractmethod
    def transition_model_stage(
        self,
        project: str,
        name: str,
        version: int,
        stage: Stage,
        *,
        actor: str,
        archive_others: bool = False,
        comment: str = "",
    ) -> ModelVersion:
        """Move a version to ``stage``; with ``archive_others``, other versions in that stage
        move to ``archived`` in the same transaction."""

    @abc.abstractmethod
    def add_model_approval(
        self,
        project: str,
        name: str,
        version: int,
        decision: Decision,
        *,
        actor: str,
        stage: Stage = Stage.PRODUCTION,
        comment: str = "",
    ) -> Approval:
        """Record a review decision; the version's ``status`` becomes the latest decision."""

    @abc.abstractmethod
    def registry_events(
        self,
        project: str,
        name: str,
        *,
        version: int | None = None,
        alias: str | None = None,
        actions: Sequence[str] | None = None,
        until_us: int | None = None,
        since_us: int | None = None,
        limit: int | None = None,
    ) -> list[RegistryEvent]:
        """A model's events in the order they happened (``until_us`` inclusive, ``since_us``
        inclusive)."""

    # -- settings ------------------------------------------------------------------------------
    @abc.abstractmethod
    def registry_admins(self) -> list[str] | None:
        """The admins stored in the registry settings, or None when none are stored (then
        ``LINEAL_ADMINS`` decides)."""

    @abc.abstractmethod
    def set_registry_admins(self, admins: Sequence[str] | None, *, actor: str) -> None:
        """Store the admin list (None removes it). Once admins exist, only an admin may change
        them."""

    # -- deployments ---------------------------------------------------------------------------
    @abc.abstractmethod
    def check_deployable(
        self, model_version_id: str, environment: str, *, actor: str, alias: str | None = None,
    ) -> None:
        """PermissionDenied if the model's policy gates ``environment`` (``approval_environments``)
        and the version is not approved, or if ``alias`` is protected and ``actor`` is no admin;
        NotFound if there is no such version. A read: the write checks again."""

    @abc.abstractmethod
    def create_deployment(self, spec: NewDeployment, *, actor: str) -> Deployment:
        """Record a deployment; the record live under the same name and environment, if any, ends
        at the new one's start (``replaced``, or ``rolled_back`` for a rollback). Checks
        :meth:`check_deployable` in the same transaction."""

    @abc.abstractmethod
    def end_deployment(
        self,
        deployment_id: str,
        status: DeploymentStatus,
        *,
        actor: str,
        ended_at_us: int | None = None,
        comment: str = "",
    ) -> Deployment:
        """End a live deployment (``stopped`` or ``failed``); Conflict if it already ended."""

    @abc.abstractmethod
    def get_deployment(self, deployment_id: str) -> Deployment:
        """By id (a unique prefix of at least 6 characters is accepted); NotFound otherwise."""

    @abc.abstractmethod
    def deployment_ids_with_prefix(self, prefix: str, limit: int = 5) -> list[str]:
        """Up to ``limit`` deployment ids starting with ``prefix``, sorted (for short ids in the CLI)."""

    @abc.abstractmethod
    def list_deployments(self, flt: DeploymentFilter) -> list[Deployment]:
        """Deployments matching the filter, by start time."""

    @abc.abstractmethod
    def deployments_of_artifact(
        self, project: str, name: str, environment: str | None = None, limit: int = 1
    ) -> list[str]:
        """Ids of the deployment records (to ``environment``, if given) of any version of the
        artifact ``project/name``, newest first, at most ``limit``. The registry knows
        deployments by registered model; this finds them by the model artifact they serve
        (``lineal last-deployed`` of an artifact that is not a registered model)."""
