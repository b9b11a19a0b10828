"""The questions people ask about a model, each one call (and one CLI command).

    from lineal import lineage

    lineage.trained_on("churn@v3")            # the dataset versions upstream, through the pipeline
    lineage.params("churn@v3")                # hyperparameters of the training run and its steps
    lineage.pipeline("churn@v3")              # parent run, steps, code commit, entry point
    lineage.environment("churn@v3")           # Python, OS, frameworks, every package
    lineage.runs_using("torch", "2.3.*")      # which runs ran with that package version
    lineage.why_failed("train")               # the error, and what differs from the last good run
    lineage.last_deployed("churn", "prod")    # the deployment record, live or not
    lineage.leaderboard("churn-train@v2", "auc")   # every model trained on it, ranked

Each takes a reference in any form :mod:`lineal.lineage._subject` accepts, ``project=`` and
``store=`` (default: the store of ``LINEAL_URI``), and returns a report with ``to_dict()``.
Reports are read from the lineage graph with the store's recursive walks (one SQL statement per
closure), then from the runs and artifact versions the walk reaches.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..entities import ArtifactVersion, Direction, Node, NodeType, Run, RunStatus
from ..errors import NotFound
from ..store import Store
from ..store.lineage_base import LineageStore
from ._subject import Subject, require_run, resolve_subject, store_or_default

__all__ = [
    "DatasetUse",
    "EnvironmentReport",
    "ParamsReport",
    "PipelineReport",
    "PipelineStep",
    "TrainedOn",
    "environment",
    "params",
    "pipeline",
    "trained_on",
    "lineage_store",
    "walk",
]


def lineage_store(store: Store) -> LineageStore:
    """The store's lineage contract, for reading the entities of an answer in bulk."""
    from .api import _lineage

    return _lineage(store)[1]


def walk(store: Store, start: Node, direction: Direction, **options: Any) -> list[Node]:
    """Every node of a closure (all pages), nearest first; ``options`` as for
    :func:`lineal.lineage.upstream`."""
    from .api import downstream, upstream

    closure = upstream if direction is Direction.UP else downstream
    nodes: list[Node] = []
    cursor: str | None = None
    while True:
        page = closure(start, limit=5000, cursor=cursor, store=store, **options)
        nodes.extend(page.nodes)
        if not page.truncated:
            return nodes
        cursor = page.next_cursor


@dataclass(frozen=True, slots=True)
class Derivation:
    """How the subject was made: one producing run per artifact, followed to the sources.

    An artifact version logged again with identical content has several producing runs (each
    later run that logged the same bytes); the full upstream closure holds all of them and all
    their inputs. A derivation keeps, for each artifact, the producer that most plausibly made
    the bytes its consumer read: the latest that started before the consumer (for the subject
    itself, its recorded producer), so re-running a pipeline does not double every step.
    """

    start: Node
    runs: list[tuple[Node, int]]
    """Runs, nearest first, with their hop distance from the subject."""
    consumed: list[tuple[Node, str | None, str, int]]
    """``(artifact, role, consuming run id, depth)`` of every input of those runs but the
    captured code and environment."""


def derivation(store: Store, subject: Subject) -> Derivation:
    """The subject's :class:`Derivation`, from one graph walk."""
    from .api import subgraph

    graph = subgraph(subject.node(store), Direction.UP, store=store)
    start, edges = graph.start, graph.edges
    by_id = {n.id: n for n in graph.nodes}
    producers: dict[str, list[str]] = {}
    inputs: dict[str, list[tuple[str, str | None]]] = {}
    for edge in edges:
        if edge.type == "output":
            producers.setdefault(edge.target, []).append(edge.source)
        elif edge.type == "input":
            inputs.setdefault(edge.target, []).append((edge.source, edge.role))
    runs: list[tuple[Node, int]] = []
    consumed: list[tuple[Node, str | None, str, int]] = []
    seen_runs: set[str] = set()
    seen_inputs: set[tuple[str, str]] = set()
    if start.type is NodeType.RUN:
        frontier = [(start.id, 0)]
        seen_runs.add(start.id)
    else:
        chosen = subject.run.id if subject.run and subject.run.id in producers.get(start.id, []) \
            else _pick(producers.get(start.id, []), None, by_id)
        frontier = [(chosen, 1)] if chosen else []
        if chosen:
            seen_runs.add(chosen)
            runs.append((by_id[chosen], 1))
    while frontier:
        following = []
        for run_id, depth in frontier:
            consumer = by_id[run_id]
            for artifact_id, role in sorted(inputs.get(run_id, []), key=lambda x: (x[0], x[1] or "")):
                artifact = by_id.get(artifact_id)
                if artifact is None or artifact.kind in ("code", "environment") and role in ("code", "environment"):
                    continue
                if (artifact_id, run_id) not in seen_inputs:
                    seen_inputs.add((artifact_id, run_id))
                    consumed.append((artifact, role, run_id, depth + 1))
                producer = _pick(producers.get(artifact_id, []), consumer, by_id)
                if producer and producer not in seen_runs:
                    seen_runs.add(producer)
                    runs.append((by_id[producer], depth + 2))
                    following.append((producer, depth + 2))
        frontier = following
    return Derivation(start, runs, consumed)


