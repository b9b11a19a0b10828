"""The two store contracts: metadata and blobs.

:class:`MetadataStore` is the one metadata contract. It is composed, for reading's sake, of
:class:`TrackingStore` (runs, artifacts, edges, the audit ledger; here),
:class:`~lineal.store.registry_base.RegistryStore` (registry and deployments) and
:class:`~lineal.store.lineage_base.LineageStore` (walks, taints, bulk import) and
:class:`~lineal.store.webhooks_base.WebhookStore` (webhooks and their deliveries); every
implementation implements all of it, so callers never test what a store can do. The types it
speaks besides the entities are in :mod:`lineal.store.types`.

The SDK, CLI and server speak only these interfaces. Implementations: ``SqlMetadataStore``
(SQLite, PostgreSQL, MySQL/MariaDB) and, for bytes, ``LocalBlobStore`` (a folder),
``FsspecBlobStore`` (S3, GCS, Azure...) and ``MemoryBlobStore`` (tests). A remote lineal server
implements the same two contracts over HTTP, so SDK calls do not change when a team moves from
the embedded store to a shared server. One conformance suite (``tests/store/``) runs against
every implementation.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..entities import (
    ArtifactVersion,
    Edge,
    EdgeDirection,
    LedgerEntry,
    MetricPoint,
    Run,
    RunError,
    RunStatus,
    Storage,
)
from ..inputs import check_page
from ..refs import ArtifactRef
from ..search.page import RunPage
from .auth_base import AuthStore
from .lineage_base import LineageStore
from .registry_base import RegistryStore
from .types import AliasRecord, AuditReport
from .webhooks_base import WebhookStore

if TYPE_CHECKING:
    from .blobs.uploads import UploadArea

__all__ = [
    "ArtifactFilter",
    "BlobInfo",
    "BlobStore",
    "Leftover",
    "MetadataStore",
    "NewArtifactVersion",
    "RunFilter",
    "TrackingStore",
]


@dataclass(frozen=True, slots=True)
class RunFilter:
    project: str | None = None
    name: str | None = None
    kind: str | None = None
    status: RunStatus | str | None = None
    experiment: str | None = None
    parent_id: str | None = None
    cache_key: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    started_after_us: int | None = None
    started_before_us: int | None = None
    limit: int = 100
    offset: int = 0

    def __post_init__(self) -> None:
        check_page(self.limit, self.offset)


@dataclass(frozen=True, slots=True)
class ArtifactFilter:
    project: str | None = None
    name: str | None = None
    kind: str | None = None
    digest_prefix: str | None = None
    producer_run_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    created_after_us: int | None = None
    created_before_us: int | None = None
    limit: int = 100
    offset: int = 0

    def __post_init__(self) -> None:
        check_page(self.limit, self.offset)


@dataclass(frozen=True, slots=True)
class NewArtifactVersion:
    """What the SDK knows about content before the store numbers it."""

    project: str
    name: str
    kind: str
    digest: str
    uri: str
    size: int
    storage: Storage
    is_directory: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: Sequence[str] = ()
    producer_run_id: str | None = None
    producer_role: str = "output"
    """The role of the producer's one output edge (``log_artifact(role=...)``)."""


