"""Deployments: which model version serves where, since when, until when, and how to rebuild it.

    from lineal import deployments

    d = deployments.record_deployment("churn@prod", name="churn-api", environment="prod",
                                      target="https://ml.example.com/churn", config={"replicas": 3})
    deployments.current("prod")                    # what is live in prod now
    deployments.at("last tuesday", "prod")         # what was live then
    deployments.timeline("churn")                  # every deployment of every version of churn
    deployments.recover("churn-api", "prod")       # everything needed to redeploy exactly that
    deployments.rollback("churn-api", "prod")      # redeploy what the live record replaced

The version deployed most recently is one question with one answer:
:func:`lineal.lineage.last_deployed` (CLI ``lineal last-deployed``, alias ``lineal deploy last``).

A deployment is a lineage node: recording one starts a run of kind ``deploy`` that consumes the
model artifact with role ``model`` (and captures the deploying process's environment), so
data -> training run -> model -> deploy run is one traversal of the graph. The deployment
record itself (name, environment, target, config, status, start and end, what it replaced)
lives in the registry, and every start and end is a registry event of the model.

Under one ``name`` and ``environment`` at most one record is live: recording a new one ends the
live one (status ``replaced``, or ``rolled_back`` for a rollback) at the new one's start.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, replace
from typing import Any

from .entities import (
    NOT_SET,
    ArtifactVersion,
    Deployment,
    DeploymentStatus,
    EdgeDirection,
    ModelVersion,
    RunStatus,
    Storage,
    _NotSet,
    now_us,
)
from .errors import InvalidArgument, NotFound
from .identity import current_principal
from .refs import validate_name
from .registry.api import model_name, registry_store, resolve_model_ref, state_at
from .store import Store
from .store.registry_base import DeploymentFilter, NewDeployment, RegistryStore
from .times import TimeLike, parse_when

__all__ = [
    "Deployment",
    "DeploymentStatus",
    "Recovery",
    "at",
    "current",
    "end",
    "get",
    "list_deployments",
    "record_deployment",
    "recover",
    "rollback",
    "timeline",
]


def record_deployment(
    model: str | ModelVersion,
    *,
    name: str,
    environment: str,
    target: str = "",
    config: dict[str, Any] | None = None,
    started_at: TimeLike | None = None,
    comment: str = "",
    expected_live: str | None | _NotSet = NOT_SET,
    alias: str | None = None,
    capture: bool = True,
    store: Store | None = None,
    _restores: str | None = None,
) -> Deployment:
    """Record that a registered model version (``churn@prod``, ``churn@v4``) went live as
    ``name`` in ``environment``; returns the new record.

    ``started_at`` backdates it (recording a deployment made earlier). ``expected_live`` makes it
    a compare-and-set on the record live under that name now (its id, or None for nothing):
    Conflict if someone else deployed meanwhile. ``alias`` (``prod``) is pointed at the version
    in the same transaction, so the registry says what is live. The deploy run is marked failed
    if the record cannot be written.
    """
    from .tracking import error_of, start_run

    store, meta = registry_store(store)
    actor = current_principal()
    validate_name(name, "deployment name")
    validate_name(environment, "environment")
    config = _config(config)
    version, artifact = resolve_model_ref(model, store=store)
    if version is None:
        raise InvalidArgument(
            f"{artifact.ref} is not a registered model version",
            hint=f"register it first: lineal registry register NAME --from {artifact.ref}",
        )
    started_us = None if started_at is None else parse_when(started_at).start_us
    if started_us is not None and started_us > now_us():
        raise InvalidArgument("a deployment cannot start in the future")
    # Before the deploy run starts: a deployment the policy forbids leaves no trace but the
    # error (the store checks again when it writes the record).
    meta.check_deployable(version.id, environment, alias=alias, actor=actor)
    run = start_run(
        f"deploy-{name}"[:128],
        kind="deploy",
        project=version.project,
        params={"environment": environment, "target": target, "model": version.ref,
                "config": config},
        tags={"lineal.deploy.name": name, "lineal.deploy.environment": environment},
        capture=capture,
        store=store,
    )
    try:
        run.use_version(artifact, role="model")
        spec = NewDeployment(
            project=version.project,
            name=name,
            environment=environment,
            model_version_id=version.id,
            run_id=run.id,
            target=target,
            config=config,
            started_at_us=started_us,
            restores_id=_restores,
            comment=comment,
            expected_live=expected_live,
            alias=alias,
        )
        deployment = meta.create_deployment(spec, actor=actor)
    except BaseException as exc:
        run.end(RunStatus.FAILED, error_of(exc, exc.__traceback__))
        raise
    run.set_tags({"lineal.deployment.id": deployment.id})
    run.end(RunStatus.FINISHED)
    return deployment


def end(
    deployment: str | Deployment,
    environment: str | None = None,
    *,
    status: DeploymentStatus | str = DeploymentStatus.STOPPED,
    ended_at: TimeLike | None = None,
    comment: str = "",
    store: Store | None = None,
) -> Deployment:
    """End a live deployment, given its record (or id), or its name and ``environment``.
    ``status`` is ``stopped`` (retired on purpose) or ``failed``."""
    store, meta = registry_store(store)
    try:
        ending = DeploymentStatus(str(status).lower())
    except ValueError:
        raise InvalidArgument(
            f"unknown deployment status {status!r}", hint="a deployment ends 'stopped' or 'failed'"
        ) from None
    record = _one(deployment, environment, store)
    return meta.end_deployment(
        record.id,
        ending,
        actor=current_principal(),
        ended_at_us=None if ended_at is None else parse_when(ended_at).start_us,
        comment=comment,
    )


def get(deployment_id: str, *, store: Store | None = None) -> Deployment:
    """A deployment record by id (or a unique prefix of 6+ characters)."""
    _, meta = registry_store(store)
    return meta.get_deployment(deployment_id)


def list_deployments(
    *,
    environment: str | None = None,
    name: str | None = None,
    model: str | None = None,
    project: str | None = None,
    live: bool = False,
    newest_first: bool = True,
    limit: int = 100,
    store: Store | None = None,
) -> list[Deployment]:
    """Deployment records matching every filter, newest first by default."""
    from .notebook import Records

    _, meta = registry_store(store)
    proj, model_name_ = _model_filter(model, project, meta)
    return Records(meta.list_deployments(
        DeploymentFilter(project=proj, name=name, environment=environment, model=model_name_,
                         live_now=live, newest_first=newest_first, limit=limit)
    ))


def current(
    environment: str | None = None,
    *,
    name: str | None = None,
    model: str | None = None,
    project: str | None = None,
    store: Store | None = None,
) -> list[Deployment]:
    """What is live now (in ``environment``, under ``name``, of ``model``, if given)."""
    from .notebook import Records

    _, meta = registry_store(store)
    proj, model_name_ = _model_filter(model, project, meta)
    return Records(meta.list_deployments(
        DeploymentFilter(project=proj, name=name, environment=environment, model=model_name_,
                         live_now=True)
    ))


def at(
    when: TimeLike,
    environment: str | None = None,
    *,
    name: str | None = None,
    model: str | None = None,
    project: str | None = None,
    store: Store | None = None,
) -> list[Deployment]:
    """What was live at ``when``: an instant, or a whole day (``"2026-11-17"``,
    ``"last tuesday"``), then every record live at any moment of it."""
    from .notebook import Records

    _, meta = registry_store(store)
    span = parse_when(when)
    proj, model_name_ = _model_filter(model, project, meta)
    return Records(meta.list_deployments(
        DeploymentFilter(project=proj, name=name, environment=environment, model=model_name_,
                         live_from_us=span.start_us, live_to_us=span.end_us)
    ))


def timeline(
    model: str,
    environment: str | None = None,
    *,
    limit: int = 1000,
    project: str | None = None,
    store: Store | None = None,
) -> list[Deployment]:
    """Every deployment of a model (``churn``) or of one version (``churn@v3``), oldest first;
    the last is the one deployed most recently. With more than ``limit`` records, the most
    recent ``limit`` of them."""
    store, meta = registry_store(store)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidArgument(f"limit must be a positive integer, got {limit!r}")
    if environment is not None:
        validate_name(environment, "environment")
    if "@" in model:
        version, _ = resolve_model_ref(model, project=project, store=store)
        if version is None:
            raise InvalidArgument(f"{model} is not a registered model version",
                                  hint="give a registry reference, e.g. churn@v3 or churn")
        flt = DeploymentFilter(model_version_id=version.id, environment=environment)
    else:
        proj, name = model_name(model, project)
        if meta.find_registered_model(proj, name) is None:
            raise NotFound(f"no registered model {name!r} in project {proj!r}",
                           hint="list models with `lineal registry models`")
        flt = DeploymentFilter(project=proj, model=name, environment=environment)
    # Newest first then reversed: a long history keeps its most recent records, so the last
    # element is always the latest deployment.
    from .notebook import Records

    newest = meta.list_deployments(replace(flt, newest_first=True, limit=limit))
    return Records(newest[::-1])


@dataclass(frozen=True, slots=True)
class Recovery:
    """Everything needed to redeploy exactly what a deployment record ran."""

    deployment: Deployment
    model_version: ModelVersion
    artifact: ArtifactVersion
    """The model bytes: ``digest``, ``uri``, ``storage``, ``size``."""
    content_available: bool | None
    """Whether the store still holds bytes with that digest (None: referenced, not checked)."""
    serving_environment: dict[str, Any] | None
    """The environment captured by the deploy run (the deploying process)."""
    training_environment: dict[str, Any] | None
    """The environment captured by the run that produced the model."""
    training_code: dict[str, Any] | None
    registry_at_deploy: dict[str, Any]
    """The version's stage and aliases when the deployment started."""

    def __repr__(self) -> str:
        return f"<Recovery {self.deployment.name} in {self.deployment.environment}: {self.model_version.ref}>"

    @property
    def redeploy_command(self) -> str:
        """The ``lineal deploy record`` command that records the same deployment again."""
        d = self.deployment
        parts = ["lineal", "deploy", "record", self.model_version.ref, "--name", d.name,
                 "--env", d.environment]
        if d.target:
            parts += ["--target", d.target]
        if d.config:
            parts += ["--config", json.dumps(d.config, sort_keys=True)]
        return " ".join(shlex.quote(p) for p in parts)

    def _repr_html_(self) -> str:
        from .notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        a = self.artifact
        return {
            "deployment": self.deployment.to_dict(),
            "model_version": self.model_version.ref,
            "artifact": {"ref": a.ref, "digest": a.digest, "uri": a.uri, "size": a.size,
                         "storage": str(a.storage), "is_directory": a.is_directory},
            "content_available": self.content_available,
            "target": self.deployment.target,
            "config": self.deployment.config,
            "serving_environment": self.serving_environment,
            "training_environment": self.training_environment,
            "training_code": self.training_code,
            "registry_at_deploy": self.registry_at_deploy,
            "redeploy_command": self.redeploy_command,
        }


