"""Datasets in the store: ``run.log_dataset`` and ``run.use_dataset``.

    with lineal.run("clean", kind="transform") as run:
        raw = run.use_dataset("raw@v2", context="training")       # by reference
        cleaned = clean(pandas.read_parquet(lineal.artifact_path(raw.ref)))
        run.log_dataset(cleaned, name="cleaned", context="training",
                        targets="churned", column_tags={"email": ["pii"]})

A dataset version is an artifact version of kind ``dataset``. Its metadata holds the whole
description (:func:`lineal.datasets.describe`: digest, schema, profile) plus the source, the
context, the target and prediction columns and the column tags, so listing, showing and diffing
datasets never reads their bytes. How the version is identified:

- the dataset digest (``metadata["dataset"]["digest"]``, also the tag ``lineal.dataset.digest``)
  is the content fingerprint of :mod:`lineal.datasets.digest`: the same rows and columns give
  the same digest from pandas, polars, Arrow, CSV or Parquet;
- the artifact digest is what the blob store holds: the Parquet file lineal wrote (storage
  ``stored``), the referenced file or folder (``reference`` to a path), or the dataset digest
  itself for in-memory data recorded by reference only (nothing lineal could re-read).

Logging content whose dataset digest is already a version of that name returns that version:
no new version, no new bytes (only the run's edge is added). Everything that can fail (the
object, the file, the arguments) is checked before anything is written.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..entities import ArtifactVersion, EdgeDirection, Storage
from ..errors import IntegrityError, InvalidArgument, NotFound
from ..progress import ProgressOption
from ..refs import validate_name
from ..resolve import resolve_artifact
from ..store.base import ArtifactFilter, NewArtifactVersion
from .errors import EmptyDatasetError

if TYPE_CHECKING:
    import pyarrow as pa

    from ..store import Store
    from ..tracking import ActiveRun
    from .description import DatasetDescription

__all__ = [
    "CONTEXTS",
    "DIGEST_TAG",
    "STORE_LIMIT_BYTES",
    "find_by_digest",
    "log_dataset",
    "use_dataset",
]

#: A file or folder whose Arrow memory is at most this many bytes is stored as Parquet by
#: default; a larger one is recorded by reference to its path (digest, description, source)
#: unless ``store_bytes=True``. In-memory data is always stored by default: lineal could not
#: fetch it again otherwise.
STORE_LIMIT_BYTES = 100 * 1024 * 1024
#: What a version of in-memory data recorded by reference says about itself, in its metadata
#: (``dataset.not_stored``) and in the warning given when it is recorded.
NOT_STORED = ("in-memory data recorded by reference only (store_bytes=False): lineal keeps "
              "its digest and description but no copy, so it cannot be fetched or loaded later")
#: The usual contexts; any valid name is accepted (it becomes the edge's role).
CONTEXTS = ("training", "validation", "test")
#: The version tag holding the dataset digest: it is how identical content is found again.
DIGEST_TAG = "lineal.dataset.digest"
_COLUMN_TAG_PREFIX = "lineal.column_tag."


def log_dataset(
    run: ActiveRun,
    data: Any,
    *,
    name: str,
    source: str | None = None,
    context: str | None = None,
    targets: str | Iterable[str] | None = None,
    predictions: str | Iterable[str] | None = None,
    store_bytes: bool | None = None,
    tags: Mapping[str, str] | None = None,
    column_tags: Mapping[str, Iterable[str]] | None = None,
    kind: str = "dataset",
    aliases: Iterable[str] = (),
    metadata: Mapping[str, Any] | None = None,
    allow_empty: bool = False,
    progress: ProgressOption = True,
) -> ArtifactVersion:
    """Record ``data`` as a dataset version of ``name`` produced by ``run``.

    ``data`` is anything :func:`lineal.datasets.to_arrow` accepts (pandas, polars, Arrow,
    numpy, or a path to a CSV/Parquet/JSON-lines file or folder). ``store_bytes``: True stores
    the data as Parquet in the blob store, False records it by reference only, None (default)
    stores in-memory data always (nothing else could give it back) and a file or folder when
    its Arrow memory is at most :data:`STORE_LIMIT_BYTES` (100 MiB; a larger one is recorded by
    reference to its path). In-memory data recorded by reference is said so: a
    ``UserWarning``, and ``dataset.not_stored`` in the version's metadata. ``progress``: a bar
    while large data is stored, see :mod:`lineal.progress`. ``context``
    (``"training"``, ``"validation"``, ``"test"``...) becomes the role of the run's output edge.
    ``column_tags`` tags columns, e.g. ``{"email": ["pii"]}``. A frame without rows is refused
    unless ``allow_empty=True``.

    >>> run.log_dataset(df, name="cleaned", context="training", targets="churned")  # doctest: +SKIP
    """
    options = _Options.check(name, context, kind, tags, aliases, store_bytes)
    table, path = _read(data, allow_empty)
    from .description import describe

    description = describe(table)
    extras = _extras(description, source, context, targets, predictions, column_tags)
    store = run.store
    existing = find_by_digest(store, run.project, description.digest, name=name, kind=kind)
    store_it = _choose_storage(store_bytes, description.nbytes, in_memory=path is None)
    if existing is not None and not (store_bytes is True and existing.storage is Storage.REFERENCE):
        _add_edges(run, existing, EdgeDirection.OUTPUT, context, produced=True)
        run.outputs.append(existing)
        return existing
    spec = _new_version(run, table, path, description, extras, options, store_it, metadata,
                        producer=run.id, progress=progress)
    if path is None and not store_it:
        import warnings

        warnings.warn(f"{name}: {NOT_STORED}; leave store_bytes unset (or pass True) to keep a "
                      "copy", UserWarning, stacklevel=3)
    spec = dataclasses.replace(spec, producer_role=context or "output")  # one edge, its role
    version, created = store.metadata.create_artifact_version(spec, run.actor)
    # A new version already has the producer's output edge; an existing one (the same bytes
    # logged concurrently) gets it here.
    _add_edges(run, version, EdgeDirection.OUTPUT, context, produced=not created)
    run.outputs.append(version)
    return version


def use_dataset(
    run: ActiveRun,
    data_or_ref: Any,
    name: str | None = None,
    *,
    context: str | None = None,
    source: str | None = None,
    digest: str | None = None,
    targets: str | Iterable[str] | None = None,
    predictions: str | Iterable[str] | None = None,
    tags: Mapping[str, str] | None = None,
    column_tags: Mapping[str, Iterable[str]] | None = None,
    kind: str = "dataset",
    allow_empty: bool = False,
) -> ArtifactVersion:
    """Record that ``run`` consumed a dataset version, and return it.

    ``data_or_ref`` is a reference (``"raw@v2"``, ``"raw"``, an ``ArtifactVersion``), or data
    (anything :func:`lineal.datasets.to_arrow` accepts; a string is data when such a file or
    folder exists, else a reference). Data is fingerprinted: when a version of ``name`` (or,
    without ``name``, any dataset of the project) has that digest, the run is linked to it;
    otherwise a new version of ``name`` is recorded by reference (digest, description, source;
    no bytes). ``digest``, when given, is the digest the data must have (IntegrityError
    otherwise). ``context`` becomes the role of the input edge (default ``"input"``).

    >>> run.use_dataset("raw@v2", context="training")  # doctest: +SKIP
    >>> run.use_dataset(df, name="holdout", context="test")  # doctest: +SKIP
    """
    if context is not None:
        validate_name(context, "dataset context")
    store = run.store
    if _is_reference(data_or_ref):
        version = _resolve(store, data_or_ref, run.project)
        if digest is not None and _dataset_digest(version) != digest:
            raise IntegrityError(
                f"{version.ref} has dataset digest {_dataset_digest(version)}, expected {digest}",
                hint="the reference names other data than the digest you pinned",
            )
        _add_edges(run, version, EdgeDirection.INPUT, context, produced=False)
        run.inputs.append(version)
        return version
    if name is None and isinstance(data_or_ref, str | os.PathLike):
        from ..artifacts import default_name

        name = default_name(data_or_ref)
    options = _Options.check(name or "dataset", context, kind, tags, (), False)
    table, path = _read(data_or_ref, allow_empty)
    from .description import describe

    found = describe(table, profile=False)
    # Checked even when the version exists, so a typo in a column name is never silent.
    _extras(found, source, context, targets, predictions, column_tags)
    if digest is not None and found.digest != digest:
        raise IntegrityError(
            f"the data has dataset digest {found.digest}, expected {digest}",
            hint="the data changed since that digest was recorded",
        )
    existing = find_by_digest(store, run.project, found.digest, name=name, kind=kind)
    if existing is None:
        if name is None:
            raise InvalidArgument(
                f"no dataset in project {run.project!r} has digest {found.digest}",
                hint="pass name= to record it as a new dataset version",
            )
        description = describe(table)
        extras = _extras(description, source, context, targets, predictions, column_tags)
        spec = _new_version(
            run, table, path, description, extras, options, False, None, producer=None
        )
        existing, _ = store.metadata.create_artifact_version(spec, run.actor)
    _add_edges(run, existing, EdgeDirection.INPUT, context, produced=False)
    run.inputs.append(existing)
    return existing


def find_by_digest(
    store: Store, project: str, digest: str, *, name: str | None = None, kind: str | None = "dataset"
) -> ArtifactVersion | None:
    """The newest dataset version of ``project`` (and ``name``) whose dataset digest is
    ``digest``, or None."""
    flt = ArtifactFilter(project=project, name=name, kind=kind, tags={DIGEST_TAG: digest}, limit=1)
    found = store.metadata.list_artifact_versions(flt)
    return found[0] if found else None


# -- checking the arguments ---------------------------------------------------------------------
class _Options:
    """The arguments that need no data to check, checked before anything is read or written."""

    def __init__(self, name: str, context: str | None, kind: str, tags: dict[str, str],
                 aliases: tuple[str, ...]) -> None:
        self.name, self.context, self.kind, self.tags, self.aliases = name, context, kind, tags, aliases

    @classmethod
    def check(
        cls,
        name: str,
        context: str | None,
        kind: str,
        tags: Mapping[str, str] | None,
        aliases: Iterable[str],
        store_bytes: bool | None,
    ) -> _Options:
        from ..refs import validate_alias

        validate_name(name, "dataset name")
        validate_name(kind, "artifact kind")
        if context is not None:
            validate_name(context, "dataset context")
        if store_bytes not in (None, True, False):
            raise InvalidArgument(
                f"store_bytes must be True, False or None, got {store_bytes!r}",
                hint="True stores Parquet, False records a reference, None decides by size",
            )
        user_tags = {str(k): str(v) for k, v in (tags or {}).items()}
        reserved = sorted(k for k in user_tags if k.startswith("lineal."))
        if reserved:
            raise InvalidArgument(
                f"tag keys starting with 'lineal.' are reserved: {', '.join(reserved)}",
                hint="lineal sets those itself; choose another key",
            )
        alias_list = tuple(validate_alias(a) for a in aliases)
        return cls(name, context, kind, user_tags, alias_list)


def _is_reference(value: Any) -> bool:
    if isinstance(value, ArtifactVersion):
        return True
    # A string naming an existing file or folder is data; any other string is a reference.
    return isinstance(value, str) and not Path(value).exists()


def _resolve(store: Store, ref: str | ArtifactVersion, project: str) -> ArtifactVersion:
    version = resolve_artifact(ref, store, project=project, want="artifact")
    if "dataset" not in version.metadata:
        raise InvalidArgument(
            f"{version.ref} is a {version.kind} artifact, not a dataset",
            hint="log it with run.log_dataset, or consume it with run.use_artifact",
        )
    return version


def _dataset_digest(version: ArtifactVersion) -> str:
    return str(version.metadata["dataset"]["digest"])


def _read(data: Any, allow_empty: bool) -> tuple[pa.Table, Path | None]:
    """The data as an Arrow table, and its path when it was given as one."""
    from .convert import to_arrow

    path = Path(data).resolve() if isinstance(data, str | os.PathLike) else None
    try:
        table = to_arrow(data)
    except FileNotFoundError as exc:
        raise NotFound(str(exc), hint="check the path, or log the data itself") from exc
    if table.num_rows == 0 and not allow_empty:
        raise EmptyDatasetError(
            f"the {type(data).__name__} has columns but no rows",
            hint="check the step that produced it, or pass allow_empty=True to record it anyway",
        )
    return table, path


def _columns(value: str | Iterable[str] | None, what: str, names: set[str]) -> list[str]:
    if value is None:
        return []
    columns = [value] if isinstance(value, str) else list(value)
    missing = [c for c in columns if c not in names]
    if missing:
        raise InvalidArgument(
            f"{what} column(s) {', '.join(map(repr, missing))} are not in the data",
            hint=f"the columns are: {', '.join(sorted(names))[:300]}",
        )
    return columns


def _extras(
    description: DatasetDescription,
    source: str | None,
    context: str | None,
    targets: str | Iterable[str] | None,
    predictions: str | Iterable[str] | None,
    column_tags: Mapping[str, Iterable[str]] | None,
) -> dict[str, Any]:
    names = {c.name for c in description.schema}
    tagged: dict[str, list[str]] = {}
    for column, column_tag_list in (column_tags or {}).items():
        _columns(column, "tagged", names)
        values = [column_tag_list] if isinstance(column_tag_list, str) else list(column_tag_list)
        tagged[column] = sorted({validate_name(str(v), "column tag") for v in values})
    if source is not None and not isinstance(source, str):
        source = os.fspath(source)
    return {
        "source": source,
        "context": context,
        "targets": _columns(targets, "target", names),
        "predictions": _columns(predictions, "prediction", names),
        "column_tags": tagged,
    }


def _choose_storage(store_bytes: bool | None, nbytes: int, *, in_memory: bool) -> bool:
    if store_bytes is not None:
        return store_bytes
    return in_memory or nbytes <= STORE_LIMIT_BYTES


# -- writing -------------------------------------------------------------------------------------
def _new_version(
    run: ActiveRun,
    table: pa.Table,
    path: Path | None,
    description: DatasetDescription,
    extras: dict[str, Any],
    options: _Options,
    store_it: bool,
    metadata: Mapping[str, Any] | None,
    *,
    producer: str | None,
    progress: ProgressOption = True,
) -> NewArtifactVersion:
    """Store the bytes if asked (the only write before the version), and describe the version."""
    from .convert import file_format
    from .digest import DIGEST_VERSION

    store = run.store
    is_directory = False
    listing: dict[str, Any] = {}
    data_format: str | None
    if store_it:
        digest, size, uri = _store_parquet(store, table, options.name, progress)
        storage, data_format = Storage.STORED, "parquet"
    elif path is not None:
        from ..artifacts import hash_cache
        from ..content import reference_digest

        digest, size, uri, found = reference_digest(str(path), hash_cache(store))
        storage, data_format, is_directory = Storage.REFERENCE, file_format(path), path.is_dir()
        # Like any directory artifact, a folder's metadata says how many files it holds.
        listing = {"files": found["files"]} if "files" in found else {}
    else:
        # In-memory data recorded by reference: nothing lineal can re-read, so the dataset
        # digest is the identity, and the URI says where it came from if that is remote.
        digest, size, storage, data_format = description.digest, description.nbytes, Storage.REFERENCE, None
        source = extras.get("source") or ""
        remote = "://" in source and not source.startswith("file://")
        uri = source if remote else f"dataset:{description.digest}"
        extras = {**extras, "not_stored": NOT_STORED}
    body = {
        **description.to_dict(),
        "digest_rules": DIGEST_VERSION.decode(),
        "format": data_format,
        "stored": store_it,
        **extras,
    }
    tags = {**options.tags, DIGEST_TAG: description.digest}
    for tag, columns in sorted(_by_tag(extras["column_tags"]).items()):
        tags[_COLUMN_TAG_PREFIX + tag] = ",".join(columns)
    return NewArtifactVersion(
        project=run.project,
        name=options.name,
        kind=options.kind,
        digest=digest,
        uri=uri,
        size=size,
        storage=storage,
        is_directory=is_directory,
        metadata={**(metadata or {}), **listing, "dataset": body},
        tags=tags,
        aliases=options.aliases,
        producer_run_id=producer,
    )


def _by_tag(column_tags: Mapping[str, list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for column, values in column_tags.items():
        for value in values:
            out.setdefault(value, []).append(column)
    return out


def _store_parquet(store: Store, table: pa.Table, name: str, progress: ProgressOption = True
                   ) -> tuple[str, int, str]:
    """Write ``table`` as Parquet to a temporary file, then into the blob store."""
    import pyarrow as pa
    from pyarrow import parquet

    from ..progress import transfer

    with tempfile.TemporaryDirectory(prefix="lineal-dataset-") as tmp:
        target = Path(tmp) / "data.parquet"
        try:
            parquet.write_table(table, target, compression="zstd")
        except (pa.ArrowException, OSError) as exc:
            raise InvalidArgument(
                f"cannot write the data as Parquet: {exc}",
                hint="pass store_bytes=False to record it by reference only",
            ) from exc
        with transfer(target.stat().st_size, f"storing {name}", progress) as advance:
            info = store.blobs.put_file(target, progress=advance)
    return info.digest, info.size, info.uri


def _add_edges(
    run: ActiveRun, version: ArtifactVersion, direction: EdgeDirection, context: str | None,
    *, produced: bool,
) -> None:
    """The run's edge to ``version``, with the context as its role."""
    metadata = run.store.metadata
    if direction is EdgeDirection.OUTPUT:
        if produced:  # one output edge, whose role is the context if there is one
            metadata.add_edge(run.id, version.id, direction, context or "output", run.actor)
        return
    metadata.add_edge(run.id, version.id, direction, context or "input", run.actor)
