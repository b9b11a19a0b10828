"""The model registry's Python API (``lineal.registry``).

    from lineal import registry

    registry.register_model("churn", "churn-model@v3")          # creates 'churn' and its v1
    registry.set_alias("churn@v1", "candidate")
    registry.transition_stage("churn@candidate", "staging")
    registry.approve("churn@v1", comment="AUC +2pt on the holdout")
    registry.transition_stage("churn@v1", "production", archive_others=True)
    registry.set_alias("churn@v1", "prod", expected=None)       # compare-and-set
    registry.alias_at("churn", "prod", "2026-11-17T09:00")      # which version held it then
    version, artifact = registry.resolve_model_ref("churn@prod")

Every function takes ``store=`` (default: the store of ``LINEAL_URI``) and ``project=`` (default:
``LINEAL_PROJECT`` or ``default``; a ``project/name`` reference overrides it). Changes are made
as :func:`lineal.identity.current_principal` (the OS account in embedded mode): there is no
``actor=`` argument, so no caller can act as someone else.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..config import default_project
from ..entities import (
    NOT_SET,
    Approval,
    ArtifactVersion,
    Decision,
    EdgeDirection,
    ModelPolicy,
    ModelVersion,
    RegisteredModel,
    RegistryEvent,
    Stage,
    _NotSet,
    us_to_datetime,
)
from ..errors import InvalidArgument, NotFound
from ..identity import current_principal
from ..refs import ArtifactRef, SelectorKind, parse_ref, validate_alias, validate_name
from ..store import Store, default_store
from ..store.registry_base import RegistryStore
from ..times import TimeLike, datetime_us, end_us, to_us

__all__ = [
    "RegistryState",
    "StageSpan",
    "admins",
    "alias_at",
    "approve",
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


# -- plumbing ------------------------------------------------------------------------------------
def registry_store(store: Store | None) -> tuple[Store, RegistryStore]:
    """The store (the default one if None), and its metadata store, which implements the whole
    contract the registry needs."""
    store = store or default_store(write=True)  # create_model may be the first write
    return store, store.metadata


def _project(project: str | None) -> str:
    return validate_name(default_project(project), "project")


def model_name(name: str, project: str | None = None) -> tuple[str, str]:
    """``(project, name)`` of a model named ``name`` or ``project/name`` (no selector)."""
    if not isinstance(name, str) or "@" in name:
        raise InvalidArgument(
            f"expected a model name, got {name!r}",
            hint="name the model without a version, e.g. 'churn' or 'team/churn'",
        )
    ref = parse_ref(name, _project(project))
    validate_name(ref.name, "model name")
    return ref.project, ref.name


def _version_ref(ref: str | ModelVersion, project: str | None) -> ArtifactRef:
    if isinstance(ref, ModelVersion):
        return ArtifactRef(ref.project, ref.model, SelectorKind.VERSION, ref.version)
    if not isinstance(ref, str) or "@" not in ref:
        raise InvalidArgument(
            f"{ref!r} does not name a version",
            hint="use name@v4, name@<alias> or name@latest, e.g. 'churn@v4'",
        )
    return parse_ref(ref, _project(project))


# -- references ----------------------------------------------------------------------------------
def resolve_model_ref(
    ref: str | ModelVersion | ArtifactVersion,
    *,
    project: str | None = None,
    store: Store | None = None,
) -> tuple[ModelVersion | None, ArtifactVersion]:
    """The model a reference names, by the one reference rule (:mod:`lineal.resolve`): a
    registered model's version when a registered model of that name exists (``churn@prod``,
    ``churn@v4``, ``churn`` = latest), else a model artifact (``churn-model@v3``). Returns the
    registry version (None for a plain artifact) and the model artifact version.

    >>> version, artifact = resolve_model_ref("churn@prod")      # doctest: +SKIP
    """
    from ..resolve import resolve

    store, _meta = registry_store(store)
    if isinstance(ref, ModelVersion):
        return ref, store.metadata.get_artifact_version(ref.artifact_version_id)
    found = resolve(ref, store, project=_project(project), want="model")
    return found.model_version, found.require_artifact()


def _require_model_kind(artifact: ArtifactVersion) -> ArtifactVersion:
    if artifact.kind != "model":
        raise InvalidArgument(
            f"{artifact.ref} is a {artifact.kind!r} artifact, not a model",
            hint="log models with kind='model'",
        )
    return artifact


def _source_artifact(
    store: Store,
    source: str | ArtifactVersion | ModelVersion | None,
    run: str | None,
    artifact: str | None,
    project: str,
) -> ArtifactVersion:
    if (source is None) == (run is None):
        raise InvalidArgument(
            "give exactly one source: an artifact reference, or run= the id of the run that "
            "logged the model"
        )
    if source is not None:
        return _artifact_of(store, source, project)
    store.metadata.get_run(run)  # type: ignore[arg-type]  # NotFound for an unknown run
    outputs = []
    for edge in store.metadata.list_edges(run_id=run):
        if edge.direction is EdgeDirection.OUTPUT:
            version = store.metadata.get_artifact_version(edge.artifact_id)
            if version.kind == "model" and (artifact is None or version.name == artifact):
                outputs.append(version)
    unique = {v.id: v for v in outputs}
    if len(unique) != 1:
        names = ", ".join(sorted(v.ref for v in unique.values())) or "none"
        raise InvalidArgument(
            f"run {run} has {len(unique)} model outputs"
            + (f" named {artifact!r}" if artifact else "") + f" ({names})",
            hint="pick one with artifact=NAME (CLI: --artifact NAME) or pass its reference",
        )
    return next(iter(unique.values()))


def _artifact_of(store: Store, source: str | ArtifactVersion | ModelVersion, project: str) -> ArtifactVersion:
    """The model artifact a registration source names: an artifact first (``want="artifact"``
    of :func:`lineal.resolve.resolve`): ``churn@v1`` is version 1 of the artifact ``churn`` even
    when a registered model is also named ``churn``, because what is registered is always an
    artifact version. Only when no artifact has that name is it a registry reference
    (``other-model@prod``: that version's artifact)."""
    if isinstance(source, ModelVersion):
        return resolve_model_ref(source, project=project, store=store)[1]
    from ..resolve import resolve

    try:
        found = resolve(source, store, project=_project(project), want="artifact")
    except NotFound as error:
        if "no artifact named" not in error.message or not isinstance(source, str):
            raise
        parsed = parse_ref(source, _project(project))
        raise NotFound(
            f"no registered model or model artifact named {parsed.name!r} in project "
            f"{parsed.project!r}",
            hint="list models with `lineal registry models`",
        ) from None
    return _require_model_kind(found.require_artifact())


# -- models --------------------------------------------------------------------------------------
def create_model(
    name: str,
    *,
    description: str = "",
    owner: str | None = None,
    tags: Mapping[str, str] | None = None,
    require_approval_for_production: bool = False,
    protected_aliases: Iterable[str] = (),
    approval_environments: Iterable[str] = (),
    separation_of_duties: bool = True,
    project: str | None = None,
    store: Store | None = None,
) -> RegisteredModel:
    """Register a model name, with its policy; AlreadyExists if it is registered. See
    :class:`ModelPolicy` for what each rule enforces."""
    _, meta = registry_store(store)
    proj, model = model_name(name, project)
    policy = ModelPolicy(require_approval_for_production, tuple(protected_aliases),
                         tuple(approval_environments), separation_of_duties)
    return meta.create_registered_model(
        proj, model, actor=current_principal(), description=description, owner=owner or "",
        tags=tags, policy=policy,
    )


def register_model(
    name: str,
    source: str | ArtifactVersion | None = None,
    *,
    run: str | None = None,
    artifact: str | None = None,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    aliases: Iterable[str] = (),
    project: str | None = None,
    store: Store | None = None,
) -> ModelVersion:
    """Register a model artifact as the next version of ``name``, creating the registered model
    if needed. ``source`` is a reference (``churn-model@v3``, or another registry reference) or
    an ArtifactVersion; or give ``run=`` (and ``artifact=`` if it logged several models).

    A reference names a model artifact first, the registry only when no artifact has that
    name: ``register_model("churn", "churn@v1")`` registers the artifact ``churn`` v1, even once
    the registered model ``churn`` exists. The model, the version and its ``aliases`` are
    written in one transaction: if any of it fails, nothing is written."""
    return _new_version(name, source, run, artifact, description, tags, aliases, project, store,
                        create_model=True)


def get_model(name: str, *, project: str | None = None, store: Store | None = None) -> RegisteredModel:
    """A registered model with its tags, policy and aliases; NotFound if not registered."""
    _, meta = registry_store(store)
    proj, model = model_name(name, project)
    found = meta.find_registered_model(proj, model)
    if found is None:
        raise NotFound(
            f"no registered model {model!r} in project {proj!r}",
            hint="list models with `lineal registry models`",
        )
    return found


def list_models(*, project: str | None = None, store: Store | None = None) -> list[RegisteredModel]:
    """Registered models (of one project if given), by project and name."""
    _, meta = registry_store(store)
    from ..notebook import Records

    return Records(meta.list_registered_models(project))


def update_model(
    name: str,
    *,
    description: str | None = None,
    owner: str | None = None,
    tags: Mapping[str, str] | None = None,
    project: str | None = None,
    store: Store | None = None,
) -> RegisteredModel:
    """Change a model's description or owner, or set tags."""
    _, meta = registry_store(store)
    proj, model = model_name(name, project)
    return meta.update_registered_model(
        proj, model, actor=current_principal(), description=description, owner=owner, tags=tags
    )


def set_policy(
    name: str,
    *,
    require_approval_for_production: bool | None = None,
    protect: Iterable[str] = (),
    unprotect: Iterable[str] = (),
    gate: Iterable[str] = (),
    ungate: Iterable[str] = (),
    separation_of_duties: bool | None = None,
    project: str | None = None,
    store: Store | None = None,
) -> RegisteredModel:
    """Change a model's policy. ``gate`` adds environments a version may be deployed to only
    once approved; ``ungate`` removes them. ``separation_of_duties`` (on unless turned off)
    refuses an approval from the principal who registered the version, wherever the policy
    requires approval. Anyone may tighten a policy; loosening it (``unprotect``, ``ungate``,
    turning the approval requirement or separation of duties off) needs an admin
    (PermissionDenied otherwise)."""
    _, meta = registry_store(store)
    proj, model = model_name(name, project)
    current = get_model(f"{proj}/{model}", store=store).policy
    protected = (set(current.protected_aliases) | set(protect)) - set(unprotect)
    gated = (set(current.approval_environments) | set(gate)) - set(ungate)
    policy = ModelPolicy(
        current.require_approval_for_production
        if require_approval_for_production is None
        else require_approval_for_production,
        tuple(sorted(protected)),
        tuple(sorted(gated)),
        current.separation_of_duties if separation_of_duties is None else separation_of_duties,
    )
    return meta.set_model_policy(proj, model, policy, actor=current_principal())


# -- versions ------------------------------------------------------------------------------------
def create_version(
    name: str,
    source: str | ArtifactVersion | None = None,
    *,
    run: str | None = None,
    artifact: str | None = None,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    aliases: Iterable[str] = (),
    project: str | None = None,
    store: Store | None = None,
) -> ModelVersion:
    """Add a version to a registered model (NotFound if it is not registered); see
    :func:`register_model` for ``source``, ``run`` and ``artifact``. ``aliases`` are set on the
    new version in the same transaction (each its own event): all or nothing."""
    return _new_version(name, source, run, artifact, description, tags, aliases, project, store,
                        create_model=False)


def _new_version(
    name: str, source: str | ArtifactVersion | None, run: str | None, artifact: str | None,
    description: str, tags: Mapping[str, str] | None, aliases: Iterable[str],
    project: str | None, store: Store | None, *, create_model: bool,
) -> ModelVersion:
    store, meta = registry_store(store)
    proj, model = model_name(name, project)
    wanted = [validate_alias(a) for a in aliases]
    # The source is resolved once, before anything is written; the store then creates the
    # model (if asked), the version and its aliases in one transaction: all or nothing.
    linked = _source_artifact(store, source, run, artifact, proj)
    return meta.create_model_version(
        proj, model, linked.id, actor=current_principal(), description=description, tags=tags,
        aliases=wanted, create_model=create_model,
    )


def get_version(
    ref: str | ModelVersion, *, project: str | None = None, store: Store | None = None
) -> ModelVersion:
    """The version a registry reference names: ``churn@v4``, ``churn@prod``, ``churn@latest``."""
    _, meta = registry_store(store)
    if isinstance(ref, str) and "@" not in ref:
        ref = ref + "@latest"
    return meta.resolve_model_version(_version_ref(ref, project))


def list_versions(
    name: str,
    *,
    stage: Stage | str | None = None,
    project: str | None = None,
    store: Store | None = None,
) -> list[ModelVersion]:
    """Versions of a model, newest first (only those in ``stage`` if given): a list that also
    has ``.to_pandas()`` (one row per version)."""
    _, meta = registry_store(store)
    proj, model = model_name(name, project)
    from ..notebook import ModelVersions

    return ModelVersions(meta.list_model_versions(
        proj, model, stage=None if stage is None else Stage.parse(stage)))


def _target(ref: str | ModelVersion, project: str | None, store: Store | None) -> ModelVersion:
    """The version a change applies to: named explicitly (``churn@v4``, ``churn@prod``), never
    implied, so that a change cannot land on whatever happens to be latest."""
    _, meta = registry_store(store)
    return meta.resolve_model_version(_version_ref(ref, project))


def update_version(
    ref: str | ModelVersion,
    *,
    description: str | None = None,
    tags: Mapping[str, str] | None = None,
    project: str | None = None,
    store: Store | None = None,
) -> ModelVersion:
    """Change a version's description or set tags."""
    _, meta = registry_store(store)
    target = _target(ref, project, store)
    return meta.update_model_version(
        target.project, target.model, target.version, actor=current_principal(),
        description=description, tags=tags,
    )


def set_alias(
    ref: str | ModelVersion,
    alias: str,
    *,
    expected: int | str | None | _NotSet = NOT_SET,
    project: str | None = None,
    store: Store | None = None,
) -> ModelVersion:
    """Point ``alias`` at the version ``ref`` names, moving it if it pointed elsewhere.

    ``expected`` makes it a compare-and-set: the version the alias must hold now (``4`` or
    ``"v4"``), or None for "must not exist yet". If another process moved it meanwhile, Conflict
    is raised and nothing is written. Protected aliases need an admin (PermissionDenied).
    """
    _, meta = registry_store(store)
    target = _target(ref, project, store)
    return meta.set_model_alias(
        target.project, target.model, alias, target.version, actor=current_principal(),
        expected=_expected(expected),
    )


def remove_alias(
    name: str,
    alias: str,
    *,
    expected: int | str | _NotSet = NOT_SET,
    project: str | None = None,
    store: Store | None = None,
) -> None:
    """Remove an alias (NotFound if absent); ``expected`` as in :func:`set_alias`."""
    _, meta = registry_store(store)
    proj, model = model_name(name, project)
    wanted = _expected(expected)
    if wanted is None:
        raise InvalidArgument("removing an alias expects it to exist; give its version")
    meta.remove_model_alias(proj, model, alias, actor=current_principal(), expected=wanted)


def _expected(value: int | str | None | _NotSet) -> int | None | _NotSet:
    if value is None or isinstance(value, _NotSet):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("none", "absent", ""):
            return None
        value = text.removeprefix("v")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"expected version {value!r} is not a version number") from None
    if number < 1:
        raise InvalidArgument(f"version numbers start at 1, got {number}")
    return number