def _pick(candidates: list[str], consumer: Node | None, by_id: dict[str, Node]) -> str | None:
    known = [by_id[c] for c in dict.fromkeys(candidates) if c in by_id]
    if not known:
        return None
    never = datetime.max.replace(tzinfo=None)

    def started(node: Node) -> Any:
        return node.time.replace(tzinfo=None) if node.time else never

    if consumer is not None and consumer.time is not None:
        before = [n for n in known if n.time is not None and n.time <= consumer.time]
        if before:
            return max(before, key=lambda n: (started(n), n.id)).id
    return min(known, key=lambda n: (started(n), n.id)).id


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _run_brief(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "kind": run.kind,
        "status": str(run.status),
        "started_at": _iso(run.started_at),
        "ended_at": _iso(run.ended_at),
        "duration_s": run.duration_s,
        "user": run.tags.get("lineal.user") or run.created_by,
    }


# -- 1. which data -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DatasetUse:
    """A dataset version upstream of the subject."""

    ref: str
    project: str
    name: str
    version: int
    digest: str
    kind: str
    role: str | None
    """The role the step that consumed it gave it (``train_data``, ``raw_data``...)."""
    depth: int
    """Hops from the subject: 2 for data the producing run read itself."""
    direct: bool
    """Consumed by the run that produced the subject (not only by an earlier step)."""
    step: str | None
    """Name of the run that consumed it."""
    step_run_id: str | None
    created_at: datetime | None
    tainted: bool
    rows: int | None = None

    def __repr__(self) -> str:
        return f"<DatasetUse {self.ref} {self.role or '-'} depth {self.depth}>"

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref, "project": self.project, "name": self.name, "version": self.version,
            "digest": self.digest, "kind": self.kind, "role": self.role, "depth": self.depth,
            "direct": self.direct, "step": self.step, "step_run_id": self.step_run_id,
            "created_at": _iso(self.created_at), "tainted": self.tainted, "rows": self.rows,
        }


@dataclass(frozen=True, slots=True)
class TrainedOn:
    """The answer to "which dataset versions was this trained on?"; iterates over ``datasets``."""

    subject: Subject
    datasets: list[DatasetUse]

    def __repr__(self) -> str:
        return f"<TrainedOn {self.subject.label}: {len(self.datasets)} dataset versions>"

    def __iter__(self) -> Any:
        return iter(self.datasets)

    def __len__(self) -> int:
        return len(self.datasets)

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject.to_dict(), "datasets": [d.to_dict() for d in self.datasets]}