def recover(
    deployment: str | Deployment,
    environment: str | None = None,
    *,
    when: TimeLike | None = None,
    store: Store | None = None,
) -> Recovery:
    """What it takes to redeploy a deployment exactly: give its record or id, or its name and
    ``environment`` (the live record, or the one live at ``when``: recovering an endpoint that
    was deleted by mistake)."""
    store, meta = registry_store(store)
    record = _one(deployment, environment, store, when=when, live_only=when is None)
    version = meta.get_model_version_by_id(record.model_version_id)
    artifact = store.metadata.get_artifact_version(record.artifact_version_id)
    available = store.blobs.exists(artifact.digest) if artifact.storage is Storage.STORED else None
    state = state_at(f"{version.project}/{version.model}", record.started_at, store=store)
    registry = {
        "time": record.started_at.isoformat(),
        "stage": str(state.stages.get(version.version, "unknown")),
        "aliases": sorted(a for a, v in state.aliases.items() if v == version.version),
    }
    training_env = training_code = None
    if artifact.producer_run_id:
        training_env = _captured(store, artifact.producer_run_id, "environment")
        training_code = _captured(store, artifact.producer_run_id, "code")
    return Recovery(
        deployment=record,
        model_version=version,
        artifact=artifact,
        content_available=available,
        serving_environment=_captured(store, record.run_id, "environment"),
        training_environment=training_env,
        training_code=training_code,
        registry_at_deploy=registry,
    )


