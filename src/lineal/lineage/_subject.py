"""What a question is about: a reference resolved to a run, an artifact version, a model version.

The questions (:mod:`lineal.lineage.questions`) and the diff (:mod:`lineal.lineage._diff`) accept
every way people name things:

    churn@v3, churn@prod, churn          a registered model version when a registered model has
                                         that name, else an artifact (lineal.resolve's rule)
    model:default/churn@v3               the same, as printed in lineage output
    churn-model@v2, raw@sha256:3f2a      an artifact version (any kind)
    run:01J0..., 01J0...                 a run by id, or by a unique id prefix (6+ characters)
    train                                a run name (only where the question allows it)

and each becomes a :class:`Subject`: the artifact version, the registered model version that
links it (if any), and the run that produced it (or the run itself).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..api import RUN_PREFIX, ULID, get_run
from ..config import setting
from ..entities import ArtifactVersion, Node, NodeType, Run, RunStatus
from ..errors import InvalidArgument, NotFound
from ..refs import parse_ref
from ..resolve import names_nothing, resolve
from ..store import Store, default_store
from ..store.base import RunFilter

if TYPE_CHECKING:
    from ..entities import ModelVersion

__all__ = ["Subject", "resolve_subject", "store_or_default"]



def store_or_default(store: Store | None) -> Store:
    return store or default_store()


@dataclass(frozen=True, slots=True)
class Subject:
    """A resolved reference. ``run`` is the run itself for a run reference, else the run that
    produced ``artifact`` (None when nothing recorded producing it)."""

    ref: str
    """What the caller passed."""
    artifact: ArtifactVersion | None
    run: Run | None
    model_version: ModelVersion | None = None

    def __repr__(self) -> str:
        return f"<Subject {self.label}>"

    @property
    def label(self) -> str:
        """The canonical name: ``default/churn@v3`` (registry), ``default/churn-model@v2``,
        ``run train 01J...``."""
        if self.model_version is not None:
            return str(self.model_version.ref)
        if self.artifact is not None:
            return self.artifact.ref
        assert self.run is not None
        return f"run {self.run.name} {self.run.id}"

    @property
    def is_run(self) -> bool:
        return self.artifact is None

    def node(self, store: Store) -> Node:
        """The lineage node a walk starts from: the artifact version, or the run."""
        if self.artifact is not None:
            return store.metadata.lineage_node(self.artifact.id, NodeType.ARTIFACT)
        assert self.run is not None
        return store.metadata.lineage_node(self.run.id, NodeType.RUN)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "label": self.label,
            "artifact": self.artifact.ref if self.artifact else None,
            "artifact_digest": self.artifact.digest if self.artifact else None,
            "model_version": self.model_version.ref if self.model_version else None,
            "run_id": self.run.id if self.run else None,
            "run_name": self.run.name if self.run else None,
        }


def resolve_subject(
    ref: str | ArtifactVersion | Run | Subject,
    store: Store,
    *,
    project: str | None = None,
    run_names: bool = False,
    run_status: RunStatus | None = None,
) -> Subject:
    """Resolve ``ref`` (see the module docstring). With ``run_names``, a name that is neither a
    registered model nor an artifact is taken as a run name: its newest run (with
    ``run_status``, if given)."""
    if isinstance(ref, Subject):
        return ref
    if isinstance(ref, Run):
        return Subject(ref.id, None, ref)
    if isinstance(ref, ArtifactVersion):
        return Subject(ref.ref, ref, producer_of(store, ref))
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidArgument(f"empty reference {ref!r}", hint="e.g. churn@v3, run:01J..., model@v2")
    text = ref.strip()
    meta = store.metadata
    if text.startswith("run:"):  # a run id, or a unique prefix of one: named by its full id
        run = get_run(text.removeprefix("run:"), store=store)
        return Subject(f"run:{run.id}", None, run)
    if ULID.fullmatch(text):
        try:
            return Subject(text, None, meta.get_run(text))
        except NotFound:
            pass
    project = project or setting("project") or None
    try:
        found = resolve(text, store, project=project)
    except NotFound as error:
        if not names_nothing(error) or text.startswith("model:"):
            raise
        parsed = parse_ref(text, project)
        if "@" not in text and RUN_PREFIX.fullmatch(text):
            with contextlib.suppress(NotFound):  # a run id prefix, as `runs list` prints them
                run = get_run(text, store=store)
                return Subject(f"run:{run.id}", None, run)
        if not run_names or "@" in text:
            raise NotFound(
                f"{text!r} names no registered model, artifact version"
                + (" or run" if run_names else "") + f" in project {parsed.project!r}",
                hint="use a model ref (churn@v3), an artifact ref (name@v2) or run:RUN_ID",
            ) from None
        runs = meta.list_runs(RunFilter(project=parsed.project, name=parsed.name,
                                        status=run_status, limit=1))
        if not runs:
            what = f"{run_status} run" if run_status else "run"
            raise NotFound(
                f"no registered model, artifact or {what} named {parsed.name!r} in project "
                f"{parsed.project!r}",
                hint="list runs with `lineal runs list`",
            ) from None
        return Subject(ref, None, meta.get_run(runs[0].id))
    if found.artifact is None:
        assert found.run is not None
        return Subject(found.ref, None, found.run)
    return Subject(ref, found.artifact, producer_of(store, found.artifact), found.model_version)


def producer_of(store: Store, artifact: ArtifactVersion) -> Run | None:
    """The run that produced ``artifact``, if it was recorded and still exists."""
    if artifact.producer_run_id is None:
        return None
    try:
        return store.metadata.get_run(artifact.producer_run_id)
    except NotFound:
        return None


def require_run(subject: Subject, question: str) -> Run:
    """The subject's run; NotFound explaining that nothing recorded making the artifact."""
    if subject.run is None:
        raise NotFound(
            f"{subject.label} has no recorded producing run, so lineal cannot tell {question}",
            hint="log artifacts from inside `with lineal.run(...)` so their lineage is kept",
        )
    return subject.run