def transition_stage(
    ref: str | ModelVersion,
    stage: Stage | str,
    *,
    archive_others: bool = False,
    comment: str = "",
    project: str | None = None,
    store: Store | None = None,
) -> ModelVersion:
    """Move a version to ``none``, ``staging``, ``production`` or ``archived``.

    With ``archive_others``, versions already in that stage are archived in the same
    transaction. If the model's policy requires it, entering production needs an approval of
    this version (PermissionDenied otherwise).
    """
    _, meta = registry_store(store)
    wanted = Stage.parse(stage)
    target = _target(ref, project, store)
    return meta.transition_model_stage(
        target.project, target.model, target.version, wanted, actor=current_principal(),
        archive_others=archive_others, comment=comment,
    )


def approve(
    ref: str | ModelVersion,
    *,
    comment: str = "",
    stage: Stage | str = Stage.PRODUCTION,
    project: str | None = None,
    store: Store | None = None,
) -> Approval:
    """Record that the current principal approves this version (for production unless
    ``stage`` says otherwise). Under a policy requiring approval with separation of duties (the
    default), the principal who registered the version cannot approve it (PermissionDenied)."""
    return _review(ref, Decision.APPROVED, comment, stage, project, store)


def reject(
    ref: str | ModelVersion,
    *,
    comment: str = "",
    stage: Stage | str = Stage.PRODUCTION,
    project: str | None = None,
    store: Store | None = None,
) -> Approval:
    """Record that the current principal rejects this version; it cannot enter production under a policy
    requiring approval until a later approval."""
    return _review(ref, Decision.REJECTED, comment, stage, project, store)


