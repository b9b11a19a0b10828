"""Questions that look across runs: who used a package version, where a model was last deployed,
and every model trained on a dataset, ranked.

    lineage.runs_using("torch", "2.3.*")
    lineage.last_deployed("churn", "prod")
    lineage.leaderboard("churn-train@v2", "auc")
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..entities import ArtifactVersion, Direction, Edge, EdgeDirection, NodeType, Run
from ..errors import InvalidArgument, NotFound
from ..refs import parse_ref, validate_name
from ..requirements import parse_requirement, version_matcher
from ..store import Store
from ..store.base import ArtifactFilter
from ..store.lineage_base import LineageStore
from ._subject import Subject, resolve_subject, store_or_default
from .questions import lineage_store, walk

if TYPE_CHECKING:
    import pandas

    from ..entities import Deployment

__all__ = [
    "LastDeployment",
    "Leaderboard",
    "LeaderboardEntry",
    "PackageUse",
    "PackagesUnknown",
    "RunsUsing",
    "last_deployed",
    "leaderboard",
    "runs_using",
]

def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# -- which runs used a package version -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PackageUse:
    """A run that ran with a matching version of the package."""

    run: Run
    version: str
    environment_ref: str

    def __repr__(self) -> str:
        return f"<PackageUse {self.run.name} {self.run.id[:12]} {self.version}>"

    def to_dict(self) -> dict[str, Any]:
        r = self.run
        return {"run_id": r.id, "project": r.project, "name": r.name, "kind": r.kind,
                "status": str(r.status), "started_at": _iso(r.started_at),
                "package_version": self.version, "environment": self.environment_ref,
                "user": r.tags.get("lineal.user") or r.created_by}


@dataclass(frozen=True, slots=True)
class PackagesUnknown:
    """A run whose installed packages were not captured: it may or may not have used the
    package, so it is neither counted nor left out silently."""

    run: Run
    reason: str
    environment_ref: str

    def to_dict(self) -> dict[str, Any]:
        r = self.run
        return {"run_id": r.id, "project": r.project, "name": r.name, "kind": r.kind,
                "status": str(r.status), "started_at": _iso(r.started_at),
                "reason": self.reason, "environment": self.environment_ref,
                "user": r.tags.get("lineal.user") or r.created_by}


@dataclass(frozen=True, slots=True)
class RunsUsing:
    package: str
    spec: str | None
    runs: list[PackageUse]
    """Newest first, at most ``limit``."""
    total: int
    """Every matching run; more than ``len(runs)`` when the limit cut the list."""
    versions: dict[str, int] = field(default_factory=dict)
    """Matching package version -> number of runs."""
    not_captured: list[PackagesUnknown] = field(default_factory=list)
    """Runs whose packages were not captured (newest first, at most ``limit``): unknown."""
    not_captured_total: int = 0

    def __repr__(self) -> str:
        return f"<RunsUsing {self.package}{self.spec or ''}: {self.total} runs>"

    @property
    def truncated(self) -> bool:
        return self.total > len(self.runs)

    def __iter__(self) -> Any:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_pandas(self) -> pandas.DataFrame:
        """One row per matching run: its id, name, status, start and the package version."""
        from ..notebook import Records

        return Records(self.runs).to_pandas()

    def to_dict(self) -> dict[str, Any]:
        return {"package": self.package, "spec": self.spec, "total": self.total,
                "truncated": self.truncated, "versions": self.versions,
                "runs": [u.to_dict() for u in self.runs],
                "not_captured_total": self.not_captured_total,
                "not_captured": [u.to_dict() for u in self.not_captured]}


def runs_using(
    package: str,
    spec: str | None = None,
    *,
    project: str | None = None,
    limit: int = 100,
    store: Store | None = None,
) -> RunsUsing:
    """Which runs ran with ``package`` at a version matching ``spec`` (any version when None).

    Environments are content-addressed artifacts shared by every run that ran in them, so this
    reads each distinct environment once, then the runs that consumed the matching ones. Runs
    whose packages were not captured (the scan timed out or failed) are listed apart in
    ``not_captured``: whether they used the package is unknown. (Runs started with
    ``capture=False`` recorded no environment at all and are not listed.)

    >>> [u.run.name for u in lineage.runs_using("torch", "2.3.*")]    # doctest: +SKIP
    """
    from .questions import _normalise

    if not isinstance(limit, int) or limit < 1:
        raise InvalidArgument(f"limit must be a positive number, got {limit!r}")
    if spec is None and any(c in package for c in "=<>~!"):
        package, spec = parse_requirement(package)
    wanted = _normalise(package)
    if not wanted:
        raise InvalidArgument("which package?", hint="e.g. runs_using('torch', '2.3.*')")
    matches = version_matcher(spec)
    store = store_or_default(store)
    meta = store.metadata
    from ..capture import not_captured_reason

    matching: list[tuple[ArtifactVersion, str]] = []
    unknown: list[tuple[ArtifactVersion, str]] = []
    offset = 0
    while True:
        page = meta.list_artifact_versions(
            ArtifactFilter(project=project, kind="environment", limit=500, offset=offset)
        )
        for env in page:
            packages = env.metadata.get("packages")
            reason = not_captured_reason(packages)
            if reason is not None or not isinstance(packages, dict):
                # No dict and no reason: a scan that timed out, before reasons were kept.
                unknown.append((env, reason if reason is not None else "no packages recorded"))
                continue
            for name, version in packages.items():
                if _normalise(str(name)) == wanted and matches(str(version)):
                    matching.append((env, str(version)))
        if len(page) < 500:
            break
        offset += 500
    bulk = lineage_store(store)
    seen = _consumers(bulk, matching)
    counts: dict[str, int] = {}
    for version, _env in seen.values():
        counts[version] = counts.get(version, 0) + 1
    unknown_runs = {run_id: value for run_id, value in _consumers(bulk, unknown).items()
                    if run_id not in seen}
    shown = list(seen.items())[:limit]
    unknown_shown = list(unknown_runs.items())[:limit]
    runs = bulk.runs_by_id([run_id for run_id, _use in [*shown, *unknown_shown]])
    found = [PackageUse(runs[run_id], version, env.ref) for run_id, (version, env) in shown]
    not_captured = [PackagesUnknown(runs[run_id], reason, env.ref)
                    for run_id, (reason, env) in unknown_shown]
    return RunsUsing(package, spec, found, len(seen), dict(sorted(counts.items())),
                     not_captured, len(unknown_runs))


def _consumers(
    bulk: LineageStore, environments: list[tuple[ArtifactVersion, str]]
) -> dict[str, tuple[str, ArtifactVersion]]:
    """run id -> (the value paired with its environment, the environment), newest run first;
    the edges of every environment are read in one bulk query."""
    if not environments:
        return {}
    edges: dict[str, list[Edge]] = {}
    for edge in bulk.edges_of(version_ids=[env.id for env, _value in environments]):
        edges.setdefault(edge.artifact_id, []).append(edge)
    users: list[tuple[datetime, str, str, ArtifactVersion]] = []
    for env, value in environments:
        for edge in edges.get(env.id, []):
            if edge.direction is EdgeDirection.INPUT:
                users.append((edge.created_at, edge.run_id, value, env))
    users.sort(key=lambda u: (u[0], u[1]), reverse=True)
    seen: dict[str, tuple[str, ArtifactVersion]] = {}
    for _when, run_id, value, env in users:
        seen.setdefault(run_id, (value, env))
    return seen


# -- last deployed -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LastDeployment:
    """The most recent deployment of a model (to one environment, if asked)."""

    model: str
    environment: str | None
    deployment: Deployment
    artifact: ArtifactVersion

    def __repr__(self) -> str:
        return f"<LastDeployment {self.deployment.model_ref} as {self.deployment.name} in {self.deployment.environment}>"

    @property
    def live(self) -> bool:
        return self.deployment.is_live

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "environment": self.environment, "live": self.live,
                "model_version": self.deployment.model_ref, "artifact": self.artifact.ref,
                "artifact_digest": self.artifact.digest,
                "deployment": self.deployment.to_dict()}


def last_deployed(
    model: str,
    environment: str | None = None,
    *,
    project: str | None = None,
    store: Store | None = None,
) -> LastDeployment:
    """Which version of a model was deployed last (to ``environment``), live or since ended:
    the one "last deployed" of lineal (CLI ``lineal last-deployed`` and its alias
    ``lineal deploy last``). NotFound when it was never deployed there.

    ``model`` is a registered model (``churn``), one of its versions (``churn@v3``: when that
    version was last deployed), or a model artifact name that was never registered (its
    deployments are found through the registered versions that link it).
    """
    from .. import deployments
    from ..registry.api import registry_store

    store, registry = registry_store(store_or_default(store))
    if environment is not None:
        validate_name(environment, "environment")
    where = f" to {environment}" if environment else ""
    parsed = parse_ref(model, project)
    if registry.find_registered_model(parsed.project, parsed.name) is not None:
        found = deployments.timeline(model, environment, limit=1, project=project, store=store)
        if not found:
            raise NotFound(f"{model} was never deployed{where}",
                           hint="record deployments with `lineal deploy record`")
        last = found[-1]
    else:
        try:
            artifact = store.metadata.resolve(parsed)
        except NotFound:
            raise NotFound(
                f"no registered model or model artifact named {parsed.name!r} in project "
                f"{parsed.project!r}",
                hint="list models with `lineal registry models`",
            ) from None
        ids = store.metadata.deployments_of_artifact(
            parsed.project, parsed.name, environment, limit=1 if "@" not in model else 1000
        )
        records = [deployments.get(i, store=store) for i in ids]
        if "@" in model:
            records = [d for d in records if d.artifact_version_id == artifact.id]
        if not records:
            raise NotFound(f"{model} was never deployed{where}",
                           hint="deploy a registered version of it with `lineal deploy record`")
        last = records[0]
    return LastDeployment(model, environment, last,
                          store.metadata.get_artifact_version(last.artifact_version_id))


# -- leaderboard ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LeaderboardEntry:
    rank: int | None
    """None for models whose runs did not record the metric (listed last)."""
    model: ArtifactVersion
    value: float | None
    run: Run | None
    """The run that produced the model."""
    metric_run: Run | None
    """The run the value comes from: the producing run, else the newest run that consumed the
    model and recorded the metric (an evaluation step)."""
    depth: int
    registered: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<LeaderboardEntry #{self.rank or '-'} {self.model.ref} {self.value}>"

    @property
    def user(self) -> str | None:
        if self.run is None:
            return self.model.created_by or None
        return self.run.tags.get("lineal.user") or self.run.created_by

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank, "model": self.model.ref, "digest": self.model.digest,
            "value": self.value, "depth": self.depth,
            "run_id": self.run.id if self.run else None,
            "run_name": self.run.name if self.run else None,
            "metric_run_id": self.metric_run.id if self.metric_run else None,
            "metric_run_name": self.metric_run.name if self.metric_run else None,
            "user": self.user, "created_at": _iso(self.model.created_at),
            "registered": self.registered,
        }


@dataclass(frozen=True, slots=True)
class Leaderboard:
    subject: Subject
    metric: str
    lower_is_better: bool
    entries: list[LeaderboardEntry]

    def __iter__(self) -> Any:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        best = f", best {self.entries[0].model.ref}" if self.entries and self.entries[0].rank else ""
        return f"<Leaderboard {self.subject.label} by {self.metric}: {len(self.entries)} models{best}>"

    def _repr_html_(self) -> str:
        from ..notebook import html_table

        return html_table(("#", "model", self.metric, "run", "user", "registered"), [
            (e.rank or "-", e.model.ref, "-" if e.value is None else f"{e.value:.4g}",
             e.run.id if e.run else "-", e.user or "-", ", ".join(e.registered))
            for e in self.entries])

    def to_pandas(self) -> pandas.DataFrame:
        """One row per model, best first (see :func:`lineal.notebook.leaderboard_frame`)."""
        from ..notebook import leaderboard_frame

        return leaderboard_frame(self)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.subject.to_dict(), "metric": self.metric,
                "lower_is_better": self.lower_is_better,
                "entries": [e.to_dict() for e in self.entries]}


def leaderboard(
    dataset: str | ArtifactVersion,
    metric: str,
    *,
    lower_is_better: bool = False,
    kinds: tuple[str, ...] = ("model",),
    project: str | None = None,
    store: Store | None = None,
) -> Leaderboard:
    """Every model downstream of a dataset version (trained on it, or on anything made from it),
    ranked by ``metric``; models without the metric come last.

    >>> [(e.rank, e.model.ref, e.value) for e in lineage.leaderboard("train@v2", "auc")]  # doctest: +SKIP
    """
    if not isinstance(metric, str) or not metric.strip():
        raise InvalidArgument("which metric?", hint="e.g. --metric auc")
    store = store_or_default(store)
    subject = resolve_subject(dataset, store, project=project)
    if subject.artifact is None:
        raise InvalidArgument(f"{dataset!r} is a run; a leaderboard starts from a dataset version",
                              hint="pass a dataset reference such as churn-train@v2")
    nodes = walk(store, subject.node(store), Direction.DOWN)
    registered: dict[str, list[str]] = {}
    for node in nodes:
        if node.type is NodeType.MODEL_VERSION and node.parent:
            registered.setdefault(node.parent, []).append(f"{node.project}/{node.name}@v{node.version}")
    scored: list[LeaderboardEntry] = []
    picked = [n for n in nodes if n.type is NodeType.ARTIFACT and n.kind in kinds]
    bulk = lineage_store(store)
    models = bulk.artifact_versions_by_id(n.id for n in picked)
    consumers: dict[str, list[Edge]] = {}
    for edge in bulk.edges_of(version_ids=models):
        if edge.direction is EdgeDirection.INPUT:
            consumers.setdefault(edge.artifact_id, []).append(edge)
    runs = bulk.runs_by_id([*(m.producer_run_id for m in models.values() if m.producer_run_id),
                            *(e.run_id for group in consumers.values() for e in group)])
    for node in picked:
        model = models[node.id]
        run = runs.get(model.producer_run_id) if model.producer_run_id else None
        value, source = _metric_of(model, run, metric, consumers.get(model.id, []), runs)
        scored.append(LeaderboardEntry(None, model, value, run, source, node.depth,
                                       sorted(registered.get(node.id, []))))
    with_value = [e for e in scored if e.value is not None]
    without = [e for e in scored if e.value is None]
    sign = 1.0 if lower_is_better else -1.0
    with_value.sort(key=lambda e: (sign * (e.value or 0.0), e.model.created_at, e.model.ref))
    without.sort(key=lambda e: (e.model.created_at, e.model.ref), reverse=True)
    ranked = [
        LeaderboardEntry(i + 1, e.model, e.value, e.run, e.metric_run, e.depth, e.registered)
        for i, e in enumerate(with_value)
    ]
    return Leaderboard(subject, metric, lower_is_better, ranked + without)


def _metric_of(
    model: ArtifactVersion, run: Run | None, metric: str, consumers: list[Edge],
    runs: dict[str, Run],
) -> tuple[float | None, Run | None]:
    """The metric from the producing run, else from the newest run that consumed the model
    (an evaluation step); ``consumers`` are the model's input edges, ``runs`` read in bulk."""
    if run is not None and _finite(run.metrics.get(metric)):
        return float(run.metrics[metric]), run
    for edge in sorted(consumers, key=lambda e: e.created_at, reverse=True):
        evaluator = runs.get(edge.run_id)
        if evaluator is None:
            continue
        if _finite(evaluator.metrics.get(metric)):
            return float(evaluator.metrics[metric]), evaluator
    return None, None


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
