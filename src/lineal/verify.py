"""Check a store's content against its metadata: ``lineal verify``.

Three passes, each reporting every problem it finds rather than stopping at the first:

1. **Versions.** Every artifact version with storage ``stored`` must have its blob; a directory
   must have its manifest, the manifest must hash to the version's digest, and every file it
   names must have its blob. Recorded sizes must match.
2. **Blobs.** Every blob in the blob store is re-hashed (files read from disk for local stores,
   streamed through the BlobStore API for object stores) and must hash to its own name. A
   corrupt blob nobody uses yet is still a problem: logging that content later would find the
   blob "already stored" and point a new version at bad bytes.
3. **References.** Edges point at existing runs and versions; parents, producers, cache sources
   and aliases resolve. The database's foreign keys enforce most of this; a restored backup, a
   hand edit or a database without enforced keys can still break it, so it is checked anyway.

Versions whose bytes were purged on request (``lineal purge``) are counted, not checked: their
blobs are meant to be gone. What interrupted writes leave behind is listed but is not a problem
(nothing reads it): temporary files and unfinished multipart uploads (``leftovers``), and blobs
no live version, manifest or registry entry uses (``unreferenced``). ``lineal gc`` removes both.

The audit ledger (who changed which row) is verified separately by ``lineal audit verify``.

>>> report = verify_store(store)            # doctest: +SKIP
>>> report.ok, [str(p) for p in report.problems]   # doctest: +SKIP
(True, [])
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .entities import ArtifactVersion, Run, Storage
from .errors import IntegrityError, LinealError, NotFound, StoreError
from .store import Store
from .store.base import ArtifactFilter, Leftover, MetadataStore, RunFilter

__all__ = ["Problem", "VerifyReport", "check_local_copy", "content_digest", "list_blobs", "verify_store"]

_PAGE = 1000
_CHUNK = 4 * 1024 * 1024
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong: its ``kind`` (e.g. ``corrupt-blob``), what it is about (a version ref,
    a blob, an edge), the digest concerned if any, and a sentence saying what is wrong."""

    kind: str
    subject: str
    detail: str
    digest: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "subject": self.subject, "digest": self.digest,
                "detail": self.detail}


@dataclass(slots=True)
class VerifyReport:
    """What ``verify_store`` checked and what it found."""

    blobs_checked: bool = True
    """False with ``check_blobs=False``: blobs were checked for presence and size, not re-hashed."""
    versions: int = 0
    stored_versions: int = 0
    reference_versions: int = 0
    """Versions whose bytes lineal does not hold (storage ``reference``): not checked."""
    blobs: int = 0
    blob_bytes: int = 0
    purged_versions: int = 0
    """Stored versions whose bytes were purged on request: their blobs are not expected."""
    unreferenced_blobs: int = 0
    """Blobs no version uses (left by a crash before a version was recorded, or by a purge that
    was interrupted): not a problem; ``lineal gc`` removes them."""
    unreferenced: list[str] = field(default_factory=list)
    unreferenced_bytes: int = 0
    leftovers: list[Leftover] = field(default_factory=list)
    """Temporary files and unfinished uploads of interrupted writes: ``lineal gc`` removes them."""
    leftovers_unlisted: str | None = None
    """Why the leftovers could not be listed (e.g. no permission to list S3 multipart uploads)."""
    users: dict[str, list[str]] = field(default_factory=dict, repr=False)
    """Which live versions use each blob (``ref``, ``ref (manifest)``, ``ref:path``)."""
    runs: int = 0
    edges: int = 0
    references: int = 0
    """Metadata references checked: edge ends, parents, producers, cache sources, aliases."""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def clean(self) -> bool:
        """No problems, and nothing for ``lineal gc`` to remove either."""
        return self.ok and not self.unreferenced and not self.leftovers

    def add(self, kind: str, subject: str, detail: str, digest: str | None = None) -> None:
        self.problems.append(Problem(kind, subject, detail, digest))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "blobs_checked": self.blobs_checked,
            "versions": self.versions,
            "stored_versions": self.stored_versions,
            "reference_versions": self.reference_versions,
            "blobs": self.blobs,
            "blob_bytes": self.blob_bytes,
            "purged_versions": self.purged_versions,
            "unreferenced_blobs": self.unreferenced_blobs,
            "unreferenced": self.unreferenced,
            "unreferenced_bytes": self.unreferenced_bytes,
            "leftovers": [leftover.to_dict() for leftover in self.leftovers],
            "leftovers_unlisted": self.leftovers_unlisted,
            "runs": self.runs,
            "edges": self.edges,
            "references": self.references,
            "problems": [p.to_dict() for p in self.problems],
        }


