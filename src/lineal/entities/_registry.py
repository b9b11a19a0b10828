"""The registry's entities: registered models, model versions, approvals, registry events and
deployments (re-exported by :mod:`lineal.entities` and :mod:`lineal.registry`). Frozen
dataclasses; the store reads and writes them, the SDK, CLI and server render them.

Times are timezone-aware UTC datetimes; the store keeps them as integer microseconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..errors import InvalidArgument

__all__ = [
    "Approval",
    "Decision",
    "Deployment",
    "DeploymentStatus",
    "ModelPolicy",
    "ModelVersion",
    "NOT_SET",
    "RegisteredModel",
    "RegistryEvent",
    "Stage",
]


class Stage(StrEnum):
    """The lifecycle stage of a model version."""

    NONE = "none"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"

    @classmethod
    def parse(cls, value: str | Stage) -> Stage:
        """The stage named ``value`` (case-insensitive); InvalidArgument for anything else."""
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise InvalidArgument(
                f"unknown stage {value!r}", hint="stages are: " + ", ".join(s.value for s in cls)
            ) from None


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class DeploymentStatus(StrEnum):
    LIVE = "live"
    """Serving now: started and not ended."""
    REPLACED = "replaced"
    """Ended because a newer deployment of the same name and environment took over."""
    ROLLED_BACK = "rolled_back"
    """Ended because a rollback redeployed an earlier record over it."""
    STOPPED = "stopped"
    """Ended on purpose with nothing replacing it (retired, torn down, deleted)."""
    FAILED = "failed"
    """The deployment failed; it ended when that was recorded."""


class _NotSet:
    """The type of :data:`NOT_SET`."""

    _instance: _NotSet | None = None

    def __new__(cls) -> _NotSet:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_SET"

    def __reduce__(self) -> str:
        return "NOT_SET"  # pickles as the module-level singleton (multiprocessing, HTTP client)


NOT_SET = _NotSet()
"""Compare-and-set argument meaning "do not check": ``set_alias(..., expected=NOT_SET)``."""


@dataclass(frozen=True, slots=True)
class ModelPolicy:
    """Rules a registered model enforces on every change, whoever makes it."""

    require_approval_for_production: bool = False
    """A version enters the ``production`` stage only after an approval of it."""
    protected_aliases: tuple[str, ...] = ()
    """Aliases that only an admin may set, move or remove."""
    approval_environments: tuple[str, ...] = ()
    """Environments a version may be deployed to only once approved (its latest review for
    production is an approval), whatever its stage."""
    separation_of_duties: bool = True
    """The principal who registered a version cannot approve it: where the policy requires
    approval, such an approval is refused, and one recorded before does not count. On unless
    turned off (turning it off needs an admin)."""

    @property
    def requires_approval(self) -> bool:
        """Whether an approval gates anything (production, or deploying to an environment)."""
        return bool(self.require_approval_for_production or self.approval_environments)

    def to_dict(self) -> dict[str, Any]:
        return {
            "require_approval_for_production": self.require_approval_for_production,
            "protected_aliases": sorted(self.protected_aliases),
            "approval_environments": sorted(self.approval_environments),
            "separation_of_duties": self.separation_of_duties,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelPolicy:
        return cls(
            require_approval_for_production=bool(data.get("require_approval_for_production")),
            protected_aliases=tuple(sorted(data.get("protected_aliases") or ())),
            # Absent from policies written before lineal gated deployments: none gated.
            approval_environments=tuple(sorted(data.get("approval_environments") or ())),
            # Absent from policies written before: on, as for every policy since.
            separation_of_duties=bool(data.get("separation_of_duties", True)),
        )


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A named model in the registry; its versions each link one model artifact version."""

    id: str
    project: str
    name: str
    created_at: datetime
    updated_at: datetime
    created_by: str
    description: str = ""
    owner: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    policy: ModelPolicy = field(default_factory=ModelPolicy)
    latest_version: int = 0
    aliases: dict[str, int] = field(default_factory=dict)
    """Alias name -> version number."""

    def __repr__(self) -> str:
        return f"<RegisteredModel {self.project}/{self.name} v{self.latest_version}>"

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.name}"

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["updated_at"] = self.updated_at.isoformat()
        data["policy"] = self.policy.to_dict()
        data["ref"] = self.ref
        return data