def _review(
    ref: str | ModelVersion, decision: Decision, comment: str, stage: Stage | str,
    project: str | None, store: Store | None,
) -> Approval:
    _, meta = registry_store(store)
    wanted = Stage.parse(stage)
    target = _target(ref, project, store)
    return meta.add_model_approval(
        target.project, target.model, target.version, decision, actor=current_principal(),
        stage=wanted, comment=comment,
    )


# -- history and as-of queries -------------------------------------------------------------------
def history(
    name: str,
    *,
    version: int | None = None,
    alias: str | None = None,
    actions: Sequence[str] | None = None,
    since: TimeLike | None = None,
    until: TimeLike | None = None,
    limit: int | None = None,
    project: str | None = None,
    store: Store | None = None,
) -> list[RegistryEvent]:
    """A model's registry events in the order they happened: who changed what, before -> after.

    ``since`` and ``until`` bound the events' times, both included; a day (``"2026-11-17"``,
    ``"yesterday"``) as ``until`` includes the whole day."""
    return _events(
        name, project, store, version=version, alias=alias, actions=actions,
        since_us=None if since is None else to_us(since),
        until_us=None if until is None else end_us(until) - 1, limit=limit,
    )


def _events(name: str, project: str | None, store: Store | None, **query: Any) -> list[RegistryEvent]:
    _, meta = registry_store(store)
    from ..notebook import Records

    proj, model = model_name(name, project)
    return Records(meta.registry_events(proj, model, **query))