def list_blobs(store: Store) -> dict[str, int]:
    """``{digest: size}`` of every blob the blob store holds (one listing, one size each)."""
    sizes: dict[str, int] = {}
    for digest in store.blobs.iter_digests():
        try:
            sizes[digest] = store.blobs.size(digest)
        except NotFound:  # removed between the listing and the size request
            continue
    return sizes


def verify_store(
    store: Store,
    *,
    check_blobs: bool = True,
    progress: Progress | None = None,
    inventory: dict[str, int] | None = None,
) -> VerifyReport:
    """Verify versions against blobs, re-hash blobs, and check metadata references.

    ``progress`` is called with the number of bytes hashed as hashing proceeds; ``inventory``
    is the result of :func:`list_blobs` if the caller already has it (to size a progress bar).
    """
    report = VerifyReport(blobs_checked=check_blobs)
    held = list_blobs(store) if inventory is None else inventory
    users: dict[str, list[str]] = defaultdict(list)
    versions = list(_all_versions(store.metadata))
    for version in versions:
        _check_version(store, version, held, users, report)
    if check_blobs:
        for digest in sorted(held):
            _rehash(store, digest, users.get(digest, []), report, progress)
    report.unreferenced = sorted(held.keys() - users.keys())
    report.unreferenced_blobs = len(report.unreferenced)
    report.unreferenced_bytes = sum(held[digest] for digest in report.unreferenced)
    report.users = dict(users)
    try:
        report.leftovers = list(store.blobs.leftovers())
    except StoreError as error:  # leftovers are not corruption: say so, check the rest
        report.leftovers_unlisted = str(error)
    _check_references(store.metadata, versions, report)
    return report


# -- pass 1: versions ----------------------------------------------------------------------------
def _all_versions(metadata: MetadataStore) -> Iterator[ArtifactVersion]:
    seen: set[str] = set()
    offset = 0
    while True:
        page = metadata.list_artifact_versions(ArtifactFilter(limit=_PAGE, offset=offset))
        for version in page:
            if version.id not in seen:  # a concurrent insert can shift a page by one
                seen.add(version.id)
                yield version
        if len(page) < _PAGE:
            return
        offset += _PAGE


def _check_version(
    store: Store,
    version: ArtifactVersion,
    held: dict[str, int],
    users: dict[str, list[str]],
    report: VerifyReport,
) -> None:
    report.versions += 1
    if version.storage is not Storage.STORED:
        report.reference_versions += 1
        return
    report.stored_versions += 1
    if version.purged is not None:
        report.purged_versions += 1
        return
    ref, digest = version.ref, version.digest
    if not version.is_directory:
        users[digest].append(ref)
        if digest not in held:
            report.add("missing-blob", ref, f"its blob {digest} is missing from "
                       f"{store.blobs.root_uri}", digest)
        elif held[digest] != version.size:
            report.add("size-mismatch", ref, f"blob {digest} is {held[digest]} bytes, "
                       f"recorded {version.size}", digest)
        return
    users[digest].append(f"{ref} (manifest)")
    if digest not in held:
        report.add("missing-manifest", ref, f"its directory manifest {digest} is missing from "
                   f"{store.blobs.root_uri}", digest)
        return
    try:
        from .content import read_manifest

        entries = read_manifest(store.blobs, digest)
    except LinealError as error:  # digest mismatch, not a manifest, a path escaping the folder
        report.add("bad-manifest", ref, f"manifest {digest}: {error.message}; its files cannot "
                   "be checked", digest)
        return
    except (ValueError, KeyError, TypeError) as error:  # not JSON, or not shaped like a manifest
        report.add("bad-manifest", ref, f"manifest {digest} cannot be read: {error!r}", digest)
        return
    total = 0
    for entry in entries:
        member, member_digest, size = entry["path"], entry["digest"], int(entry["size"])
        total += size
        users[member_digest].append(f"{ref}:{member}")
        if member_digest not in held:
            report.add("missing-blob", f"{ref}:{member}", f"the blob of file {member!r} "
                       f"({member_digest}) is missing", member_digest)
        elif held[member_digest] != size:
            report.add("size-mismatch", f"{ref}:{member}", f"blob {member_digest} is "
                       f"{held[member_digest]} bytes, the manifest says {size}", member_digest)
    if total != version.size:
        report.add("size-mismatch", ref, f"its files add up to {total} bytes, recorded "
                   f"{version.size}", digest)


