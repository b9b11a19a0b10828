"""Why did it fail: the error of a failed run (the failed step of a failed pipeline), and what
differs from the last run of the same step that finished.

    report = lineage.why_failed("train")          # the newest failed run named train
    report.error.type, report.error.message
    report.comparison.differs_in                  # ['params', 'inputs']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..entities import ArtifactVersion, Run, RunError, RunStatus, datetime_to_us
from ..errors import InvalidArgument, NotFound
from ..store import Store
from ..store.base import RunFilter
from ._snapshot import RunComparison, compare_runs, snapshot
from ._subject import Subject, resolve_subject, store_or_default

__all__ = ["FailureReport", "why_failed"]

_FAILED = (RunStatus.FAILED, RunStatus.KILLED)


@dataclass(frozen=True, slots=True)
class FailureReport:
    """A failed run, its error, and how it differs from the last good run of the same step."""

    subject: Subject
    run: Run
    """The run that failed: the failed step when the subject is a pipeline."""
    pipeline: Run | None
    """The failed run the step belongs to, when the question was about a pipeline."""
    error: RunError
    traceback_tail: list[str]
    last_good: Run | None
    """The newest run with the same project, name and kind that finished before this one."""
    comparison: RunComparison | None
    """``last_good`` (a) against the failed run (b)."""

    def __repr__(self) -> str:
        return f"<FailureReport run {self.run.name} {self.run.id[:12]}: {self.error.type}>"

    def _repr_html_(self) -> str:
        from ..notebook import answer_html

        return answer_html(self)

    def to_dict(self) -> dict[str, Any]:
        r = self.run
        return {
            "subject": self.subject.to_dict(),
            "run": {"id": r.id, "name": r.name, "kind": r.kind, "status": str(r.status),
                    "started_at": r.started_at.isoformat(),
                    "ended_at": r.ended_at.isoformat() if r.ended_at else None},
            "pipeline": {"id": self.pipeline.id, "name": self.pipeline.name,
                         "status": str(self.pipeline.status)} if self.pipeline else None,
            "error": {"type": self.error.type, "message": self.error.message,
                      "traceback_tail": self.traceback_tail},
            "last_good": {"id": self.last_good.id, "name": self.last_good.name,
                          "started_at": self.last_good.started_at.isoformat()}
            if self.last_good else None,
            "differences": self.comparison.to_dict() if self.comparison else None,
        }


def why_failed(
    ref: str | Run | ArtifactVersion,
    *,
    tail: int = 12,
    project: str | None = None,
    store: Store | None = None,
) -> FailureReport:
    """What made a run fail: its error type, message and the last ``tail`` lines of the
    traceback, and what differs from the last good run of the same name and kind: params, input
    artifact versions (by digest), code, environment packages.

    ``ref`` is a run id (``run:01J...``), a run name (its newest failed run), or a model (the
    newest failed run of the step that produced it). A failed pipeline is explained by its
    first failed step, recursively. A part of the code or environment that was not captured
    on either run is unknown: it is listed in ``comparison.not_captured`` with the reasons,
    never as a difference.
    """
    if not isinstance(tail, int) or tail < 0:
        raise InvalidArgument(f"tail must be a number of lines, got {tail!r}")
    store = store_or_default(store)
    meta = store.metadata
    subject = resolve_subject(ref, store, project=project, run_names=True, run_status=RunStatus.FAILED)
    run = subject.run
    if subject.artifact is not None:
        if run is None:
            raise NotFound(f"{subject.label} has no recorded producing run, so no failed run of "
                           "the step that makes it can be found")
        newest = meta.list_runs(RunFilter(project=run.project, name=run.name, kind=run.kind,
                                          status=RunStatus.FAILED, limit=1))
        if not newest:
            raise NotFound(
                f"no failed run of {run.name!r} (the {run.kind} run that produced {subject.label})",
                hint=f"every {run.name} run so far finished; see `lineal runs list --name {run.name}`",
            )
        run = meta.get_run(newest[0].id)
    assert run is not None
    top = run
    failed = _first_failed_step(store, run)
    if failed is None:
        if run.status not in _FAILED:
            raise InvalidArgument(
                f"run {run.name} {run.id} is {run.status}: it did not fail",
                hint="ask about a failed run; list them with `lineal runs list --status failed`",
            )
        failed = run
    error = failed.error or RunError("unknown", f"the run ended {failed.status} with no error recorded", "")
    lines = [line for line in error.traceback.rstrip().splitlines() if line.strip()]
    good = meta.list_runs(RunFilter(
        project=failed.project, name=failed.name, kind=failed.kind, status=RunStatus.FINISHED,
        started_before_us=datetime_to_us(failed.started_at), limit=1,
    ))
    last_good = meta.get_run(good[0].id) if good else None
    comparison = compare_runs(snapshot(store, last_good), snapshot(store, failed)) if last_good else None
    return FailureReport(
        subject=subject,
        run=failed,
        pipeline=top if failed.id != top.id else _failed_parent(store, failed),
        error=error,
        traceback_tail=lines[-tail:] if tail else [],
        last_good=last_good,
        comparison=comparison,
    )


def _first_failed_step(store: Store, run: Run) -> Run | None:
    """The earliest failed descendant of ``run`` that has no failed child itself: where the
    failure started. None when no child failed."""
    found: Run | None = None
    current = run
    for _ in range(100):  # nesting depth; a cycle of parents cannot happen, but stay bounded
        children = [c for c in store.metadata.list_runs(RunFilter(parent_id=current.id, limit=10_000))
                    if c.status in _FAILED]
        if not children:
            return found
        current = min(children, key=lambda c: (c.started_at, c.id))
        found = store.metadata.get_run(current.id)
    return found


def _failed_parent(store: Store, run: Run) -> Run | None:
    """The pipeline a failed step brought down with it, if any."""
    if run.parent_id is None:
        return None
    try:
        parent = store.metadata.get_run(run.parent_id)
    except NotFound:
        return None
    return parent if parent.status in _FAILED else None