@dataclass(frozen=True, slots=True)
class RegistryState:
    """A model's aliases and version stages as they were at ``time``."""

    time: datetime
    aliases: dict[str, int] = field(default_factory=dict)
    stages: dict[int, Stage] = field(default_factory=dict)

    def versions_in(self, stage: Stage | str) -> list[int]:
        wanted = Stage.parse(stage)
        return sorted(v for v, s in self.stages.items() if s is wanted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(),
            "aliases": dict(self.aliases),
            "stages": {f"v{v}": str(s) for v, s in sorted(self.stages.items())},
        }


_STATE_ACTIONS = ("version.create", "stage.transition", "alias.set", "alias.move", "alias.remove")


def state_at(
    name: str, when: TimeLike, *, project: str | None = None, store: Store | None = None
) -> RegistryState:
    """Replay a model's events up to ``when`` (inclusive): its aliases and stages then."""
    at_us = to_us(when)
    state = RegistryState(us_to_datetime(at_us))  # type: ignore[arg-type]
    for event in _events(name, project, store, actions=_STATE_ACTIONS, until_us=at_us):
        _apply(state, event)
    return state


def _apply(state: RegistryState, event: RegistryEvent) -> None:
    if event.action in ("version.create", "stage.transition") and event.version is not None:
        state.stages[event.version] = Stage(event.after["stage"])
    elif event.action in ("alias.set", "alias.move") and event.alias:
        state.aliases[event.alias] = int(event.after["version"])
    elif event.action == "alias.remove" and event.alias:
        state.aliases.pop(event.alias, None)