def rollback(
    name: str,
    environment: str,
    *,
    to: str | None = None,
    comment: str = "",
    alias: str | None = None,
    capture: bool = True,
    store: Store | None = None,
) -> Deployment:
    """Redeploy an earlier record of ``name`` in ``environment`` as a new record that replaces
    the live one and names the record it restores. ``alias`` (``prod``) moves back to the
    restored version in the same transaction.

    By default the target is the record the live one replaced (for a live rollback record: the
    one before what it restored, so repeated rollbacks keep stepping back). ``to`` picks another:
    a deployment id of the same name and environment, or a model reference that was deployed
    there (its latest record). The restored record's target and config are reused.
    """
    store, meta = registry_store(store)
    live = _one(name, environment, store)
    chain = meta.list_deployments(DeploymentFilter(name=name, environment=environment,
                                                   project=live.project))
    by_id = {d.id: d for d in chain}
    if to is None:
        base = by_id.get(live.restores_id or "", live)
        if base.replaces_id is None:
            raise InvalidArgument(
                f"{name} in {environment} has no deployment before {base.id} to roll back to",
                hint="record the version you want with `lineal deploy record`",
            )
        target = by_id[base.replaces_id]
    elif "@" in to:
        version, _ = resolve_model_ref(to, project=live.project, store=store)
        earlier = [d for d in chain if version and d.model_version_id == version.id]
        if not earlier:
            raise InvalidArgument(
                f"{to} was never deployed as {name} in {environment}; nothing to roll back to",
                hint="deploy it with `lineal deploy record` instead",
            )
        target = earlier[-1]
    else:
        target = meta.get_deployment(to)
        if (target.project, target.name, target.environment) != (live.project, name, environment):
            raise InvalidArgument(f"deployment {target.id} is not a record of {name} in {environment}")
    if target.id == live.id:
        raise InvalidArgument(f"{target.id} is the live record; nothing to roll back")
    version = meta.get_model_version_by_id(target.model_version_id)
    return record_deployment(
        version,
        name=name,
        environment=environment,
        target=target.target,
        config=target.config,
        comment=comment or f"rollback to {version.ref} (deployment {target.id})",
        expected_live=live.id,
        alias=alias,
        capture=capture,
        store=store,
        _restores=target.id,
    )