class TrackingStore(abc.ABC):
    """Runs, artifact versions, edges, aliases and the audit ledger: the part of
    :class:`MetadataStore` the tracking SDK writes."""

    # -- runs ----------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_run(self, run: Run, actor: str) -> None:
        """Insert a new run with its initial params and tags."""

    @abc.abstractmethod
    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        ended_at_us: int,
        error: RunError | None,
        actor: str,
        *,
        params: Mapping[str, Any] | None = None,
        metrics: Sequence[MetricPoint] = (),
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Set the final status of a run, writing the last buffered ``params``, ``metrics`` and
        ``tags`` (as :meth:`log_batch` would) in the same transaction: ending a run is then
        one commit, and the status never says finished without the data logged before it."""

    @abc.abstractmethod
    def log_batch(
        self,
        run_id: str,
        actor: str,
        params: Mapping[str, Any] | None = None,
        metrics: Sequence[MetricPoint] = (),
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Append params (immutable once logged), metric points and tags in one transaction."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run:
        """The run, with params, tags and latest metrics; NotFound if absent."""

    @abc.abstractmethod
    def run_ids_with_prefix(self, prefix: str, limit: int = 5) -> list[str]:
        """Up to ``limit`` run ids starting with ``prefix``, sorted (for short ids in the CLI)."""

    @abc.abstractmethod
    def list_runs(self, flt: RunFilter) -> list[Run]:
        """Runs matching the filter, newest first."""

    @abc.abstractmethod
    def search_runs(
        self,
        filter: str | None = None,  # noqa: A002 - the name MLflow users know
        order_by: Sequence[str] | str | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> RunPage:
        """One page of the runs a filter in the search language (``lineal.search.filter``)
        matches, sorted by ``order_by`` (newest first by default; runs missing a sort key last),
        with the token of the next page. The store parses the text itself, so a remote store
        receives exactly what the user typed; InvalidArgument names a bad token's column."""

    @abc.abstractmethod
    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        """Every point of one metric, ordered by step then time."""

    @abc.abstractmethod
    def heartbeat(self, run_id: str, at_us: int) -> None:
        """Record that the process of a running run is alive at ``at_us``: one update of the
        run's ``heartbeat_at``, outside the audit ledger (no entry per beat). Does nothing to
        a run that has ended or does not exist."""

    @abc.abstractmethod
    def close_stale_runs(
        self, cutoff_us: int, actor: str, *, project: str | None = None, dry_run: bool = False
    ) -> list[Run]:
        """End as ``killed`` every running run (of ``project``, if given) whose last heartbeat,
        or its start if it has none, is before ``cutoff_us``: ``ended_at`` is that last sign of
        life, the error ``lineal.Stale`` "heartbeat stopped at <time>". One transaction; a run
        that beats meanwhile is not closed. Returns the closed runs, oldest first; with
        ``dry_run`` returns the runs that would be closed and changes nothing."""

    # -- artifacts -----------------------------------------------------------------------------
    @abc.abstractmethod
    def create_artifact_version(
        self, spec: NewArtifactVersion, actor: str
    ) -> tuple[ArtifactVersion, bool]:
        """Number and insert a version, or return the existing one with the same digest under the
        same name (``created`` is then False)."""

    @abc.abstractmethod
    def resolve(self, ref: ArtifactRef) -> ArtifactVersion:
        """The version a reference names; NotFound with a hint otherwise."""

    @abc.abstractmethod
    def get_artifact_version(self, version_id: str) -> ArtifactVersion:
        """By internal id."""

    @abc.abstractmethod
    def list_artifact_versions(self, flt: ArtifactFilter) -> list[ArtifactVersion]:
        """Versions matching the filter, newest first."""

    @abc.abstractmethod
    def set_alias(self, project: str, name: str, alias: str, version: int, actor: str) -> None:
        """Point (or move) an alias at a version."""

    @abc.abstractmethod
    def remove_alias(self, project: str, name: str, alias: str, actor: str) -> None:
        """Remove an alias; NotFound if it does not exist."""

    @abc.abstractmethod
    def artifact_aliases(self) -> list[AliasRecord]:
        """Every artifact alias as stored, with the artifact of the version it names (None if
        that version does not exist): what ``lineal verify`` checks, since reads through the
        contract only ever show an alias beside its version."""

    @abc.abstractmethod
    def set_artifact_tags(self, version_id: str, tags: Mapping[str, str], actor: str) -> None:
        """Set or overwrite tags on a version."""

    @abc.abstractmethod
    def purge_artifact_version(
        self, version_id: str, reason: str, actor: str
    ) -> tuple[ArtifactVersion, bool]:
        """Record that a stored version's bytes are being deleted on request (right to erasure):
        when, by ``actor``, and why. The version, its metadata and lineage remain. Recorded
        before any byte is deleted, so an interrupted purge is finished by running it again
        (``created`` is then False and the first record stands). InvalidArgument for a version
        recorded by reference (lineal holds no bytes of it) or an empty reason."""

    # -- lineage edges -------------------------------------------------------------------------
    @abc.abstractmethod
    def add_edge(
        self, run_id: str, version_id: str, direction: EdgeDirection, role: str, actor: str
    ) -> None:
        """Record that a run consumed or produced a version (idempotent)."""

    @abc.abstractmethod
    def list_edges(self, *, run_id: str | None = None, version_id: str | None = None) -> list[Edge]:
        """Edges touching a run or a version."""

    # -- audit ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def ledger_entries(
        self, *, after_seq: int = 0, limit: int = 100, entity_id: str | None = None,
        actor: str | None = None, action: str | None = None, since_us: int | None = None,
    ) -> list[LedgerEntry]:
        """Audit entries in chain order."""

    @abc.abstractmethod
    def verify_ledger(self) -> AuditReport:
        """The hash chain checked, and every ledgered row against it."""

    # -- server requests -----------------------------------------------------------------------
    @abc.abstractmethod
    def request_response(self, key: str) -> tuple[bool, str | None]:
        """``(applied, response)`` of the server request with idempotency ``key``: whether a
        write recorded it (:mod:`lineal.store.idempotency`), and the JSON answer saved for it
        (None until saved). The server's own bookkeeping: no HTTP route serves it."""

    @abc.abstractmethod
    def save_request_response(self, key: str, response: str) -> None:
        """Keep the JSON answer of an applied request, for its retries; keys older than a day
        are forgotten as new ones are saved."""

    @abc.abstractmethod
    def info(self) -> dict[str, Any]:
        """What ``lineal store info`` shows about the metadata store, as JSON-ready values:

        ``backend`` (``sqlite``, ``postgresql``, ``mysql``...), ``url`` (no password),
        ``schema_revision`` (the database's) and ``schema_head`` (what this lineal expects),
        ``counts`` (rows per main table), ``database_file`` (``{path, bytes, wal_bytes}`` for
        a local file, else None) and ``database_bytes`` (the database's size, None when the
        backend will not say)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class MetadataStore(TrackingStore, RegistryStore, LineageStore, AuthStore, WebhookStore):
    """The metadata contract: runs, artifacts, edges, the audit ledger, the model registry,
    deployments, lineage walks, the server's API tokens (``AuthStore``, in ``auth_base.py``)
    and webhooks (``WebhookStore``, in ``webhooks_base.py``). ``Store.metadata`` is one of these, and every
    implementation (``SqlMetadataStore``; later an HTTP client) implements every method, so
    the SDK and CLI call them without asking what the store is."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    digest: str
    size: int
    uri: str
    created: bool
    """False when the store already held this content: no new bytes were written."""