def trained_on(
    ref: str | ArtifactVersion | Run,
    *,
    kinds: tuple[str, ...] = ("dataset",),
    project: str | None = None,
    store: Store | None = None,
) -> TrainedOn:
    """The dataset versions upstream of a model (or any artifact, or a run), through the whole
    pipeline: the training data, the data that data was made from, and so on to the sources.

    >>> [d.ref for d in lineage.trained_on("churn@v3")]          # doctest: +SKIP
    ['default/churn-train@v2', 'default/churn-clean@v2', 'default/churn-raw@v1']
    """
    from ._snapshot import dataset_facts

    store = store_or_default(store)
    subject = resolve_subject(ref, store, project=project)
    made = derivation(store, subject)
    names = {n.id: n.name for n, _depth in made.runs}
    if subject.run is not None:
        names[subject.run.id] = subject.run.name
    direct_run = made.start.id if subject.is_run else (made.runs[0][0].id if made.runs else None)
    uses: dict[str, tuple[Node, str | None, str, int]] = {}
    for node, role, run_id, depth in sorted(made.consumed, key=lambda c: c[3]):
        if node.kind in kinds and node.id not in uses:
            uses[node.id] = (node, role, run_id, depth)
    versions = lineage_store(store).artifact_versions_by_id(uses)
    found: list[DatasetUse] = []
    for node, role, run_id, depth in uses.values():
        version = versions[node.id]
        found.append(DatasetUse(
            ref=node.ref, project=node.project, name=node.name, version=node.version or 0,
            digest=node.digest or "", kind=node.kind, role=role, depth=depth,
            direct=run_id == direct_run, step=names.get(run_id), step_run_id=run_id,
            created_at=node.time, tainted=node.tainted, rows=dataset_facts(version).get("rows"),
        ))
    return TrainedOn(subject, found)


# -- 2. which hyperparameters --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ParamsReport:
    """Hyperparameters of the producing run, its pipeline run and the steps upstream of it."""

    subject: Subject
    run: Run
    pipeline: Run | None
    steps: list[tuple[Run, int]]
    """Upstream runs (not the producing run) with their depth, nearest first."""

    def __repr__(self) -> str:
        return f"<ParamsReport {self.subject.label}: run {self.run.name} {self.run.id[:12]}, {len(self.steps)} steps>"

    @property
    def params(self) -> dict[str, Any]:
        """The producing run's own params."""
        return dict(self.run.params)

    def flat(self) -> dict[str, Any]:
        """Every param as ``step.key`` (the producing run's keep their bare key; the pipeline's
        are ``pipeline.key`` under its name)."""
        out = {f"{self.pipeline.name}.{k}": v for k, v in self.pipeline.params.items()} if self.pipeline else {}
        for run, _depth in reversed(self.steps):
            out.update({f"{run.name}.{k}": v for k, v in run.params.items()})
        out.update(self.run.params)
        return out

    def rows(self) -> list[tuple[str, str, str, Any]]:
        """``(scope, step, key, value)``: scope is ``run``, ``pipeline`` or ``upstream``."""
        rows = [("run", self.run.name, k, v) for k, v in sorted(self.run.params.items())]
        if self.pipeline:
            rows += [("pipeline", self.pipeline.name, k, v) for k, v in sorted(self.pipeline.params.items())]
        for run, _depth in self.steps:
            rows += [("upstream", run.name, k, v) for k, v in sorted(run.params.items())]
        return rows

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject.to_dict(),
            "run": {**_run_brief(self.run), "params": self.run.params},
            "pipeline": {**_run_brief(self.pipeline), "params": self.pipeline.params}
            if self.pipeline else None,
            "upstream": [{**_run_brief(r), "depth": d, "params": r.params} for r, d in self.steps],
        }


def params(
    ref: str | ArtifactVersion | Run, *, project: str | None = None, store: Store | None = None
) -> ParamsReport:
    """The hyperparameters that made a model: its training run's params, the params of the
    pipeline run that ran it, and those of every step upstream of it, labelled by step.

    >>> lineage.params("churn@v3").params                          # doctest: +SKIP
    {'C': 0.5, 'max_iter': 2000}
    """
    store = store_or_default(store)
    subject = resolve_subject(ref, store, project=project)
    run = require_run(subject, "its hyperparameters")
    upstream = [(n.id, depth) for n, depth in derivation(store, subject).runs if n.id != run.id]
    found = lineage_store(store).runs_by_id(run_id for run_id, _depth in upstream)
    steps = [(found[run_id], depth) for run_id, depth in upstream]
    return ParamsReport(subject, run, _parent(store, run), steps)


def _parent(store: Store, run: Run) -> Run | None:
    if run.parent_id is None:
        return None
    try:
        return store.metadata.get_run(run.parent_id)
    except NotFound:
        return None


