"""Removing bytes: ``lineal gc`` (what nothing uses) and ``lineal purge`` (what must go).

**gc** removes what interrupted writes leave in the blob store: temporary files of a local
folder's atomic writes, unfinished S3 multipart uploads, and blobs no live artifact version,
directory manifest or registry entry uses (a registry entry links an artifact version, so its
bytes are that version's). Which blobs are used is decided by the same pass ``lineal verify``
runs, so the two never disagree. Anything younger than ``older_than`` is kept: a temporary file
or upload may belong to a writer still running, and a new blob is written before the version
that names it is recorded. On local folders a writer that reuses an existing blob refreshes its
time, so an old orphan that a writer is about to reference counts as new too.

**purge** deletes the bytes of one version on request (right to erasure) and keeps everything
else: the version, its metadata, its lineage, and a ledgered record of when, by whom and why.
The record is written first, so an interrupted purge is finished by running it again; content
another live version uses (the same file under another name, a file shared by two folders) is
kept and the report says which versions hold it.

>>> lineal.gc(dry_run=True).to_dict()                               # doctest: +SKIP
>>> lineal.purge("customers@v3", reason="GDPR request #1234")       # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from .entities import ArtifactVersion, Storage, default_actor
from .errors import IntegrityError, InvalidArgument, LinealError, NotFound, Purged, StoreError
from .store import Store, default_store
from .store.base import Leftover

__all__ = ["GcReport", "PurgeReport", "check_not_purged", "gc", "purge"]

DEFAULT_AGE = "1h"
# Problems of `lineal verify` after which the set of used blobs is not known: a directory whose
# manifest cannot be read may use any blob, so nothing may be removed until it is repaired.
_UNCERTAIN = ("missing-manifest", "bad-manifest")


@dataclass(slots=True)
class GcReport:
    """What ``gc`` removed (or, with ``dry_run``, would remove) and what it kept as too young."""

    dry_run: bool
    cutoff: float
    """Epoch seconds: only what was last written before this is removed."""
    leftovers: list[Leftover] = field(default_factory=list)
    blobs: dict[str, int] = field(default_factory=dict)
    """Unreferenced blobs removed: ``{digest: size}``."""
    young_leftovers: int = 0
    young_blobs: int = 0

    @property
    def bytes_freed(self) -> int:
        return sum(item.size for item in self.leftovers) + sum(self.blobs.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "cutoff": self.cutoff,
            "leftovers": [item.to_dict() for item in self.leftovers],
            "blobs": [{"digest": d, "size": n} for d, n in sorted(self.blobs.items())],
            "young_leftovers": self.young_leftovers,
            "young_blobs": self.young_blobs,
            "bytes_freed": self.bytes_freed,
        }


def gc(
    *, dry_run: bool = False, older_than: timedelta | str = DEFAULT_AGE, store: Store | None = None
) -> GcReport:
    """Remove leftover temporary files, unfinished uploads and unreferenced blobs last written
    before ``older_than`` ago (``"1h"``, ``"30m"``, ``"2d"``, a date, or a timedelta).

    Never removes a blob a live version, manifest or registry entry uses. IntegrityError, with
    nothing removed, when a directory manifest cannot be read (``lineal verify`` names it).
    """
    from .verify import verify_store

    store = store or default_store()
    report = GcReport(dry_run, _cutoff(older_than))
    # Listed (inside verify_store) before the references are read: a blob written after the
    # listing is not considered, one written before and referenced since is younger than cutoff.
    checked = verify_store(store, check_blobs=False)
    uncertain = [p for p in checked.problems if p.kind in _UNCERTAIN]
    if uncertain:
        raise IntegrityError(
            f"nothing removed: {uncertain[0]}; the blobs that directory uses are unknown",
            hint="run `lineal verify` and repair the store first",
        )
    if checked.leftovers_unlisted:
        raise StoreError(f"nothing removed: {checked.leftovers_unlisted}",
                         hint="gc needs to list (and abort) unfinished uploads under the prefix")
    for leftover in checked.leftovers:
        if leftover.modified >= report.cutoff:
            report.young_leftovers += 1
            continue
        if not dry_run:
            store.blobs.remove_leftover(leftover)
        report.leftovers.append(leftover)
    for digest in checked.unreferenced:
        try:
            size, written = store.blobs.size(digest), store.blobs.modified(digest)
        except NotFound:
            continue  # removed meanwhile
        if written >= report.cutoff:  # read again now: a writer may have just reused it
            report.young_blobs += 1
            continue
        if dry_run or store.blobs.delete(digest):
            report.blobs[digest] = size
    return report


def _cutoff(older_than: timedelta | str) -> float:
    if isinstance(older_than, timedelta):
        if older_than < timedelta(0):
            raise InvalidArgument(f"older_than must not be negative, got {older_than}")
        return time.time() - older_than.total_seconds()
    from .times import EXAMPLES, parse_when

    if not isinstance(older_than, str) or not older_than.strip():
        raise InvalidArgument(f"older_than must be an age like '1h' or '30m', got {older_than!r}")
    try:
        return parse_when(older_than.strip()).start_us / 1_000_000
    except InvalidArgument:
        raise InvalidArgument(f"older_than {older_than!r} is not an age or a time",
                              hint=f"use e.g. 30m, 1h, 2d, or {EXAMPLES}") from None


# -- purge ---------------------------------------------------------------------------------------
@dataclass(slots=True)
class PurgeReport:
    """What ``purge`` deleted, and what it kept because other live versions use it."""

    version: ArtifactVersion
    recorded: bool
    """False when the version was already purged (this call finished deleting its bytes)."""
    deleted: dict[str, int] = field(default_factory=dict)
    """``{digest: size}`` of blobs deleted now."""
    already_gone: list[str] = field(default_factory=list)
    shared: dict[str, list[str]] = field(default_factory=dict)
    """Blobs kept: ``{digest: [versions using it]}``."""

    @property
    def bytes_freed(self) -> int:
        return sum(self.deleted.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.version.ref,
            "purged": None if self.version.purged is None else self.version.purged.to_dict(),
            "recorded": self.recorded,
            "deleted": [{"digest": d, "size": n} for d, n in sorted(self.deleted.items())],
            "already_gone": sorted(self.already_gone),
            "shared": {d: users for d, users in sorted(self.shared.items())},
            "bytes_freed": self.bytes_freed,
        }


def purge(
    ref: str, *, reason: str, project: str | None = None, store: Store | None = None
) -> PurgeReport:
    """Delete the bytes of the version ``ref`` names, keeping its metadata and lineage.

    The version records when, by whom (the OS user) and ``reason``; reads of its content then
    raise :class:`~lineal.errors.Purged`. A directory's files are deleted unless another live
    version uses them; the report lists what was kept and why.
    """
    from .verify import verify_store

    store = store or default_store()
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidArgument("a purge needs a reason", hint='pass --reason "..."')
    version = _resolve(store, ref, project)
    if version.storage is not Storage.STORED:
        raise InvalidArgument(
            f"{version.ref} is recorded by reference: lineal holds no bytes of it to purge",
            hint=f"delete the content at {version.uri} where it lives",
        )
    targets = _blobs_of(store, version)  # read before the record: the manifest is deleted too
    version, recorded = store.metadata.purge_artifact_version(
        version.id, reason, default_actor()
    )
    report = PurgeReport(version, recorded)
    started = time.time()
    checked = verify_store(store, check_blobs=False)  # users now leave this version out
    uncertain = [p for p in checked.problems if p.kind in _UNCERTAIN]
    if uncertain:
        raise IntegrityError(
            f"{version.ref}: purge recorded, but no bytes deleted: {uncertain[0]}; the blobs "
            "that directory uses are unknown",
            hint="repair the store (`lineal verify`), then run the purge again to delete them",
        )
    for digest in targets:
        if digest in checked.users:
            report.shared[digest] = sorted(set(checked.users[digest]))
            continue
        try:
            size, written = store.blobs.size(digest), store.blobs.modified(digest)
        except NotFound:
            report.already_gone.append(digest)
            continue
        if written >= started:  # a writer reused it since the check: a version may name it now
            report.shared[digest] = ["a version being logged now (run the purge again)"]
            continue
        if store.blobs.delete(digest):
            report.deleted[digest] = size
        else:
            report.already_gone.append(digest)
    if version.digest not in report.shared:
        _drop_cached_copy(store, version.digest)
    return report


def _resolve(store: Store, ref: str, project: str | None) -> ArtifactVersion:
    """What ``ref`` names by the one reference rule (:mod:`lineal.resolve`): a registered
    model's version (its model artifact) when a registered model has the name, else an
    artifact version (``customers@v3``); a digest always an artifact."""
    from .resolve import resolve

    return resolve(ref, store, project=project, want="any").require_artifact()


def _blobs_of(store: Store, version: ArtifactVersion) -> list[str]:
    """The version's blob, or its manifest and every file the manifest names."""
    if not version.is_directory:
        return [version.digest]
    from .content import read_manifest

    try:
        entries = read_manifest(store.blobs, version.digest)
    except NotFound:
        return [version.digest]  # an earlier, interrupted purge deleted the manifest last
    except LinealError as error:
        raise IntegrityError(f"{version.ref}: its manifest cannot be read ({error.message}), so "
                             "its files are unknown; nothing was purged",
                             hint="run `lineal verify`") from None
    members = list(dict.fromkeys(entry["digest"] for entry in entries))
    return [*members, version.digest]  # the manifest last: a retry can still find the files


def _drop_cached_copy(store: Store, digest: str) -> None:
    """Remove the materialised copy :func:`lineal.artifacts.local_path` keeps beside a local
    blob folder (directories), so no copy of purged content stays in the store's folder."""
    root = store.blobs.root_uri
    if not root.startswith("file://"):
        return  # remote stores cache per machine, under ~/.cache/lineal: not reachable from here
    cached = Path(root.removeprefix("file://")).parent / "cache" / "content" / digest.replace(":", "-")
    if cached.is_dir():
        shutil.rmtree(cached, ignore_errors=True)
    elif cached.exists():
        cached.unlink(missing_ok=True)


def check_not_purged(version: ArtifactVersion) -> None:
    """Raise :class:`~lineal.errors.Purged` if ``version``'s bytes were purged: called by every
    read of content, so the reason reaches whoever asks instead of "blob missing"."""
    if version.purged is not None:
        raise Purged(
            f"{version.ref}: its content was {version.purged}",
            hint="its metadata and lineage remain: `lineal artifacts show` displays them",
        )