def alias_at(
    name: str, alias: str, when: TimeLike, *, project: str | None = None, store: Store | None = None
) -> ModelVersion | None:
    """The version ``alias`` pointed at, at time ``when``; None if it did not exist then."""
    proj, model = model_name(name, project)
    events = _events(
        f"{proj}/{model}", None, store, alias=alias,
        actions=("alias.set", "alias.move", "alias.remove"), until_us=to_us(when),
    )
    if not events or events[-1].action == "alias.remove":
        return None
    return get_version(f"{proj}/{model}@v{events[-1].after['version']}", store=store)


def stage_at(
    ref: str | ModelVersion, when: TimeLike, *, project: str | None = None, store: Store | None = None
) -> Stage | None:
    """The stage a version was in at ``when``; None if it was not registered yet."""
    target = _target(ref, project, store)
    state = state_at(f"{target.project}/{target.model}", when, store=store)
    return state.stages.get(target.version)


@dataclass(frozen=True, slots=True)
class StageSpan:
    """Version ``version`` was in ``stage`` from ``start`` until ``end`` (None: still is)."""

    version: int
    stage: Stage
    start: datetime
    end: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "stage": str(self.stage),
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
        }


def versions_in_stage_between(
    name: str,
    stage: Stage | str,
    start: TimeLike,
    end: TimeLike,
    *,
    project: str | None = None,
    store: Store | None = None,
) -> list[StageSpan]:
    """Every span during which a version was in ``stage`` at some moment of ``[start, end)``,
    in order of start: "which versions were in production between T1 and T2". A day as
    ``start`` begins at its midnight; a day as ``end`` includes that whole day."""
    wanted = Stage.parse(stage)
    start_us, stop_us = to_us(start), end_us(end)
    if stop_us < start_us:
        raise InvalidArgument("the end of the interval is before its start")
    open_spans: dict[int, tuple[Stage, int]] = {}
    spans: list[tuple[int, Stage, int, int | None]] = []
    for event in _events(name, project, store, actions=("version.create", "stage.transition"),
                         until_us=stop_us):
        if event.version is None:
            continue
        ts = datetime_us(event.timestamp)
        previous = open_spans.get(event.version)
        if previous is not None:
            spans.append((event.version, previous[0], previous[1], ts))
        open_spans[event.version] = (Stage(event.after["stage"]), ts)
    spans.extend((v, s, ts, None) for v, (s, ts) in open_spans.items())
    out = [
        StageSpan(v, s, us_to_datetime(a), us_to_datetime(b))  # type: ignore[arg-type]
        for v, s, a, b in spans
        if s is wanted and a < max(stop_us, start_us + 1) and (b is None or b > start_us)
    ]
    return sorted(out, key=lambda span: (span.start, span.version))


# -- admins --------------------------------------------------------------------------------------
def admins(*, store: Store | None = None) -> list[str]:
    """Who may move protected aliases and loosen policies: the store setting if any, else the
    comma-separated users in ``LINEAL_ADMINS``."""
    _, meta = registry_store(store)
    stored = meta.registry_admins()
    if stored is not None:
        return stored
    return sorted({a.strip() for a in os.environ.get("LINEAL_ADMINS", "").split(",") if a.strip()})


def set_admins(
    users: Sequence[str] | None, *, store: Store | None = None
) -> list[str]:
    """Store the admin list in the registry (shared by everyone using the store); once admins
    exist, only an admin may change it. An empty list removes the setting."""
    _, meta = registry_store(store)
    meta.set_registry_admins(list(users or ()), actor=current_principal())
    return admins(store=store)
