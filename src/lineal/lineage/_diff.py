"""What changed between two versions, across their whole upstream graphs.

    d = lineage.diff("churn@v3", "churn@v4")      # registry refs, artifact refs, or two runs
    d.first_divergence.step, d.first_divergence.reasons
    d.data                                        # datasets: digests, row counts, schemas
    d.params, d.code, d.environment, d.metrics    # by step

Both upstream graphs are read with one recursive walk each. Their runs are aligned by step
(run name; the two subjects' own producing runs are always aligned with each other), then
compared: params, inputs and outputs by digest, code, environment packages, metrics. Walking the
aligned steps from the sources down, the first step whose inputs, params, code or environment
differ, or which exists on one side only, or whose outputs differ although nothing it consumed
did (the data source changed under it), is where the two lineages diverge. A part of the code
or environment that was not captured on either side is unknown: listed in ``not_captured``,
never a divergence.

The module is private (``_diff``); the public name is the function ``lineal.lineage.diff``. A
public submodule named ``diff`` would replace that lazily exported function once imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..entities import ArtifactVersion, Run
from ..store import Store
from ._snapshot import (
    Change,
    RunComparison,
    RunSnapshot,
    changes,
    compare_runs,
    dataset_facts,
    description_of,
    is_empty,
    snapshots,
)
from ._subject import Subject, resolve_subject, store_or_default
from .questions import derivation, lineage_store

__all__ = ["DataChange", "Divergence", "LineageDiff", "StepDiff", "diff"]


@dataclass(frozen=True, slots=True)
class StepDiff:
    """One step (run name) in the two lineages."""

    step: str
    a: RunSnapshot | None
    b: RunSnapshot | None
    depth: int
    """Distance from the subject (the larger, the nearer the sources)."""
    comparison: RunComparison | None = None

    @property
    def status(self) -> str:
        """``shared`` (the same run in both), ``same``, ``changed``, ``only_a`` or ``only_b``."""
        if self.a is None:
            return "only_b"
        if self.b is None:
            return "only_a"
        if self.a.run.id == self.b.run.id:
            return "shared"
        assert self.comparison is not None
        c = self.comparison
        changed = c.differs_in or c.outputs_differ or not is_empty(c.metrics)
        return "changed" if changed else "same"

    def reasons(self) -> list[str]:
        """Why this step counts as a divergence (empty when it does not)."""
        status = self.status
        if status == "only_a":
            return ["the step ran only in a"]
        if status == "only_b":
            return ["the step ran only in b"]
        if status == "shared" or self.comparison is None:
            return []
        c = self.comparison
        found = []
        for key, value in c.params["changed"].items():
            found.append(f"param {key}: {value[0]!r} -> {value[1]!r}")
        for key, value in c.params["only_a"].items():
            found.append(f"param {key}: {value!r} only in a")
        for key, value in c.params["only_b"].items():
            found.append(f"param {key}: {value!r} only in b")
        for key, (va, vb) in c.inputs["changed"].items():
            found.append(f"input {key}: {va['ref']} -> {vb['ref']}"
                         + (" (same number, other content)" if va["ref"] == vb["ref"] else ""))
        for key, value in c.inputs["only_a"].items():
            found.append(f"input {key}: {value['ref']} only in a")
        for key, value in c.inputs["only_b"].items():
            found.append(f"input {key}: {value['ref']} only in b")
        for key, value in c.code["changed"].items():
            found.append(f"code {key}: {value[0]} -> {value[1]}")
        packages = c.packages
        if packages["changed"] or packages["only_a"] or packages["only_b"]:
            parts = [f"{k} {v[0]} -> {v[1]}" for k, v in packages["changed"].items()]
            parts += [f"+{k} {v}" for k, v in packages["only_b"].items()]
            parts += [f"-{k} {v}" for k, v in packages["only_a"].items()]
            found.append("packages: " + ", ".join(parts[:8]) + (" ..." if len(parts) > 8 else ""))
        if c.python:
            found.append(f"python {c.python[0]} -> {c.python[1]}")
        if not found and c.outputs_differ:
            found.append("outputs differ although inputs, params, code and environment are the "
                         "same: its data source changed, or the step is not deterministic")
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "status": self.status,
            "depth": self.depth,
            "a_run_id": self.a.run.id if self.a else None,
            "b_run_id": self.b.run.id if self.b else None,
            "reasons": self.reasons(),
            "not_captured": self.not_captured,
            "comparison": self.comparison.to_dict() if self.comparison else None,
        }

    @property
    def not_captured(self) -> dict[str, list[str | None]]:
        """Parts not captured in either run of the step: ``{part: [reason a, reason b]}``."""
        if self.comparison is None or self.status == "shared":
            return {}
        return dict(self.comparison.not_captured)


@dataclass(frozen=True, slots=True)
class Divergence:
    """The first step, from the sources down, where the two lineages differ."""

    step: str
    reasons: list[str]
    a_run: Run | None
    b_run: Run | None

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "reasons": self.reasons,
                "a_run_id": self.a_run.id if self.a_run else None,
                "b_run_id": self.b_run.id if self.b_run else None}


@dataclass(frozen=True, slots=True)
class DataChange:
    """A dataset (by project/name) upstream of either side: its version on each side and, when
    the content differs, what the recorded metadata says changed."""

    name: str
    a: ArtifactVersion | None
    b: ArtifactVersion | None
    rows: list[int | None] | None = None
    """``[a, b]`` row counts when recorded and different."""
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    columns_retyped: dict[str, list[str]] = field(default_factory=dict)
    profile: dict[str, Any] | None = None
    """:func:`lineal.datasets.diff` of the recorded descriptions, when both sides have one."""

    @property
    def changed(self) -> bool:
        return self.a is None or self.b is None or self.a.digest != self.b.digest

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "changed": self.changed,
            "a": {"ref": self.a.ref, "digest": self.a.digest} if self.a else None,
            "b": {"ref": self.b.ref, "digest": self.b.digest} if self.b else None,
            "rows": self.rows, "columns_added": self.columns_added,
            "columns_removed": self.columns_removed, "columns_retyped": self.columns_retyped,
            "profile": self.profile,
        }


@dataclass(frozen=True, slots=True)
class LineageDiff:
    a: Subject
    b: Subject
    steps: list[StepDiff]
    """Aligned steps from the sources down to the subjects."""
    data: list[DataChange]
    first_divergence: Divergence | None

    @property
    def same_content(self) -> bool | None:
        """Whether the two subjects are the same bytes (None for runs)."""
        if self.a.artifact is None or self.b.artifact is None:
            return None
        return self.a.artifact.digest == self.b.artifact.digest

    def __repr__(self) -> str:
        from ..notebook import diff_repr

        return diff_repr(self)

    def _repr_html_(self) -> str:
        from ..notebook import diff_html

        return diff_html(self)

    def _by_step(self, pick: Any) -> dict[str, Any]:
        out = {}
        for step in self.steps:
            if step.comparison is None or step.status == "shared":
                continue
            value = pick(step.comparison)
            if value:
                out[step.step] = value
        return out

    @property
    def params(self) -> dict[str, Change]:
        """Per step, params that differ."""
        return self._by_step(lambda c: None if is_empty(c.params) else c.params)

    @property
    def code(self) -> dict[str, Change]:
        return self._by_step(lambda c: None if is_empty(c.code) else c.code)

    @property
    def environment(self) -> dict[str, dict[str, Any]]:
        """Per step: packages ``added``, ``removed``, ``changed`` and ``python``."""
        return self._by_step(lambda c: None if is_empty(c.packages) and not c.python else {
            "added": c.packages["only_b"], "removed": c.packages["only_a"],
            "changed": c.packages["changed"], "python": c.python})

    @property
    def metrics(self) -> dict[str, Change]:
        return self._by_step(lambda c: None if is_empty(c.metrics) else c.metrics)

    @property
    def not_captured(self) -> dict[str, dict[str, list[str | None]]]:
        """Per step, the parts of code or environment not captured on either side, with the
        reasons ``[a, b]``: unknown, so not compared (and never the first divergence)."""
        return self._by_step(lambda c: c.not_captured or None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "same_content": self.same_content,
            "first_divergence": self.first_divergence.to_dict() if self.first_divergence else None,
            "data": [d.to_dict() for d in self.data],
            "params": self.params,
            "code": self.code,
            "environment": self.environment,
            "metrics": self.metrics,
            "not_captured": self.not_captured,
            "steps": [s.to_dict() for s in self.steps],
        }


def diff(
    a: str | ArtifactVersion | Run,
    b: str | ArtifactVersion | Run,
    *,
    project: str | None = None,
    store: Store | None = None,
) -> LineageDiff:
    """Explain what changed from ``a`` to ``b`` (two artifact versions, registry refs such as
    ``churn@v3`` and ``churn@v4``, or two runs) across their whole upstream graphs: data (digests,
    row counts and schemas when recorded), params, code (commit, dirty diff digest, entry point),
    environment (packages added, removed, changed) and metrics, step by step; and name the first
    step where the two lineages diverge. What was not captured on either side is unknown:
    listed per step in ``not_captured``, never a divergence.

    >>> d = lineage.diff("churn@v3", "churn@v4")                      # doctest: +SKIP
    >>> d.first_divergence.step, d.first_divergence.reasons           # doctest: +SKIP
    ('features', ['param scale: 1.0 -> 2.0'])
    """
    store = store_or_default(store)
    sa = resolve_subject(a, store, project=project)
    sb = resolve_subject(b, store, project=project)
    runs_a, data_a = _upstream(store, sa)
    runs_b, data_b = _upstream(store, sb)
    steps = _align(store, sa, runs_a, sb, runs_b)
    first = None
    for step in steps:
        reasons = step.reasons()
        if reasons:
            first = Divergence(step.step, reasons, step.a.run if step.a else None,
                               step.b.run if step.b else None)
            break
    if first is None and sa.artifact and sb.artifact and sa.artifact.digest != sb.artifact.digest:
        first = Divergence("(no recorded step)", ["the two versions differ but their recorded "
                                                  "lineages do not"], None, None)
    return LineageDiff(sa, sb, steps, _data(data_a, data_b), first)


def _upstream(store: Store, subject: Subject) -> tuple[list[tuple[Run, int]], list[ArtifactVersion]]:
    """The runs upstream of the subject (its own run first, at depth 0 for a run) and the
    dataset versions upstream (the subject itself when it is one)."""
    runs: list[tuple[Run, int]] = []
    if subject.run is not None:
        runs.append((subject.run, 0 if subject.is_run else 1))
    datasets: list[ArtifactVersion] = []
    if subject.artifact is not None and subject.artifact.kind == "dataset":
        datasets.append(subject.artifact)
    made = derivation(store, subject)
    seen = {r.id for r, _ in runs}
    steps: list[tuple[str, int]] = []
    for node, depth in made.runs:
        if node.id not in seen:
            seen.add(node.id)
            steps.append((node.id, depth))
    data = [node.id for node, _role, _run, _depth in sorted(made.consumed, key=lambda c: c[3])
            if node.kind == "dataset"]
    bulk = lineage_store(store)
    found_runs, found_data = bulk.runs_by_id(i for i, _d in steps), bulk.artifact_versions_by_id(data)
    runs += [(found_runs[run_id], depth) for run_id, depth in steps]
    datasets += [found_data[version_id] for version_id in data]
    return runs, datasets


def _align(
    store: Store, sa: Subject, runs_a: list[tuple[Run, int]], sb: Subject,
    runs_b: list[tuple[Run, int]],
) -> list[StepDiff]:
    pairs: list[tuple[str, tuple[Run, int] | None, tuple[Run, int] | None]] = []
    # The two subjects' own runs are the same step whatever their names (train-a vs train-b).
    if sa.run is not None and sb.run is not None:
        name = sa.run.name if sa.run.name == sb.run.name else f"{sa.run.name} | {sb.run.name}"
        pairs.append((name, runs_a[0], runs_b[0]))
        runs_a, runs_b = runs_a[1:], runs_b[1:]
    groups_a = _by_name(runs_a)
    groups_b = _by_name(runs_b)
    for name in list(dict.fromkeys([*groups_a, *groups_b])):
        left, right = groups_a.get(name, []), groups_b.get(name, [])
        for i in range(max(len(left), len(right))):
            label = name if max(len(left), len(right)) == 1 else f"{name}#{i + 1}"
            pairs.append((label, left[i] if i < len(left) else None,
                          right[i] if i < len(right) else None))
    snaps = snapshots(store, [x[0] for _label, *both in pairs for x in both if x is not None])
    steps = []
    for label, in_a, in_b in pairs:
        sa_ = snaps[in_a[0].id] if in_a else None
        sb_ = snaps[in_b[0].id] if in_b else None
        comparison = compare_runs(sa_, sb_) if sa_ and sb_ else None
        depth = max(x[1] for x in (in_a, in_b) if x is not None)
        steps.append(StepDiff(label, sa_, sb_, depth, comparison))
    first_start = {s.step: min(x.run.started_at for x in (s.a, s.b) if x) for s in steps}
    # From the sources down: deepest first; equal depths in the order they ran.
    steps.sort(key=lambda s: (-s.depth, first_start[s.step]))
    return steps


def _by_name(runs: list[tuple[Run, int]]) -> dict[str, list[tuple[Run, int]]]:
    groups: dict[str, list[tuple[Run, int]]] = {}
    for run, depth in sorted(runs, key=lambda x: (x[1], x[0].started_at, x[0].id)):
        groups.setdefault(run.name, []).append((run, depth))
    return groups


def _data(data_a: list[ArtifactVersion], data_b: list[ArtifactVersion]) -> list[DataChange]:
    by_a = _by_dataset(data_a)
    by_b = _by_dataset(data_b)
    out = []
    for name in sorted(by_a.keys() | by_b.keys()):
        va, vb = by_a.get(name), by_b.get(name)
        if va is None or vb is None or va.digest == vb.digest:
            out.append(DataChange(name, va, vb))
            continue
        fa, fb = dataset_facts(va), dataset_facts(vb)
        rows = [fa.get("rows"), fb.get("rows")] if fa.get("rows") != fb.get("rows") else None
        schema = changes(fa.get("schema") or {}, fb.get("schema") or {})
        if "schema" not in fa or "schema" not in fb:
            schema = changes({}, {})
        profile = None
        da, db = description_of(va), description_of(vb)
        if da is not None and db is not None:
            from ..datasets import diff as dataset_diff

            profile = dataset_diff(da, db).to_dict()
        out.append(DataChange(
            name, va, vb, rows,
            columns_added=sorted(schema["only_b"]),
            columns_removed=sorted(schema["only_a"]),
            columns_retyped=schema["changed"],
            profile=profile,
        ))
    # Changed first, then the unchanged for completeness.
    out.sort(key=lambda d: (not d.changed, d.name))
    return out


def _by_dataset(versions: list[ArtifactVersion]) -> dict[str, ArtifactVersion]:
    """project/name -> the version nearest the subject (the first reached)."""
    found: dict[str, ArtifactVersion] = {}
    for version in versions:
        found.setdefault(f"{version.project}/{version.name}", version)
    return found
