"""Memoised pipeline steps: ``@lineal.step``.

    @lineal.step(kind="preprocess", inputs=["raw"], outputs={"features": "dataset"})
    def build_features(run, raw: Path, scale: float = 1.0) -> dict[str, Path]:
        out = Path("features.parquet")
        ...
        return {"features": out}

    result = build_features(raw="cancer-raw@v1", scale=2.0)
    result.outputs["features"]     # ArtifactVersion
    result.cached                  # True when served from an earlier run

Parameters named in ``inputs`` take artifact references; the function receives local paths to
their content. Every other argument is a param. The function returns a mapping of output names
to paths, which are logged as artifacts (kind from ``outputs``, default ``file``); artifacts it
logs itself with ``run.log_artifact`` count as outputs too.

The cache key is a digest over four parts, each recorded on the run so that
``lineal cache explain`` can say which one changed:

- code: the digest of the function's source (``code="module"`` hashes its whole module file;
  ``code="v7"`` or any other string pins it by hand, for steps whose behaviour lives elsewhere);
- params: every argument that is not an input, as canonical JSON;
- inputs: the content digest of each input artifact version;
- environment: the Python version plus the versions of ``env_packages``.

When a finished run with the same key exists in the project and all its stored outputs still
have their bytes, the step does not execute: a new run is recorded with ``cached_from`` naming the
original, consuming the same inputs and producing the same output versions.

Why there is no ``with lineal.run(..., cache=True)``: Python cannot skip the body of a ``with``
block, so a cache hit could only be reported, not acted on. A decorated function can be skipped.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import platform
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .entities import (
    ArtifactVersion,
    EdgeDirection,
    Run,
    RunStatus,
    Storage,
    default_actor,
    new_id,
    now_us,
    us_to_datetime,
)
from .errors import InvalidArgument, NotFound
from .refs import validate_name
from .store import Store, default_store
from .store.base import RunFilter

__all__ = ["StepResult", "explain", "step"]

COMPONENTS_TAG = "lineal.cache.components"


@dataclass(frozen=True)
class StepResult:
    """What calling a step returns, whether it executed or was served from cache."""

    run: Run
    outputs: dict[str, ArtifactVersion]
    cached: bool
    value: Any = None
    """The function's return value when it executed (None on a cache hit)."""


@dataclass(frozen=True)
class CacheKey:
    key: str
    components: dict[str, Any] = field(default_factory=dict)


def _digest(value: Any) -> str:
    from .canonical import canonical_json

    return "sha256:" + hashlib.sha256(canonical_json(value).encode()).hexdigest()


def code_digest(fn: Callable[..., Any], code: str) -> str:
    if code == "function":
        try:
            source = inspect.getsource(fn)
        except (OSError, TypeError) as exc:
            raise InvalidArgument(
                f"cannot read the source of {fn.__qualname__} to key its cache",
                hint="pass code='v1' (or any version string) to @lineal.step",
            ) from exc
        return "sha256:" + hashlib.sha256(source.encode()).hexdigest()
    if code == "module":
        path = inspect.getsourcefile(fn)
        if path is None:
            raise InvalidArgument(f"{fn.__qualname__} has no source file", hint="pass code='v1'")
        return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return f"pinned:{code}"


