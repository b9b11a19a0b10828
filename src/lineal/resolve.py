"""What a reference names: the one rule, used everywhere a reference is resolved.

Precedence, in order:

1. ``run:ID`` (an id or a unique id prefix) names a run, and so does a full 26-character run id
   of a run that exists.
2. ``name@sha256:PREFIX`` names content: the version of the registered model ``name`` whose
   artifact has that digest when there is one, else the artifact ``name`` with that digest
   (so a digest always reaches the artifact with that content, whatever shares its name).
3. ``model:name@sel`` names a registered model version, and nothing else.
4. ``name``, ``name@v3``, ``name@alias``, ``name@latest``: when a registered model called
   ``name`` exists in the project, the reference is that model's version (and the model
   artifact it links); otherwise it is the artifact called ``name``.

So ``churn@v3`` is version 3 of the registered model ``churn`` when there is one, even if an
artifact is also named ``churn``; refer to that artifact as ``artifact:churn@v3`` in lineage
commands, or by digest. Only ``want="artifact"`` (``registry register --from``, where the source
must be an artifact) reverses step 4: the artifact first, a registered model's version only when
no artifact has the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .entities import ArtifactVersion, Run
from .errors import InvalidArgument, NotFound
from .refs import ArtifactRef, SelectorKind, parse_ref

if TYPE_CHECKING:
    from .entities import ModelVersion
    from .store import Store

__all__ = ["Resolved", "Want", "names_nothing", "resolve", "resolve_artifact"]

Want = Literal["any", "artifact", "model"]
_WANTS = ("any", "artifact", "model")


@dataclass(frozen=True, slots=True)
class Resolved:
    """A resolved reference: the artifact version, the registered model version when the
    reference named one, or the run when it named a run (then ``artifact`` is None)."""

    ref: str
    artifact: ArtifactVersion | None
    model_version: ModelVersion | None = None
    run: Run | None = None

    def require_artifact(self) -> ArtifactVersion:
        if self.artifact is None:
            raise InvalidArgument(f"{self.ref!r} names a run, not an artifact or model version",
                                  hint="use name@v3, name@alias or name@sha256:PREFIX")
        return self.artifact


def _registry(store: Store) -> Any:
    # Every metadata store implements the whole contract, the registry included.
    return store.metadata


def resolve(
    ref: str | ArtifactRef | ArtifactVersion,
    store: Store,
    *,
    project: str | None = None,
    want: Want = "any",
) -> Resolved:
    """Resolve ``ref`` by the precedence in the module docstring.

    ``want="any"`` also accepts runs; ``"artifact"`` and ``"model"`` refuse them. ``"model"``
    requires the artifact to be a model (kind ``model``). ``project`` applies when the
    reference names none (default: ``LINEAL_PROJECT``, the config file, else ``default``).
    """
    if want not in _WANTS:
        raise InvalidArgument(f"want must be one of {', '.join(_WANTS)}, got {want!r}")
    if isinstance(ref, ArtifactVersion):
        return Resolved(ref.ref, _kind_checked(ref, want))
    if isinstance(ref, str):
        text = ref.strip()
        if text.startswith("run:") or _is_run_id(text, store):
            if want != "any":
                raise InvalidArgument(f"{text!r} names a run, not an artifact or model version",
                                      hint="use name@v3, name@alias or name@sha256:PREFIX")
            from .api import get_run

            run = get_run(text.removeprefix("run:"), store=store)
            return Resolved(f"run:{run.id}", None, run=run)
        registry_only = text.startswith("model:")
        text = text.removeprefix("model:")
    else:
        text, registry_only = str(ref), False
    from .config import default_project

    parsed = parse_ref(ref if isinstance(ref, ArtifactRef) else text, default_project(project))
    label = ref if isinstance(ref, str) else str(parsed)
    registry = _registry(store)
    digest = parsed.kind is SelectorKind.DIGEST
    if registry_only and registry is None:
        raise NotFound(f"no registered model named {parsed.name!r} in project {parsed.project!r}")
    if want == "artifact" and not registry_only:
        try:
            return Resolved(label, store.metadata.resolve(parsed))
        except NotFound as error:
            if registry is None or "no artifact named" not in error.message:
                raise
            if not registry.find_registered_model(parsed.project, parsed.name):
                raise
    model = registry.find_registered_model(parsed.project, parsed.name) if registry else None
    if model is not None:
        try:
            version = registry.resolve_model_version(parsed)
        except NotFound:
            # A digest names content: the registered model's version with that content, else
            # the artifact of that name with that content.
            if not digest or registry_only:
                raise
        else:
            artifact = store.metadata.get_artifact_version(version.artifact_version_id)
            return Resolved(label, artifact, version)
    elif registry_only:
        raise NotFound(f"no registered model named {parsed.name!r} in project {parsed.project!r}",
                       hint="list models with `lineal registry models`")
    try:
        artifact = store.metadata.resolve(parsed)
    except NotFound as error:
        if "no artifact named" not in error.message:
            raise
        a_run = " run," if _looks_like_run_id(text) else ""
        raise NotFound(
            f"no{a_run} registered model or {'model ' if want == 'model' else ''}artifact named "
            f"{parsed.name!r} in project {parsed.project!r}",
            hint="list models with `lineal registry models`, artifacts with "
            "`lineal artifacts list`",
        ) from None
    return Resolved(label, _kind_checked(artifact, want))


def resolve_artifact(
    ref: str | ArtifactRef | ArtifactVersion,
    store: Store,
    *,
    project: str | None = None,
    want: Want = "any",
) -> ArtifactVersion:
    """The artifact version :func:`resolve` finds (a registered model version's artifact);
    InvalidArgument when ``ref`` names a run."""
    return resolve(ref, store, project=project, want=want).require_artifact()


def names_nothing(error: NotFound) -> bool:
    """Whether ``error`` (from :func:`resolve`) says no model or artifact has the name at all,
    as opposed to the name existing without the version asked for."""
    return "artifact named" in error.message or "registered model named" in error.message


def _looks_like_run_id(text: str) -> bool:
    from .api import ULID

    return bool(ULID.fullmatch(text))


def _is_run_id(text: str, store: Store) -> bool:
    if not _looks_like_run_id(text):
        return False
    try:
        store.metadata.get_run(text)
    except NotFound:
        return False
    return True


def _kind_checked(artifact: ArtifactVersion, want: str) -> ArtifactVersion:
    if want == "model" and artifact.kind != "model":
        raise InvalidArgument(
            f"{artifact.ref} is a {artifact.kind!r} artifact, not a model",
            hint="log models with kind='model'",
        )
    return artifact