@dataclass(frozen=True, slots=True)
class Approval:
    """A review of a model version: who decided what, when, and why."""

    id: str
    version_id: str
    decision: Decision
    stage: str
    """The stage the decision is about (``production`` unless said otherwise)."""
    actor: str
    created_at: datetime
    comment: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["decision"] = str(self.decision)
        data["created_at"] = self.created_at.isoformat()
        return data


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """Version ``version`` of a registered model: one model artifact version (and through it, its
    whole lineage) plus registry state: stage, aliases, approvals."""

    id: str
    project: str
    model: str
    version: int
    artifact_version_id: str
    artifact_ref: str
    """The linked artifact version, e.g. ``default/churn-model@v3``."""
    artifact_digest: str
    stage: Stage
    status: str
    """``unreviewed``, ``approved`` or ``rejected``: the latest approval decision."""
    created_at: datetime
    updated_at: datetime
    created_by: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    run_id: str | None = None
    """The run that produced the model artifact."""
    approvals: tuple[Approval, ...] = ()

    @property
    def ref(self) -> str:
        """The registry reference, e.g. ``default/churn@v4``."""
        return f"{self.project}/{self.model}@v{self.version}"

    def __repr__(self) -> str:
        from ..notebook import model_version_repr

        return model_version_repr(self)

    def _repr_html_(self) -> str:
        from ..notebook import model_version_html

        return model_version_html(self)

    def to_dict(self) -> dict[str, Any]:
        # Field by field, not asdict: that deep-copies every value (approvals included) only
        # for most of them to be replaced, and it was a fifth of a served alias resolution.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["stage"] = str(self.stage)
        data["created_at"] = self.created_at.isoformat()
        data["updated_at"] = self.updated_at.isoformat()
        data["tags"] = dict(self.tags)
        data["aliases"] = list(self.aliases)
        data["approvals"] = [a.to_dict() for a in self.approvals]
        data["ref"] = self.ref
        return data


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """One change to the registry, as recorded in the same transaction as the change itself.

    ``action`` is one of: ``model.create``, ``model.update``, ``policy.update``,
    ``version.create``, ``version.update``, ``alias.set``, ``alias.move``, ``alias.remove``,
    ``stage.transition``, ``approval``, ``deployment.start``, ``deployment.end``.
    """

    id: str
    seq: int
    """Position in the audit ledger: the total order of events across processes."""
    timestamp: datetime
    actor: str
    action: str
    project: str
    model: str
    version: int | None
    alias: str | None
    before: Any
    after: Any
    comment: str = ""

    def __repr__(self) -> str:
        return f"<RegistryEvent #{self.seq} {self.action} {self.model} by {self.actor}>"

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        return data


@dataclass(frozen=True, slots=True)
class Deployment:
    """A model version serving somewhere: one record per (re)deployment.

    Records of the same ``name`` and ``environment`` form a chain: each new one ends the live one
    and names it in ``replaces_id``. A deployment is live on ``[started_at, ended_at)``.
    """

    id: str
    project: str
    name: str
    environment: str
    target: str
    config: dict[str, Any]
    status: DeploymentStatus
    model: str
    model_version: int
    model_version_id: str
    artifact_version_id: str
    run_id: str
    """The ``deploy`` run: a lineage node consuming the model artifact with role ``model``."""
    started_at: datetime
    created_by: str
    ended_at: datetime | None = None
    replaces_id: str | None = None
    restores_id: str | None = None
    """For a rollback: the earlier record whose version and configuration it redeployed."""
    comment: str = ""

    @property
    def model_ref(self) -> str:
        return f"{self.project}/{self.model}@v{self.model_version}"

    def __repr__(self) -> str:
        from ..notebook import deployment_repr

        return deployment_repr(self)

    @property
    def is_live(self) -> bool:
        return self.ended_at is None

    def live_at(self, when: datetime) -> bool:
        """Whether the deployment was serving at ``when``."""
        return self.started_at <= when and (self.ended_at is None or when < self.ended_at)

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        data["started_at"] = self.started_at.isoformat()
        data["ended_at"] = self.ended_at.isoformat() if self.ended_at else None
        data["model_ref"] = self.model_ref
        return data
