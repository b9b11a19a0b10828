"""Everything recorded about one run, and how two such records differ.

A :class:`RunSnapshot` gathers a run's params, metrics, the artifact versions it consumed and
produced (by role), and the code and environment it ran with (the ``code`` and ``environment``
artifacts every run consumes). :func:`compare_runs` puts two snapshots side by side; the
failure question and the lineage diff both build on it.

A part of the code or environment that was not captured (the probe timed out or failed, the
run was started with ``capture=False``, or it has not ended yet) is unknown: it is listed in
``not_captured`` with its reason and never counted as a difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..entities import ArtifactVersion, Edge, EdgeDirection, Run, RunStatus
from ..store import Store

__all__ = [
    "Change",
    "RunComparison",
    "RunSnapshot",
    "changes",
    "code_fields",
    "compare_runs",
    "dataset_facts",
    "not_captured_text",
    "snapshot",
]

_CAPTURED = ("code", "environment")
# The code_fields keys each captured part decides; unknown when the part was not captured.
_CODE_PARTS = {
    "git": ("commit", "branch", "dirty", "diff_digest", "remote_url"),
    "entry_point": ("entry_point", "entry_point_kind", "entry_point_sha256"),
}


def not_captured_text(reason: str | None) -> str:
    """How an answer shows a part that was not captured: ``not captured (timed out after 30s)``."""
    return f"not captured ({reason})" if reason else "captured"


def _marker_reason(value: Any) -> str | None:
    from ..capture import not_captured_reason

    return not_captured_reason(value)


def _absent_reason(run: Run, what: str) -> str:
    if run.status is RunStatus.RUNNING:
        return f"no {what} recorded yet: it is recorded when the run ends"
    return f"no {what} recorded (started with capture=False, or by an older lineal)"

Change = dict[str, dict[str, Any]]
"""``{"changed": {key: [a, b]}, "only_a": {key: a}, "only_b": {key: b}}``."""


def changes(a: dict[str, Any], b: dict[str, Any]) -> Change:
    """What differs between two flat mappings: changed values, keys only in one of them."""
    return {
        "changed": {k: [a[k], b[k]] for k in sorted(a.keys() & b.keys(), key=str) if a[k] != b[k]},
        "only_a": {k: a[k] for k in sorted(a.keys() - b.keys(), key=str)},
        "only_b": {k: b[k] for k in sorted(b.keys() - a.keys(), key=str)},
    }


def is_empty(change: Change) -> bool:
    return not (change["changed"] or change["only_a"] or change["only_b"])


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """A run with its inputs, outputs, code and environment."""

    run: Run
    inputs: list[tuple[str, ArtifactVersion]] = field(default_factory=list)
    """``(role, version)`` of each consumed artifact but code and environment."""
    outputs: list[tuple[str, ArtifactVersion]] = field(default_factory=list)
    code: ArtifactVersion | None = None
    environment: ArtifactVersion | None = None

    def __repr__(self) -> str:
        return (f"<RunSnapshot {self.run.id[:12]} {self.run.name}: {len(self.inputs)} in, "
                f"{len(self.outputs)} out>")

    @property
    def packages(self) -> dict[str, str]:
        """Installed packages; empty when they were not captured (see :attr:`not_captured`)."""
        env = self.environment.metadata if self.environment else {}
        packages = env.get("packages")
        if not isinstance(packages, dict) or _marker_reason(packages) is not None:
            return {}
        return {str(k): str(v) for k, v in packages.items()}

    @property
    def python(self) -> str | None:
        env = self.environment.metadata if self.environment else {}
        py = env.get("python")
        if _marker_reason(py) is not None:
            return None
        return py.get("version") if isinstance(py, dict) else py

    @property
    def not_captured(self) -> dict[str, str]:
        """Parts that were not captured, with the reason: ``git``, ``entry_point``, ``packages``,
        ``python``. What is listed here is unknown, not absent."""
        found: dict[str, str] = {}
        if self.code is None:
            absent = _absent_reason(self.run, "code")
            if not self.run.tags.get("lineal.git.commit"):
                found["git"] = absent
            found["entry_point"] = absent
        else:
            body = self.code.metadata or {}
            for part in ("git", "entry_point"):
                reason = _marker_reason(body.get(part))
                if reason is not None:
                    found[part] = reason
        if self.environment is None:
            found["packages"] = found["python"] = _absent_reason(self.run, "environment")
        else:
            env = self.environment.metadata or {}
            for part in ("packages", "python"):
                value = env.get(part)
                reason = _marker_reason(value)
                if reason is None and value is None:
                    # Before lineal recorded reasons, a probe that timed out was stored as null.
                    reason = f"no {part} recorded"
                if reason is not None:
                    found[part] = reason
        return found

    def input_map(self) -> dict[str, ArtifactVersion]:
        """Inputs keyed ``role:project/name`` (how two runs of one step are aligned)."""
        return {f"{role}:{v.project}/{v.name}": v for role, v in self.inputs}

    def output_map(self) -> dict[str, ArtifactVersion]:
        return {f"{role}:{v.project}/{v.name}": v for role, v in self.outputs}


def snapshot(store: Store, run: Run | str) -> RunSnapshot:
    """Read a run (or run id) with everything it consumed and produced."""
    if isinstance(run, str):
        run = store.metadata.get_run(run)
    return snapshots(store, [run])[run.id]


def snapshots(store: Store, runs: list[Run]) -> dict[str, RunSnapshot]:
    """:func:`snapshot` of each run, by run id, read in bulk: the same few statements for a
    pipeline of any number of steps."""
    from .questions import lineage_store

    bulk = lineage_store(store)
    edges = bulk.edges_of(run_ids=[r.id for r in runs])
    versions = bulk.artifact_versions_by_id(e.artifact_id for e in edges)
    by_run: dict[str, list[Edge]] = {}
    for edge in edges:
        by_run.setdefault(edge.run_id, []).append(edge)
    return {run.id: _snapshot(run, by_run.get(run.id, []), versions) for run in runs}


def _snapshot(run: Run, edges: list[Edge], versions: dict[str, ArtifactVersion]) -> RunSnapshot:
    inputs: list[tuple[str, ArtifactVersion]] = []
    outputs: list[tuple[str, ArtifactVersion]] = []
    code = environment = None
    seen: set[tuple[str, str, str]] = set()
    for edge in edges:
        key = (str(edge.direction), edge.role, edge.artifact_id)
        if key in seen:
            continue
        seen.add(key)
        version = versions.get(edge.artifact_id)
        if version is None:  # pragma: no cover - edges point at versions that exist (FK)
            continue
        if edge.direction is EdgeDirection.INPUT:
            if version.kind == "code" and edge.role == "code":
                code = version
            elif version.kind == "environment" and edge.role == "environment":
                environment = version
            else:
                inputs.append((edge.role, version))
        else:
            outputs.append((edge.role, version))
    # Logging one file with role="model" records two output edges (output and model): keep one.
    outputs = _one_role_per_version(outputs)
    return RunSnapshot(run, inputs, outputs, code, environment)


def _one_role_per_version(pairs: list[tuple[str, ArtifactVersion]]) -> list[tuple[str, ArtifactVersion]]:
    by_id: dict[str, tuple[str, ArtifactVersion]] = {}
    for role, version in pairs:
        if version.id not in by_id or by_id[version.id][0] == "output":
            by_id[version.id] = (role, version)
    return list(by_id.values())


def code_fields(code: ArtifactVersion | None, run: Run | None = None) -> dict[str, Any]:
    """The code a run ran, flat: commit, branch, dirty, diff digest, remote, entry point."""
    body = code.metadata if code else {}
    git = body.get("git") or {}
    entry = body.get("entry_point") or {}
    # A part that was not captured has no fields: its marker is not a commit or a path.
    git = {} if _marker_reason(git) is not None else git
    entry = {} if _marker_reason(entry) is not None else entry
    tags = run.tags if run else {}
    dirty = git.get("dirty")
    if dirty is None and "lineal.git.dirty" in tags:
        dirty = tags["lineal.git.dirty"] == "true"
    return {
        "commit": git.get("commit") or tags.get("lineal.git.commit"),
        "branch": git.get("branch"),
        "dirty": dirty,
        "diff_digest": git.get("diff_digest"),
        "remote_url": git.get("remote_url"),
        "entry_point": entry.get("path") or entry.get("module") or entry.get("kind"),
        "entry_point_kind": entry.get("kind"),
        "entry_point_sha256": entry.get("sha256"),
    }


def dataset_facts(version: ArtifactVersion) -> dict[str, Any]:
    """Row count, column count and schema (column -> type) of a dataset version, from what its
    metadata holds: a :class:`lineal.datasets.DatasetDescription` (``metadata["dataset"]`` or
    the metadata itself), or ``rows``/``columns``/``schema`` keys. Empty when none is there."""
    meta: dict[str, Any] = version.metadata or {}
    nested = meta.get("dataset")
    desc: dict[str, Any] = nested if isinstance(nested, dict) else meta
    facts: dict[str, Any] = {}
    rows = desc.get("num_rows", desc.get("rows"))
    if isinstance(rows, int):
        facts["rows"] = rows
    schema = desc.get("schema")
    if isinstance(schema, dict):
        facts["schema"] = {str(k): str(v) for k, v in schema.items()}
    elif isinstance(schema, list):
        facts["schema"] = {
            str(c.get("name")): str(c.get("type")) for c in schema if isinstance(c, dict)
        }
    columns = desc.get("num_columns", desc.get("columns"))
    if isinstance(columns, int):
        facts["columns"] = columns
    elif "schema" in facts:
        facts["columns"] = len(facts["schema"])
    return facts


def description_of(version: ArtifactVersion) -> Any:
    """The full :class:`lineal.datasets.DatasetDescription` recorded with a dataset version (its
    profile is what lets :func:`lineal.datasets.diff` explain a shift), or None."""
    meta: dict[str, Any] = version.metadata or {}
    for desc in (meta.get("dataset"), meta.get("description"), meta):
        if isinstance(desc, dict) and {"digest", "schema", "num_rows", "num_columns", "nbytes"} <= desc.keys():
            try:
                from ..datasets import DatasetDescription

                return DatasetDescription.from_dict(desc)
            except Exception:  # noqa: BLE001 - pyarrow missing or an older layout: facts only
                return None
    return None


@dataclass(frozen=True, slots=True)
class RunComparison:
    """Run ``a`` against run ``b`` (usually: a good one against a bad one, or old against new)."""

    a: RunSnapshot
    b: RunSnapshot
    params: Change
    metrics: Change
    inputs: Change
    """Keyed ``role:project/name``; values ``{"ref", "digest"}``."""
    outputs: Change
    code: Change
    packages: Change
    """``only_a`` = removed, ``only_b`` = added, ``changed`` = version changed."""
    python: list[str | None] | None
    """``[a, b]`` when the Python versions differ."""
    not_captured: dict[str, list[str | None]] = field(default_factory=dict)
    """Parts (``git``, ``entry_point``, ``packages``, ``python``) not captured on either side:
    ``[reason in a, reason in b]``, None on the side where it was. Unknown, so left out of the
    comparison rather than reported as changed."""

    @property
    def differs_in(self) -> list[str]:
        """Which causes differ: params, inputs, code, environment (outputs and metrics are
        effects, reported but not listed)."""
        found = [name for name, change in (("params", self.params), ("inputs", self.inputs),
                                           ("code", self.code)) if not is_empty(change)]
        if not is_empty(self.packages) or self.python:
            found.append("environment")
        return found

    @property
    def outputs_differ(self) -> bool:
        return not is_empty(self.outputs)

    def __repr__(self) -> str:
        differs = ", ".join(self.differs_in) or "nothing that caused it"
        return (f"<RunComparison {self.a.run.id[:12]} vs {self.b.run.id[:12]}: differs in "
                f"{differs}>")

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": {"run_id": self.a.run.id, "name": self.a.run.name, "status": str(self.a.run.status)},
            "b": {"run_id": self.b.run.id, "name": self.b.run.name, "status": str(self.b.run.status)},
            "differs_in": self.differs_in,
            "params": self.params,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "code": self.code,
            "environment": {
                "added": self.packages["only_b"],
                "removed": self.packages["only_a"],
                "changed": self.packages["changed"],
                "python": self.python,
            },
            "metrics": self.metrics,
            "not_captured": self.not_captured,
        }


def _versions(mapping: dict[str, ArtifactVersion]) -> dict[str, dict[str, Any]]:
    return {k: {"ref": v.ref, "digest": v.digest} for k, v in mapping.items()}


def _digest_changes(a: dict[str, ArtifactVersion], b: dict[str, ArtifactVersion]) -> Change:
    # Two versions with one digest are the same content: only digests decide "changed".
    change = changes({k: v.digest for k, v in a.items()}, {k: v.digest for k, v in b.items()})
    va, vb = _versions(a), _versions(b)
    return {
        "changed": {k: [va[k], vb[k]] for k in change["changed"]},
        "only_a": {k: va[k] for k in change["only_a"]},
        "only_b": {k: vb[k] for k in change["only_b"]},
    }


def compare_runs(a: RunSnapshot, b: RunSnapshot) -> RunComparison:
    """What differs between two runs: params, metrics, inputs and outputs (by role and name,
    compared by digest), code (commit, branch, dirty, diff digest, entry point and its hash) and
    environment (packages added, removed, changed; Python). A part not captured on either side is
    listed in ``not_captured`` instead of being compared."""
    unknown_a, unknown_b = a.not_captured, b.not_captured
    unknown = {part: [unknown_a.get(part), unknown_b.get(part)]
               for part in sorted(unknown_a.keys() | unknown_b.keys())}
    same_env = a.environment is not None and b.environment is not None and (
        a.environment.digest == b.environment.digest)
    packages = (changes({}, {}) if same_env or "packages" in unknown
                else changes(a.packages, b.packages))
    code_a, code_b = code_fields(a.code, a.run), code_fields(b.code, b.run)
    for part, keys in _CODE_PARTS.items():
        if part in unknown:
            for key in keys:
                code_a.pop(key), code_b.pop(key)
    code = changes(code_a, code_b)
    python = (None if same_env or "python" in unknown or a.python == b.python
              else [a.python, b.python])
    return RunComparison(
        a=a,
        b=b,
        params=changes(a.run.params, b.run.params),
        metrics=changes(a.run.metrics, b.run.metrics),
        inputs=_digest_changes(a.input_map(), b.input_map()),
        outputs=_digest_changes(a.output_map(), b.output_map()),
        code=code,
        packages=packages,
        python=python,
        not_captured=unknown,
    )