def environment_part(packages: Iterable[str]) -> dict[str, str]:
    from importlib import metadata

    part = {"python": platform.python_version()}
    for name in packages:
        try:
            part[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            part[name] = "not installed"
    return part


def compute_key(
    code: str, params: Mapping[str, Any], inputs: Mapping[str, ArtifactVersion],
    environment: Mapping[str, str],
) -> CacheKey:
    components = {
        "code": code,
        "params": dict(params),
        "inputs": {name: version.digest for name, version in sorted(inputs.items())},
        "environment": dict(environment),
    }
    return CacheKey(_digest(components), components)


def step(
    name: str | None = None,
    *,
    kind: str = "step",
    inputs: Iterable[str] = (),
    outputs: Mapping[str, str] | None = None,
    cache: bool = True,
    code: str = "function",
    env_packages: Iterable[str] = (),
    project: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., StepResult]]:
    """Make a function a recorded, memoised pipeline step (see the module docstring)."""
    input_names = tuple(inputs)
    output_kinds = dict(outputs or {})
    packages = tuple(env_packages)

    def decorate(fn: Callable[..., Any]) -> Callable[..., StepResult]:
        step_name = validate_name(name or fn.__name__.replace("_", "-"), "step name")
        signature = inspect.signature(fn)
        wants_run = "run" in signature.parameters
        for input_name in input_names:
            if input_name not in signature.parameters:
                raise InvalidArgument(f"step {step_name}: input {input_name!r} is not a parameter")

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> StepResult:
            from .tracking import active_run

            parent = active_run()
            store = parent.store if parent else default_store(write=True)
            proj = project or (parent.project if parent else None) or "default"
            bound = signature.bind_partial(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            arguments.pop("run", None)
            versions = {
                key: _resolve(store, arguments.pop(key), proj) for key in input_names
            }
            missing = [k for k in input_names if versions.get(k) is None]
            if missing:
                raise InvalidArgument(f"step {step_name}: no artifact given for {missing}")
            key = compute_key(code_digest(fn, code), arguments, versions, environment_part(packages))
            if cache:
                hit = _find_cached(store, proj, step_name, key.key)
                if hit is not None:
                    return _record_hit(store, hit, step_name, kind, proj, key, versions, parent)
            return _execute(fn, store, step_name, kind, proj, key, versions, arguments,
                            output_kinds, wants_run, bound)

        call.lineal_step = step_name  # type: ignore[attr-defined]
        return call

    return decorate


def _resolve(store: Store, ref: Any, project: str) -> ArtifactVersion:
    if isinstance(ref, ArtifactVersion):
        return ref
    if not isinstance(ref, str):
        raise InvalidArgument(f"step inputs take artifact references, got {type(ref).__name__}")
    from .resolve import resolve_artifact

    return resolve_artifact(ref, store, project=project)


def _outputs_of(store: Store, run_id: str) -> dict[str, ArtifactVersion]:
    outputs: dict[str, ArtifactVersion] = {}
    for edge in store.metadata.list_edges(run_id=run_id):
        if edge.direction is EdgeDirection.OUTPUT:
            version = store.metadata.get_artifact_version(edge.artifact_id)
            role = edge.role if edge.role != "output" else version.name
            outputs.setdefault(role, version)
    return outputs


def _find_cached(store: Store, project: str, name: str, key: str) -> tuple[Run, dict[str, ArtifactVersion]] | None:
    candidates = store.metadata.list_runs(
        RunFilter(project=project, name=name, cache_key=key, status=RunStatus.FINISHED, limit=20)
    )
    for candidate in candidates:
        original = candidate.cached_from or candidate.id
        outputs = _outputs_of(store, original)
        if outputs and all(
            v.purged is None and (v.storage is Storage.REFERENCE or store.blobs.exists(v.digest))
            for v in outputs.values()
        ):
            return store.metadata.get_run(original), outputs
    return None


def _record_hit(
    store: Store, hit: tuple[Run, dict[str, ArtifactVersion]], name: str, kind: str,
    project: str, key: CacheKey, inputs: Mapping[str, ArtifactVersion], parent: Any,
) -> StepResult:
    from .canonical import canonical_json

    original, outputs = hit
    actor = default_actor()
    started = now_us()
    record = Run(
        id=new_id(), project=project, name=name, kind=kind, status=RunStatus.RUNNING,
        started_at=us_to_datetime(started),  # type: ignore[arg-type]
        parent_id=parent.id if parent else None,
        experiment=parent.record.experiment if parent else None,
        params=dict(original.params),
        tags={COMPONENTS_TAG: canonical_json(key.components), "lineal.cache": "hit"},
        cache_key=key.key, cached_from=original.id,
    )
    meta = store.metadata
    meta.create_run(record, actor)
    for role, version in inputs.items():
        meta.add_edge(record.id, version.id, EdgeDirection.INPUT, role, actor)
    for role, version in outputs.items():
        meta.add_edge(record.id, version.id, EdgeDirection.OUTPUT, role, actor)
    meta.finish_run(record.id, RunStatus.FINISHED, now_us(), None, actor)
    return StepResult(meta.get_run(record.id), outputs, cached=True)


def _execute(
    fn: Callable[..., Any], store: Store, name: str, kind: str, project: str, key: CacheKey,
    inputs: Mapping[str, ArtifactVersion], params: dict[str, Any], output_kinds: dict[str, str],
    wants_run: bool, bound: inspect.BoundArguments,
) -> StepResult:
    from .canonical import canonical_json
    from .tracking import RunContext

    context = RunContext(name, kind=kind, params=params, project=project, store=store,
                         tags={COMPONENTS_TAG: canonical_json(key.components)}, cache_key=key.key)
    with context as run:
        call_args = dict(bound.arguments)
        for input_name, version in inputs.items():
            call_args[input_name] = run.use_artifact(version, role=input_name)
        if wants_run:
            call_args["run"] = run
        value = fn(**call_args)
        if isinstance(value, Mapping):
            for out_name, path in value.items():
                if isinstance(path, (str, Path)):
                    run.log_artifact(path, name=out_name, kind=output_kinds.get(out_name, "file"),
                                     role=out_name)
    outputs = _outputs_of(store, run.id)
    return StepResult(store.metadata.get_run(run.id), outputs, cached=False, value=value)


def explain(ref: str, *, store: Store | None = None, project: str | None = None) -> dict[str, Any]:
    """Why a step run was or was not served from cache.

    ``ref`` is a run id or a step name (its latest run). Compares the run's cache key components
    with the most recent earlier finished run of the same step and names what changed.
    """
    import json

    store = store or default_store()
    try:
        target = store.metadata.get_run(ref)
    except NotFound:
        runs = store.metadata.list_runs(RunFilter(project=project, name=ref, limit=1))
        if not runs:
            raise NotFound(f"no run or step named {ref!r}", hint="pass a run id or a step name") from None
        target = runs[0]
    if target.cache_key is None or COMPONENTS_TAG not in target.tags:
        raise InvalidArgument(f"run {target.id} ({target.name}) is not a memoised step")
    mine = json.loads(target.tags[COMPONENTS_TAG])
    report: dict[str, Any] = {"run": target.id, "step": target.name, "key": target.cache_key,
                              "cached": target.cached_from is not None,
                              "cached_from": target.cached_from, "changes": {}}
    earlier = [
        r for r in store.metadata.list_runs(RunFilter(project=target.project, name=target.name,
                                                      status=RunStatus.FINISHED, limit=200))
        if r.id != target.id and r.started_at <= target.started_at and COMPONENTS_TAG in r.tags
    ]
    if target.cached_from is not None:
        report["reason"] = f"served from cache: run {target.cached_from} had the same key"
        return report
    if not earlier:
        report["reason"] = "executed: no earlier finished run of this step"
        return report
    previous = earlier[0]
    theirs = json.loads(previous.tags[COMPONENTS_TAG])
    report["compared_with"] = previous.id
    changes = _component_changes(theirs, mine)
    report["changes"] = changes
    if changes:
        report["reason"] = "executed: " + "; ".join(
            f"{part} changed ({', '.join(sorted(diff))})" if isinstance(diff, dict) else f"{part} changed"
            for part, diff in changes.items()
        )
    else:
        report["reason"] = ("executed: same key as the earlier run, but its outputs were missing "
                            "or cache=False")
    return report


def _component_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if old.get("code") != new.get("code"):
        changes["code"] = {"from": old.get("code"), "to": new.get("code")}
    for part in ("params", "inputs", "environment"):
        before, after = old.get(part, {}), new.get(part, {})
        diff = {
            k: {"from": before.get(k), "to": after.get(k)}
            for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)
        }
        if diff:
            changes[part] = diff
    return changes