# -- pass 2: blobs -------------------------------------------------------------------------------
def _rehash(
    store: Store, digest: str, used_by: list[str], report: VerifyReport, progress: Progress | None
) -> None:
    sha = hashlib.sha256()
    size = 0
    try:
        with store.blobs.open(digest) as stream:
            while chunk := stream.read(_CHUNK):
                sha.update(chunk)
                size += len(chunk)
                if progress:
                    progress(len(chunk))
    except NotFound:
        return  # deleted since the listing; pass 1 reported it if a version needs it
    except (OSError, LinealError) as error:
        report.add("unreadable-blob", f"blob {digest}", f"cannot be read: {error}"
                   f"{_used(used_by)}", digest)
        return
    report.blobs += 1
    report.blob_bytes += size
    actual = "sha256:" + sha.hexdigest()
    if actual != digest:
        report.add("corrupt-blob", f"blob {digest}", f"content hashes to {actual} "
                   f"({size} bytes){_used(used_by)}", digest)


def _used(used_by: list[str]) -> str:
    if not used_by:
        return "; used by no version"
    shown = ", ".join(used_by[:5])
    more = f" and {len(used_by) - 5} more" if len(used_by) > 5 else ""
    return f"; used by {shown}{more}"


# -- pass 3: references --------------------------------------------------------------------------
def _all_runs(metadata: MetadataStore) -> Iterator[Run]:
    seen: set[str] = set()
    offset = 0
    while True:
        page = metadata.list_runs(RunFilter(limit=_PAGE, offset=offset))
        for run in page:
            if run.id not in seen:
                seen.add(run.id)
                yield run
        if len(page) < _PAGE:
            return
        offset += _PAGE


def _check_references(
    metadata: MetadataStore, versions: list[ArtifactVersion], report: VerifyReport
) -> None:
    runs = list(_all_runs(metadata))
    run_ids = {run.id for run in runs}
    version_ids = {version.id for version in versions}
    report.runs = len(runs)

    def check(present: bool, kind: str, subject: str, detail: str) -> None:
        report.references += 1
        if not present:
            report.add(kind, subject, detail)

    for run in runs:
        if run.parent_id is not None:
            check(run.parent_id in run_ids, "dangling-parent", f"run {run.id}",
                  f"its parent run {run.parent_id} does not exist")
        if run.cached_from is not None:
            check(run.cached_from in run_ids, "dangling-cache-source", f"run {run.id}",
                  f"it reused the outputs of run {run.cached_from}, which does not exist")
    for version in versions:
        if version.producer_run_id is not None:
            check(version.producer_run_id in run_ids, "dangling-producer", version.ref,
                  f"its producer run {version.producer_run_id} does not exist")
    edges = metadata.list_edges()
    report.edges = len(edges)
    for edge in edges:
        subject = f"{edge.direction} edge {edge.run_id} -> {edge.artifact_id} ({edge.role})"
        check(edge.run_id in run_ids, "dangling-edge", subject,
              f"run {edge.run_id} does not exist")
        check(edge.artifact_id in version_ids, "dangling-edge", subject,
              f"artifact version {edge.artifact_id} does not exist")
    _check_aliases(metadata, version_ids, report)


def _check_aliases(metadata: MetadataStore, version_ids: set[str], report: VerifyReport) -> None:
    """Aliases are only visible through the versions they point at, so a dangling one never
    shows in the other reads: the contract lists them as stored."""
    for record in metadata.artifact_aliases():
        report.references += 1
        subject = f"alias {record.alias!r} of artifact {record.artifact_id}"
        if record.version_id not in version_ids or record.version_artifact_id is None:
            report.add("dangling-alias", subject, f"it points at version {record.version_id}, "
                       "which does not exist")
        elif record.version_artifact_id != record.artifact_id:
            report.add("dangling-alias", subject, f"it points at version {record.version_id}, "
                       f"which belongs to another artifact ({record.version_artifact_id})")


# -- local copies --------------------------------------------------------------------------------
def content_digest(path: Path) -> str:
    """The digest lineal gives ``path``: of the bytes for a file, of the manifest of its files
    for a directory."""
    from .content import manifest_digest
    from .store.blobs.local import hash_file

    path = Path(path)
    if path.is_file():
        return hash_file(path)[0]
    entries = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest, size = hash_file(file)
        entries.append({"path": file.relative_to(path).as_posix(), "digest": digest, "size": size})
    return manifest_digest(entries)


def check_local_copy(version: ArtifactVersion, path: Path) -> None:
    """Raise IntegrityError unless the content at ``path`` has ``version``'s digest.

    Content lineal holds, and local files recorded by reference, can be checked; an object-store
    reference is identified by its ETag, not by a hash of its bytes, so it is not.
    """
    if version.storage is Storage.REFERENCE and not version.uri.startswith("file://"):
        return
    actual = content_digest(path)
    if actual != version.digest:
        what = ("the referenced content changed since it was logged"
                if version.storage is Storage.REFERENCE else "the stored content is corrupt")
        raise IntegrityError(
            f"{version.ref}: {what}: got {actual}, recorded {version.digest}",
            hint="run `lineal verify`" if version.storage is Storage.STORED else None,
        )