# -- 3. which pipeline ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PipelineStep:
    run: Run
    produced_subject: bool
    """This step is the run that produced the subject."""
    commit: str | None
    outputs: list[str] = field(default_factory=list)
    commit_not_captured: str | None = None
    """Why the git state of this step was not captured (then ``commit`` is unknown, not None)."""

    def __repr__(self) -> str:
        return f"<PipelineStep {self.run.name} {self.run.status}>"

    def to_dict(self) -> dict[str, Any]:
        return {**_run_brief(self.run), "produced_subject": self.produced_subject,
                "commit": self.commit, "commit_not_captured": self.commit_not_captured,
                "outputs": self.outputs}


@dataclass(frozen=True, slots=True)
class PipelineReport:
    """The pipeline that produced a model: the parent run, its steps in order, and the code."""

    subject: Subject
    run: Run
    """The run that produced the subject."""
    pipeline: Run | None
    """Its parent run (None when the run was not part of a pipeline)."""
    steps: list[PipelineStep]
    """The parent's child runs by start time (just ``run`` when there is no parent)."""
    code: dict[str, Any]
    """Of the producing run: commit, branch, dirty, diff_digest, remote_url, entry_point,
    entry_point_kind, entry_point_sha256."""
    upstream_elsewhere: list[Run] = field(default_factory=list)
    """Runs upstream of the subject that are not steps of this pipeline (data prepared by
    another pipeline, say)."""
    not_captured: dict[str, str] = field(default_factory=dict)
    """Parts of the producing run's code not captured (``git``, ``entry_point``), with the
    reason: their fields in ``code`` are unknown."""

    def __repr__(self) -> str:
        return f"<PipelineReport {self.subject.label}: {len(self.steps)} steps>"

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject.to_dict(),
            "run": _run_brief(self.run),
            "pipeline": {**_run_brief(self.pipeline), "params": self.pipeline.params}
            if self.pipeline else None,
            "steps": [s.to_dict() for s in self.steps],
            "code": self.code,
            "not_captured": self.not_captured,
            "upstream_elsewhere": [_run_brief(r) for r in self.upstream_elsewhere],
        }


def pipeline(
    ref: str | ArtifactVersion | Run, *, project: str | None = None, store: Store | None = None
) -> PipelineReport:
    """Which pipeline produced a model: the parent run of its training run, that pipeline's
    steps in order with status and duration, and the code (commit, branch, dirty flag and diff
    digest, entry point and its hash).

    >>> [s.run.name for s in lineage.pipeline("churn@v3").steps]   # doctest: +SKIP
    ['ingest', 'clean', 'features', 'train']
    """
    from ..store.base import RunFilter
    from ._snapshot import code_fields, snapshots

    store = store_or_default(store)
    meta = store.metadata
    subject = resolve_subject(ref, store, project=project)
    run = require_run(subject, "which pipeline produced it")
    parent = _parent(store, run)
    if parent is not None:
        children = meta.list_runs(RunFilter(parent_id=parent.id, limit=10_000))
        children.sort(key=lambda r: (r.started_at, r.id))
    else:
        children = [run]
    steps = []
    snaps = snapshots(store, [*children, run])
    for child in children:
        snap = snaps[child.id]
        steps.append(PipelineStep(
            run=child,
            produced_subject=child.id == run.id,
            commit=code_fields(snap.code, child)["commit"],
            outputs=[v.ref for _role, v in snap.outputs],
            commit_not_captured=snap.not_captured.get("git"),
        ))
    member_ids = {c.id for c in children} | ({parent.id} if parent else set())
    others = [n.id for n, _depth in derivation(store, subject).runs if n.id not in member_ids]
    found = lineage_store(store).runs_by_id(others)
    elsewhere = [found[run_id] for run_id in others]
    own = snaps[run.id]
    code = code_fields(own.code, run)
    unknown = {part: reason for part, reason in own.not_captured.items()
               if part in ("git", "entry_point")}
    return PipelineReport(subject, run, parent, steps, code, elsewhere, unknown)


