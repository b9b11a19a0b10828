"""Two model versions side by side: what changed between them and why.

    diff = lineal.registry.compare("churn@v3", "churn@v4")
    diff.params["changed"]            # {"C": (0.5, 1.0)}
    diff.packages["changed"]          # {"scikit-learn": ("1.4.2", "1.5.0")}

Each side is read from the model's lineage: the run that produced the model artifact, that
run's params and latest metrics, its inputs (datasets and other artifacts, with digests), the
code it ran (git commit) and its captured environment's installed packages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..entities import ArtifactVersion, EdgeDirection, ModelVersion
from ..errors import NotFound
from ..store import Store
from .api import registry_store, resolve_model_ref

__all__ = ["ModelComparison", "ModelSide", "compare"]

_CAPTURED = ("environment", "code")


@dataclass(frozen=True, slots=True)
class ModelSide:
    """Everything lineal knows about how one model version was made."""

    ref: str
    artifact_ref: str
    artifact_digest: str
    model_version: ModelVersion | None
    run_id: str | None
    run_name: str | None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    """``{"role", "ref", "name", "version", "kind", "digest"}`` of each input but code and
    environment."""
    code_commit: str | None = None
    code_dirty: bool | None = None
    packages: dict[str, str] = field(default_factory=dict)
    python: str | None = None
    not_captured: dict[str, str] = field(default_factory=dict)
    """Parts of the run's code or environment (``git``, ``packages``, ``python``) that were not
    captured, with the reason: unknown, so not compared."""

    def __repr__(self) -> str:
        return f"<ModelSide {self.ref} = {self.artifact_ref}>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "artifact_ref": self.artifact_ref,
            "artifact_digest": self.artifact_digest,
            "stage": str(self.model_version.stage) if self.model_version else None,
            "aliases": list(self.model_version.aliases) if self.model_version else [],
            "run_id": self.run_id,
            "run_name": self.run_name,
            "params": self.params,
            "metrics": self.metrics,
            "inputs": self.inputs,
            "code_commit": self.code_commit,
            "code_dirty": self.code_dirty,
            "python": self.python,
            "packages": self.packages,
            "not_captured": self.not_captured,
        }


@dataclass(frozen=True, slots=True)
class ModelComparison:
    """``a`` and ``b`` side by side; each diff holds ``changed`` {key: (a, b)}, ``only_a`` and
    ``only_b`` {key: value}."""

    a: ModelSide
    b: ModelSide
    params: dict[str, dict[str, Any]]
    metrics: dict[str, dict[str, Any]]
    inputs: dict[str, dict[str, Any]]
    """Keyed by input artifact name (``project/name``): versions and digests."""
    packages: dict[str, dict[str, Any]]
    same_code: bool | None
    """None when either side has no recorded commit."""

    def __repr__(self) -> str:
        return f"<ModelComparison {self.a.ref} vs {self.b.ref}>"

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "params": _jsonable(self.params),
            "metrics": _jsonable(self.metrics),
            "inputs": _jsonable(self.inputs),
            "packages": _jsonable(self.packages),
            "same_code": self.same_code,
        }


def compare(
    ref_a: str | ModelVersion | ArtifactVersion,
    ref_b: str | ModelVersion | ArtifactVersion,
    *,
    project: str | None = None,
    store: Store | None = None,
) -> ModelComparison:
    """Compare two model versions (registry or plain artifact references): params, metrics, input
    datasets with digests, code commit and installed packages of the runs that produced them."""
    store, _ = registry_store(store)
    a = _side(store, ref_a, project)
    b = _side(store, ref_b, project)
    inputs_a = {i["name"]: i for i in a.inputs}
    inputs_b = {i["name"]: i for i in b.inputs}
    same_code = None if not (a.code_commit and b.code_commit) else (
        a.code_commit == b.code_commit and not a.code_dirty and not b.code_dirty
    )
    return ModelComparison(
        a=a,
        b=b,
        params=diff(a.params, b.params),
        metrics=diff(a.metrics, b.metrics),
        inputs=diff(
            {k: f"v{v['version']} {v['digest']}" for k, v in inputs_a.items()},
            {k: f"v{v['version']} {v['digest']}" for k, v in inputs_b.items()},
        ),
        # Packages not captured on a side are unknown there: no difference can be told.
        packages=diff({}, {}) if "packages" in a.not_captured or "packages" in b.not_captured
        else diff(a.packages, b.packages),
        same_code=same_code,
    )


def diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """``changed`` {key: (a, b)}, ``only_a``, ``only_b``, and ``same`` (the count of equal keys)."""
    changed = {k: (a[k], b[k]) for k in sorted(a.keys() & b.keys()) if a[k] != b[k]}
    return {
        "changed": changed,
        "only_a": {k: a[k] for k in sorted(a.keys() - b.keys())},
        "only_b": {k: b[k] for k in sorted(b.keys() - a.keys())},
        "same": len(a.keys() & b.keys()) - len(changed),
    }


def _side(store: Store, ref: str | ModelVersion | ArtifactVersion, project: str | None) -> ModelSide:
    version, artifact = resolve_model_ref(ref, project=project, store=store)
    meta = store.metadata
    label = version.ref if version else artifact.ref
    if artifact.producer_run_id is None:
        return ModelSide(label, artifact.ref, artifact.digest, version, None, None)
    try:
        run = meta.get_run(artifact.producer_run_id)
    except NotFound:
        return ModelSide(label, artifact.ref, artifact.digest, version, artifact.producer_run_id, None)
    inputs: list[dict[str, Any]] = []
    commit: str | None = run.tags.get("lineal.git.commit")
    dirty: bool | None = None if "lineal.git.dirty" not in run.tags else run.tags["lineal.git.dirty"] == "true"
    from ..capture import not_captured_reason

    packages: dict[str, str] = {}
    python: str | None = None
    unknown: dict[str, str] = {}
    for edge in meta.list_edges(run_id=run.id):
        if edge.direction is not EdgeDirection.INPUT:
            continue
        used = meta.get_artifact_version(edge.artifact_id)
        if used.kind == "environment":
            found = used.metadata.get("packages")
            if not_captured_reason(found) is not None or not isinstance(found, dict):
                unknown["packages"] = not_captured_reason(found) or "no packages recorded"
            else:
                packages = {str(k): str(v) for k, v in found.items()}
            py = used.metadata.get("python") or {}
            if not_captured_reason(py) is not None:
                unknown["python"] = str(not_captured_reason(py))
            else:
                python = py.get("version") if isinstance(py, dict) else str(py)
        elif used.kind == "code":
            git = used.metadata.get("git") or {}
            if not_captured_reason(git) is not None:
                unknown["git"] = str(not_captured_reason(git))
                continue
            commit = git.get("commit") or commit
            dirty = bool(git.get("dirty")) if git else dirty
        if used.kind in _CAPTURED:
            continue
        inputs.append(
            {
                "role": edge.role,
                "ref": used.ref,
                "name": f"{used.project}/{used.name}",
                "version": used.version,
                "kind": used.kind,
                "digest": used.digest,
            }
        )
    inputs.sort(key=lambda i: (i["name"], i["version"]))
    return ModelSide(
        ref=label,
        artifact_ref=artifact.ref,
        artifact_digest=artifact.digest,
        model_version=version,
        run_id=run.id,
        run_name=run.name,
        params=dict(run.params),
        metrics=dict(run.metrics),
        inputs=inputs,
        code_commit=commit,
        code_dirty=dirty,
        packages=packages,
        python=python,
        not_captured=unknown,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