@dataclass(frozen=True, slots=True)
class Leftover:
    """What a writer killed mid-way left in a blob store: a temporary file (local folders) or an
    unfinished multipart upload (S3). Never visible as a blob; only ``lineal gc`` removes it."""

    kind: str
    """``temp-file``, ``multipart-upload`` or ``upload-session`` (``lineal server``)."""
    name: str
    """A path, or ``key (upload id)``: what to show a person."""
    size: int
    modified: float
    """Epoch seconds of the last write (or of the upload's start): its age decides whether a
    writer may still own it."""
    handle: Any = field(default=None, compare=False, repr=False)
    """What the store needs to remove it (a path, a ``(key, upload id)`` pair)."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "size": self.size, "modified": self.modified}


class BlobStore(abc.ABC):
    """Content-addressed bytes, keyed by ``sha256:<hex>``. Writes are atomic: a blob is either
    absent or complete, never partial."""

    root_uri: str

    @abc.abstractmethod
    def put_file(self, src: Path, digest: str | None = None, *,
                 progress: Callable[[int], None] | None = None) -> BlobInfo:
        """Store a file; hash it unless ``digest`` is already known (it is then re-checked).

        ``progress`` is called with the number of bytes handled since its last call, as they
        are read (possibly from a worker thread); the calls add up to the file's size when the
        put returns, also when the store already held the content."""

    @abc.abstractmethod
    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store bytes (manifests, small payloads)."""

    @abc.abstractmethod
    def exists(self, digest: str) -> bool:
        """Whether the store holds this content."""

    def reuse(self, digest: str) -> bool:
        """Whether the store holds this content, asked by a writer about to reference it: stores
        that can (local folders) mark the blob as just written, so ``lineal gc``, which spares
        recent blobs, cannot delete an orphan between this check and the version's record."""
        return self.exists(digest)

    @abc.abstractmethod
    def open(self, digest: str) -> BinaryIO:
        """A readable binary stream; NotFound if absent."""

    @abc.abstractmethod
    def get_file(self, digest: str, dest: Path, *,
                 progress: Callable[[int], None] | None = None) -> None:
        """Copy a blob to ``dest`` atomically (temporary file, then rename); ``progress`` as
        for :meth:`put_file`, with the bytes written."""

    @abc.abstractmethod
    def uri(self, digest: str) -> str:
        """Where the blob lives, e.g. ``file:///...`` or ``s3://bucket/...``."""

    @abc.abstractmethod
    def size(self, digest: str) -> int:
        """The blob's size in bytes; NotFound if absent."""

    @abc.abstractmethod
    def iter_digests(self) -> Iterator[str]:
        """Every digest held (for ``lineal verify`` and garbage collection)."""

    @abc.abstractmethod
    def modified(self, digest: str) -> float:
        """Epoch seconds when the blob was last written (or reused, on local folders): how
        ``lineal gc`` tells a blob a writer is about to reference from an old orphan."""

    @abc.abstractmethod
    def delete(self, digest: str) -> bool:
        """Remove a blob (``lineal gc``, ``lineal purge``); False if it was not there."""

    def leftovers(self) -> Iterator[Leftover]:
        """Temporary files or unfinished uploads left by interrupted writes (none by default)."""
        return iter(())

    def remove_leftover(self, leftover: Leftover) -> None:
        """Remove one of :meth:`leftovers` (gone already is not an error)."""
        raise NotImplementedError(f"{type(self).__name__} leaves nothing behind")

    def uploads(self) -> UploadArea:
        """Where resumable uploads wait (``lineal server``'s upload sessions); StoreError for
        stores that cannot hold them."""
        from .blobs.uploads import no_uploads

        raise no_uploads(self)

    def read_bytes(self, digest: str) -> bytes:
        with self.open(digest) as stream:
            return stream.read()