# -- 4. which environment ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EnvironmentReport:
    """The environment a model was trained in, as captured at the start of its run."""

    subject: Subject
    run: Run
    environment_ref: str | None
    environment_digest: str | None
    python: dict[str, Any]
    os: dict[str, Any]
    frameworks: dict[str, str]
    """ML frameworks the run had imported when it started (``sklearn``, ``torch``...)."""
    packages: dict[str, str]
    """Installed distributions, filtered by ``package`` when given."""
    package_count: int | None
    """All installed distributions, before filtering; None when they were not captured."""
    container: dict[str, Any] | None = None
    hardware: dict[str, Any] | None = None
    not_captured: dict[str, str] = field(default_factory=dict)
    """Sections that were not captured (``python``, ``os``, ``packages``, ``container``,
    ``conda``, ``hardware``, ``gpus``), with the reason: unknown, not empty."""

    def __repr__(self) -> str:
        return f"<EnvironmentReport {self.subject.label}: python {self.python.get('version', '?')}, {self.package_count} packages>"

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject.to_dict(),
            "run": _run_brief(self.run),
            "environment_ref": self.environment_ref,
            "environment_digest": self.environment_digest,
            "python": self.python,
            "os": self.os,
            "frameworks": self.frameworks,
            "package_count": self.package_count,
            "packages": self.packages,
            "container": self.container,
            "hardware": self.hardware,
            "not_captured": self.not_captured,
        }


def environment(
    ref: str | ArtifactVersion | Run,
    *,
    package: str | list[str] | tuple[str, ...] | None = None,
    project: str | None = None,
    store: Store | None = None,
) -> EnvironmentReport:
    """Which Python, OS, ML framework and library versions a model was trained with.

    ``package`` filters ``packages``: a name part (``torch`` matches torch and torchvision) or a
    glob (``scikit-*``), or several of them.

    >>> lineage.environment("churn@v3").frameworks                 # doctest: +SKIP
    {'sklearn': '1.5.0', 'numpy': '2.0.1', 'pandas': '2.2.2'}
    """
    from ..capture import not_captured_reason
    from ._snapshot import snapshot

    store = store_or_default(store)
    subject = resolve_subject(ref, store, project=project)
    run = require_run(subject, "its environment")
    snap = snapshot(store, run)
    env = snap.environment.metadata if snap.environment else {}
    if snap.environment is None:
        raise NotFound(
            f"run {run.name} {run.id} recorded no environment"
            + (" yet: it is recorded when the run ends" if run.status is RunStatus.RUNNING else ""),
            hint="runs capture it unless started with capture=False",
        )
    unknown: dict[str, str] = {}

    def known(section: str, value: Any) -> Any:
        reason = not_captured_reason(value)
        if reason is not None:
            unknown[section] = reason
            return None
        return value

    hardware = known("hardware", env.get("hardware"))
    if isinstance(env.get("hardware"), dict):
        gpus = known("gpus", env["hardware"].get("gpus"))
        hardware = {k: v for k, v in env["hardware"].items() if k not in ("captured", "reason")}
        hardware["gpus"] = gpus
    packages_unknown = snap.not_captured.get("packages")
    if packages_unknown is not None:
        unknown["packages"] = packages_unknown
    all_packages = snap.packages
    return EnvironmentReport(
        subject=subject,
        run=run,
        environment_ref=snap.environment.ref,
        environment_digest=snap.environment.digest,
        python=dict(known("python", env.get("python")) or {}),
        os=dict(known("os", env.get("os")) or {}),
        frameworks={k.removeprefix("lineal.framework."): v for k, v in sorted(run.tags.items())
                    if k.startswith("lineal.framework.")},
        packages=filter_packages(all_packages, package),
        package_count=None if packages_unknown is not None else len(all_packages),
        container=known("container", env.get("container")),
        hardware=hardware,
        not_captured=dict(sorted(unknown.items())),
    )


def filter_packages(
    packages: dict[str, str], patterns: str | list[str] | tuple[str, ...] | None
) -> dict[str, str]:
    """``packages`` whose normalised name contains a pattern, or matches it as a glob."""
    if not patterns:
        return dict(sorted(packages.items()))
    wanted = [_normalise(p) for p in ([patterns] if isinstance(patterns, str) else patterns)]
    out = {}
    for name, version in sorted(packages.items()):
        norm = _normalise(name)
        for pattern in wanted:
            if (fnmatch.fnmatchcase(norm, pattern) if any(c in pattern for c in "*?[")
                    else pattern in norm):
                out[name] = version
                break
    return out


def _normalise(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name).lower()