# -- helpers -------------------------------------------------------------------------------------
def _one(
    deployment: str | Deployment,
    environment: str | None,
    store: Store,
    *,
    when: TimeLike | None = None,
    live_only: bool = True,
) -> Deployment:
    _, meta = registry_store(store)
    if isinstance(deployment, Deployment):
        return meta.get_deployment(deployment.id)
    if environment is None:
        return meta.get_deployment(deployment)
    validate_name(deployment, "deployment name")
    if when is not None:
        instant = parse_when(when).start_us
        found = meta.list_deployments(DeploymentFilter(name=deployment, environment=environment,
                                                       live_from_us=instant))
        what = f"live at {when}"
    else:
        found = meta.list_deployments(DeploymentFilter(name=deployment, environment=environment,
                                                       live_now=live_only))
        what = "live now"
    if not found:
        raise NotFound(
            f"no deployment named {deployment!r} is {what} in {environment!r}",
            hint="see `lineal deploy list` (an ended one can be recovered by id or with --at)",
        )
    if len(found) > 1:
        projects = ", ".join(sorted({d.project for d in found}))
        raise InvalidArgument(f"{deployment!r} in {environment!r} exists in several projects "
                              f"({projects}); give the deployment id")
    return found[0]


def _captured(store: Store, run_id: str, kind: str) -> dict[str, Any] | None:
    for edge in store.metadata.list_edges(run_id=run_id):
        if edge.direction is EdgeDirection.INPUT and edge.role == kind:
            version = store.metadata.get_artifact_version(edge.artifact_id)
            if version.kind == kind:
                return {"ref": version.ref, "digest": version.digest, **version.metadata}
    return None


def _model_filter(
    model: str | None, project: str | None, meta: RegistryStore
) -> tuple[str | None, str | None]:
    """``(project, model name)`` to filter deployments by; NotFound for a model that is not
    registered (an empty answer would read as "never deployed")."""
    if model is None:
        return project, None
    if "/" in model:
        project, name = model_name(model)
    else:
        name = validate_name(model, "model name")
    if not any(m.name == name for m in meta.list_registered_models(project, limit=1_000_000)):
        where = f" in project {project!r}" if project else ""
        raise NotFound(f"no registered model {name!r}{where}",
                       hint="list models with `lineal registry models`")
    return project, name


def _config(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise InvalidArgument("deployment config must be a dict (a JSON object)")
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument("deployment config must be JSON-serialisable", hint=str(exc)) from exc
    return config

