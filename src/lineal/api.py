"""Module-level read functions of the SDK, over the default store (or an explicit one)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from .entities import ArtifactVersion, MetricPoint, Run, RunStatus
from .errors import InvalidArgument, NotFound
from .refs import parse_ref
from .registry.times import to_us
from .store import Store, default_store
from .store.base import ArtifactFilter, RunFilter

TimeLike = datetime | float | str


def _us(value: TimeLike | None) -> int | None:
    return None if value is None else to_us(value)


#: A run id prefix shorter than this is too likely to match many runs to be worth a lookup.
MIN_RUN_PREFIX = 6
#: A whole id (a ULID: 26 characters of Crockford base32, upper case).
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
#: What could be a run id prefix as a user types it (any case).
RUN_PREFIX = re.compile(r"^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{6,25}$")  # 6: MIN_RUN_PREFIX


def get_run(run_id: str, *, store: Store | None = None) -> Run:
    """A run by id, with its params, tags and latest metrics. ``run_id`` may also be a unique
    prefix of at least 6 characters, as the CLI prints them (``01JC3K``), in any case."""
    store = store or default_store()
    text = run_id.strip() if isinstance(run_id, str) else run_id
    try:
        return store.metadata.get_run(text)
    except NotFound:
        if not isinstance(text, str) or not RUN_PREFIX.fullmatch(text):
            raise
    matches = store.metadata.run_ids_with_prefix(text.upper())  # ULIDs: upper-case base32
    if not matches:
        raise NotFound(f"no run with id or id prefix {text!r}",
                       hint="list runs with `lineal runs list`")
    if len(matches) > 1:
        raise InvalidArgument(f"run id prefix {text!r} is ambiguous: it matches "
                              f"{', '.join(matches)}", hint="give more characters")
    return store.metadata.get_run(matches[0])


def list_runs(
    *,
    project: str | None = None,
    name: str | None = None,
    kind: str | None = None,
    status: RunStatus | str | None = None,
    experiment: str | None = None,
    parent_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    started_after: TimeLike | None = None,
    started_before: TimeLike | None = None,
    limit: int = 100,
    offset: int = 0,
    store: Store | None = None,
) -> list[Run]:
    """Runs matching every given filter, newest first."""
    flt = RunFilter(
        project=project,
        name=name,
        kind=kind,
        status=RunStatus(status) if status else None,
        experiment=experiment,
        parent_id=parent_id,
        tags=dict(tags or {}),
        started_after_us=_us(started_after),
        started_before_us=_us(started_before),
        limit=limit,
        offset=offset,
    )
    return (store or default_store()).metadata.list_runs(flt)


def metric_history(run_id: str, key: str, *, store: Store | None = None) -> list[MetricPoint]:
    """Every point logged for metric ``key`` of a run."""
    return (store or default_store()).metadata.metric_history(run_id, key)


def get_artifact(ref: str, *, project: str | None = None, store: Store | None = None) -> ArtifactVersion:
    """The artifact version a reference names: ``name``, ``name@v3``, ``name@alias``,
    ``name@sha256:<prefix>``, optionally prefixed by ``project/``."""
    return (store or default_store()).metadata.resolve(parse_ref(ref, project))


def list_artifacts(
    *,
    project: str | None = None,
    name: str | None = None,
    kind: str | None = None,
    digest: str | None = None,
    producer_run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    created_after: TimeLike | None = None,
    created_before: TimeLike | None = None,
    limit: int = 100,
    offset: int = 0,
    store: Store | None = None,
) -> list[ArtifactVersion]:
    """Artifact versions matching every given filter, newest first."""
    flt = ArtifactFilter(
        project=project,
        name=name,
        kind=kind,
        digest_prefix=digest,
        producer_run_id=producer_run_id,
        tags=dict(tags or {}),
        created_after_us=_us(created_after),
        created_before_us=_us(created_before),
        limit=limit,
        offset=offset,
    )
    return (store or default_store()).metadata.list_artifact_versions(flt)


def download_artifact(
    ref: str, dest: str | Path, *, project: str | None = None, store: Store | None = None
) -> Path:
    """Copy an artifact version's content to ``dest``."""
    from .artifacts import download

    store = store or default_store()
    version = store.metadata.resolve(parse_ref(ref, project))
    return download(store, version, Path(dest))


def artifact_path(ref: str, *, project: str | None = None, store: Store | None = None) -> Path:
    """A local path to an artifact version's content (cached; do not modify it)."""
    from .artifacts import local_path

    store = store or default_store()
    return local_path(store, store.metadata.resolve(parse_ref(ref, project)))


def set_alias(ref: str, alias: str, *, store: Store | None = None) -> ArtifactVersion:
    """Point ``alias`` at the version ``ref`` names (moving it if it pointed elsewhere)."""
    from .entities import default_actor

    store = store or default_store()
    version = store.metadata.resolve(parse_ref(ref))
    store.metadata.set_alias(version.project, version.name, alias, version.version, default_actor())
    return store.metadata.get_artifact_version(version.id)


