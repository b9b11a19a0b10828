"""Module-level read functions of the SDK, over the default store (or an explicit one)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from .entities import ArtifactVersion, MetricPoint, Run, RunStatus
from .errors import InvalidArgument, NotFound
from .progress import ProgressOption
from .resolve import resolve_artifact
from .search.page import RunPage
from .store import Store, default_store
from .store.base import ArtifactFilter, RunFilter
from .times import to_us

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
    """Runs matching every given filter, newest first: a list that also has ``.to_pandas()``
    (one row per run, ``metrics.X``/``params.X``/``tags.X`` columns) and shows as a table in
    a notebook."""
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
    from .notebook import Runs

    return Runs((store or default_store()).metadata.list_runs(flt))


def search_runs(
    filter: str | None = None,  # noqa: A002 - the name MLflow users know
    *,
    order_by: Sequence[str] | str | None = None,
    limit: int = 100,
    page_token: str | None = None,
    store: Store | None = None,
) -> RunPage:
    """One page of the runs matching ``filter``, in MLflow's search syntax plus lineage terms.

    >>> page = lineal.search_runs(
    ...     "metrics.auc > 0.9 and params.C = '0.5' and attributes.status = 'finished'",
    ...     order_by=["metrics.auc DESC"], limit=20)                      # doctest: +SKIP
    >>> page.runs, page.next_page_token, page.to_pandas()               # doctest: +SKIP

    Terms: ``metrics.X`` (numbers), ``params.X`` and ``tags.X`` (strings; ``=``, ``!=``, ``<``...,
    ``LIKE``, ``ILIKE``, ``IN (...)``), ``attributes.`` status, name, kind, experiment, project,
    run_id, parent_id, user, start_time/created, end_time (ISO dates or epoch milliseconds);
    ``inputs.dataset = 'features@v4'``, ``inputs.artifact``, ``outputs.model = 'churn@v1'``,
    ``env.torch >= '2.3'``; ``and``, ``or``, parentheses; backticks around odd keys
    (metrics.`my-key`). ``order_by``: attributes, metrics, params or tags with ASC/DESC; runs
    missing a sort key come last. Pass ``page_token=page.next_page_token`` for the next page
    (keyset paging: stable while runs are added)."""
    return (store or default_store()).metadata.search_runs(filter, order_by, limit, page_token)


def metric_history(run_id: str, key: str, *, store: Store | None = None) -> list[MetricPoint]:
    """Every point logged for metric ``key`` of a run: a list that also has ``.to_pandas()``
    (``key``, ``step``, ``value``, ``timestamp``), e.g. to plot it."""
    from .notebook import MetricHistory

    return MetricHistory((store or default_store()).metadata.metric_history(run_id, key))


def get_artifact(ref: str, *, project: str | None = None, store: Store | None = None) -> ArtifactVersion:
    """The artifact version a reference names: ``name``, ``name@v3``, ``name@alias``,
    ``name@sha256:<prefix>``, optionally prefixed by ``project/``."""
    return resolve_artifact(ref, store or default_store(), project=project)


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
    """Artifact versions matching every given filter, newest first: a list that also has
    ``.to_pandas()`` (one row per version)."""
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
    from .notebook import ArtifactVersions

    return ArtifactVersions((store or default_store()).metadata.list_artifact_versions(flt))


def download_artifact(
    ref: str, dest: str | Path, *, project: str | None = None, store: Store | None = None,
    progress: ProgressOption = True,
) -> Path:
    """Write an artifact version's content at ``dest``, checked against its recorded digest.

    ``dest`` is the file, or for a directory artifact the folder, to write; what is there is
    replaced (a symlink is replaced, not written through). An existing folder receives a file
    artifact as ``dest/NAME`` and a directory artifact's files beside what it holds. Nothing is
    placed before all of it is verified: IntegrityError names the version and both digests
    when the stored bytes are corrupt. Returns the path written. ``progress``: a bar for large
    content in a terminal or notebook (``True``), none (``False``), or a callback given the
    bytes written as they are; see :mod:`lineal.progress`.
    """
    from .artifacts import download
    from .progress import transfer

    store = store or default_store()
    version = resolve_artifact(ref, store, project=project)
    with transfer(version.size, f"downloading {version.name}", progress) as advance:
        return download(store, version, Path(dest), advance)


def artifact_path(ref: str, *, project: str | None = None, store: Store | None = None) -> Path:
    """A local, read-only path to an artifact version's content, checked against its digest.

    Stored content is a cached copy, never the store's own file: writing to it cannot change
    what is stored, and a modified copy is replaced on the next call. IntegrityError when the
    stored bytes do not match the recorded digest.
    """
    from .artifacts import local_path

    store = store or default_store()
    return local_path(store, resolve_artifact(ref, store, project=project))


def set_alias(ref: str, alias: str, *, store: Store | None = None) -> ArtifactVersion:
    """Point ``alias`` at the version ``ref`` names (moving it if it pointed elsewhere)."""
    from .entities import default_actor

    store = store or default_store()
    version = resolve_artifact(ref, store, want="artifact")  # an artifact alias
    store.metadata.set_alias(version.project, version.name, alias, version.version, default_actor())
    return store.metadata.get_artifact_version(version.id)


