"""Upload sessions: where the bytes of an unfinished upload wait, inside the blob store.

A lineal server keeps no state of its own (several processes serve one store), so a resumable
upload's progress lives beside the blobs: any process can be asked how many bytes arrived,
take the next ones, and publish the blob. The session id is opaque to the area; the server
makes it (``upload_routes``).

- Local folders: one file, ``<root>/tmp/upload-<id>.part``, appended to. Every byte that
  arrived is kept, so a resumed upload continues at the exact byte where the connection broke.
  The file is in the folder's ``tmp/``: ``lineal gc`` removes abandoned ones as leftovers, and
  publishing is a rename (no copy).
- Object stores: pieces ``<prefix>/uploads/<id>/<offset>``, each an object committed when its
  request ends or it reaches :data:`PIECE` bytes. Publishing streams the pieces into the blob's key.
- Memory: a bytearray per session (tests).

Verification: :meth:`UploadArea.publish` takes ``verified=True`` when the caller hashed every
byte as it arrived (an upload sent in one request); otherwise the area hashes the bytes while
publishing and refuses a mismatch (:class:`~lineal.errors.IntegrityError`), publishing nothing.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ...errors import Conflict, IntegrityError, InvalidArgument, NotFound, StoreError
from ..base import BlobInfo
from .sink import Piece
from .writeback import Writeback

if TYPE_CHECKING:
    from .local import LocalBlobStore
    from .memory import MemoryBlobStore
    from .remote import FsspecBlobStore

__all__ = ["PIECE", "UploadArea", "UploadWriter", "check_upload_id"]

PIECE = 16 * 1024 * 1024
"""Largest object piece of a session in an object store: what a request holds in memory, and
what a broken request can lose at most."""
_UPLOAD_ID = re.compile(r"^[0-9a-f]{64}-[0-9]{1,19}-[0-9a-f]{32}$")
_PIECE_NAME = re.compile(r"^[0-9]{20}$")
_READ = 4 * 1024 * 1024


def check_upload_id(upload_id: str) -> str:
    """``upload_id`` if it has the shape the server gives ids, else InvalidArgument (an id ends
    up in file and object names: nothing else may get through)."""
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise InvalidArgument(f"not an upload session id: {upload_id!r}")
    return upload_id


def _gone(upload_id: str) -> NotFound:
    return NotFound(f"no upload session {upload_id}",
                    hint="it was completed, cancelled or removed as abandoned: start a new one")


class UploadWriter(abc.ABC):
    """Appends to one session; ``close()`` keeps what was written (it did arrive)."""

    @abc.abstractmethod
    def write(self, data: Piece) -> None:
        """Append ``data`` (the writer keeps no reference to it once this returns)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Make what was written durable and release the session."""

    def __enter__(self) -> UploadWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class UploadArea(abc.ABC):
    """The upload sessions of one blob store."""

    @abc.abstractmethod
    def create(self, upload_id: str) -> None:
        """Start an empty session."""

    @abc.abstractmethod
    def received(self, upload_id: str) -> int:
        """Bytes the session holds, from offset 0 without a gap; NotFound if there is none."""

    @abc.abstractmethod
    def writer(self, upload_id: str, offset: int) -> UploadWriter:
        """A writer appending at ``offset``; Conflict unless the session holds exactly
        ``offset`` bytes (or another request is writing to it)."""

    @abc.abstractmethod
    def publish(self, upload_id: str, digest: str, size: int, *, verified: bool) -> BlobInfo:
        """Publish the session's bytes as the blob ``digest`` and end the session.
        IntegrityError (nothing published, session removed) if they are not ``size`` bytes
        hashing to ``digest``."""

    @abc.abstractmethod
    def discard(self, upload_id: str) -> None:
        """End the session without publishing (gone already is not an error)."""

    def hash(self, upload_id: str) -> str:
        """``sha256:<hex>`` of the bytes the session holds (for a session started without a
        digest and not received in one request)."""
        sha = hashlib.sha256()
        for chunk in self._chunks(upload_id):
            sha.update(chunk)
        return "sha256:" + sha.hexdigest()

    @abc.abstractmethod
    def _chunks(self, upload_id: str) -> Iterator[bytes]:
        """The bytes the session holds, in chunks."""


def _check_size(upload_id: str, actual: int, size: int) -> None:
    if actual != size:
        raise IntegrityError(f"upload {upload_id} holds {actual} bytes, not {size}",
                             hint="send the missing bytes, or start again")


def _mismatch(actual: str, digest: str) -> IntegrityError:
    return IntegrityError(f"the uploaded bytes hash to {actual}, not {digest}",
                          hint="the upload was damaged: send it again")


# -- local folders -------------------------------------------------------------------------------
class LocalUploads(UploadArea):
    def __init__(self, store: LocalBlobStore) -> None:
        self.store = store

    def _path(self, upload_id: str) -> Path:
        return self.store.root / "tmp" / f"upload-{check_upload_id(upload_id)}.part"

    def create(self, upload_id: str) -> None:
        path = self._path(upload_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "xb"):
                pass
        except FileExistsError as exc:
            raise Conflict(f"upload session {upload_id} exists already") from exc

    def received(self, upload_id: str) -> int:
        try:
            return self._path(upload_id).stat().st_size
        except FileNotFoundError as exc:
            raise _gone(upload_id) from exc

    def writer(self, upload_id: str, offset: int) -> UploadWriter:
        try:
            out = open(self._path(upload_id), "r+b")  # noqa: SIM115 - closed by the writer
        except FileNotFoundError as exc:
            raise _gone(upload_id) from exc
        try:
            _lock(out)
            held = os.fstat(out.fileno()).st_size
            if held != offset:
                raise Conflict(f"upload {upload_id} holds {held} bytes: send from offset "
                               f"{held}, not {offset}")
            out.seek(held)
        except BaseException:
            out.close()
            raise
        return _FileWriter(out, held)

    def publish(self, upload_id: str, digest: str, size: int, *, verified: bool) -> BlobInfo:
        path = self._path(upload_id)
        try:
            held = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError as exc:
            raise _gone(upload_id) from exc
        with held:
            _lock(held)  # no request still writing to what is published
            try:
                _check_size(upload_id, os.fstat(held.fileno()).st_size, size)
                if not verified:
                    from .local import hash_file

                    computed, _ = hash_file(path)
                    if computed != digest:
                        raise _mismatch(computed, digest)
                created = self.store.publish_verified(path, digest)
            except (IntegrityError, OSError):
                path.unlink(missing_ok=True)
                raise
        return BlobInfo(digest, size, self.store.uri(digest), created)

    def discard(self, upload_id: str) -> None:
        self._path(upload_id).unlink(missing_ok=True)

    def _chunks(self, upload_id: str) -> Iterator[bytes]:
        try:
            held = open(self._path(upload_id), "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError as exc:
            raise _gone(upload_id) from exc
        with held:
            _lock(held)  # no request still writing to it
            while chunk := held.read(_READ):
                yield chunk


LOCK_WAIT = 5.0
"""Seconds to wait for a session file's lock before answering Conflict."""


def _lock(out: BinaryIO, wait: float | None = None) -> None:
    """An exclusive lock on the session file: a client retrying while its first request still
    writes (to this or another process) gets Conflict rather than interleaved bytes.

    The lock is waited for a moment (:data:`LOCK_WAIT`) before giving up. A lock taken with
    ``flock`` belongs to the open file, and a process forked while the file is open (any
    thread starting a subprocess, such as a ``git`` probe) shares that open file until it
    execs: for that moment the lock stays held after this process closed its copy."""
    try:
        import fcntl
    except ImportError:  # Windows: one writer per session is the client's business
        return
    deadline = time.monotonic() + (LOCK_WAIT if wait is None else wait)
    pause = 0.002
    while True:
        try:
            fcntl.flock(out.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError as exc:
            if time.monotonic() >= deadline:
                raise Conflict("another request is writing to this upload session",
                               hint="wait for it to end, then ask how many bytes arrived") from exc
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


class _FileWriter(UploadWriter):
    def __init__(self, out: BinaryIO, offset: int) -> None:
        self.out = out
        self.writeback = Writeback(out.fileno(), offset)

    def write(self, data: Piece) -> None:
        self.out.write(data)
        self.out.flush()  # the kernel has the bytes: their write-back can start
        self.writeback.wrote(memoryview(data).nbytes)

    def close(self) -> None:
        if self.out.closed:
            return
        try:
            self.out.flush()
            os.fsync(self.out.fileno())  # what the session reports as received survives a crash
        finally:
            self.out.close()


# -- object stores -------------------------------------------------------------------------------
class FsspecUploads(UploadArea):
    def __init__(self, store: FsspecBlobStore) -> None:
        self.store = store
        self.fs = store.fs

    def folder(self, upload_id: str) -> str:
        return f"{self.store.key_root}/uploads/{check_upload_id(upload_id)}"

    def _piece(self, upload_id: str, offset: int) -> str:
        return f"{self.folder(upload_id)}/{offset:020d}"

    def create(self, upload_id: str) -> None:
        # An empty first piece says the session exists (object stores have no folders).
        self._call(self.fs.pipe_file, self._piece(upload_id, 0), b"")

    def _pieces(self, upload_id: str) -> list[tuple[int, int, str]]:
        """``(offset, size, key)`` of the pieces forming the bytes from 0 without a gap."""
        try:
            listing = self.fs.ls(self.folder(upload_id), detail=True)
        except FileNotFoundError as exc:
            raise _gone(upload_id) from exc
        except Exception as exc:
            from .remote import raise_backend_error

            raise_backend_error(exc, f"cannot read upload session {upload_id}")
        found = sorted((int(name), int(item["size"]), item["name"]) for item in listing
                       if _PIECE_NAME.fullmatch(name := item["name"].rsplit("/", 1)[-1]))
        if not found:
            raise _gone(upload_id)
        chain: list[tuple[int, int, str]] = []
        end = 0
        for offset, size, key in found:
            if offset == end and (size or not chain):
                chain.append((offset, size, key))
                end += size
        return chain

    def received(self, upload_id: str) -> int:
        return sum(size for _, size, _ in self._pieces(upload_id))

    def writer(self, upload_id: str, offset: int) -> UploadWriter:
        held = self.received(upload_id)
        if held != offset:
            raise Conflict(f"upload {upload_id} holds {held} bytes: send from offset {held}, "
                           f"not {offset}")
        return _PieceWriter(self, upload_id, offset)

    def publish(self, upload_id: str, digest: str, size: int, *, verified: bool) -> BlobInfo:
        pieces = self._pieces(upload_id)
        try:
            _check_size(upload_id, sum(s for _, s, _ in pieces), size)
            if self.store.reuse(digest):
                created = False
            else:
                self.store.stream_in(self._read(pieces), digest, size,
                                     verify=not verified)
                created = True
        except IntegrityError:
            self.discard(upload_id)
            raise
        self.discard(upload_id)
        return BlobInfo(digest, size, self.store.uri(digest), created)

    def _read(self, pieces: list[tuple[int, int, str]]) -> Iterator[bytes]:
        for _, size, key in pieces:
            if not size:
                continue
            with self.fs.open(key, "rb") as stream:
                while chunk := stream.read(_READ):
                    yield chunk

    def _chunks(self, upload_id: str) -> Iterator[bytes]:
        return self._read(self._pieces(upload_id))

    def discard(self, upload_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._call(self.fs.rm, self.folder(upload_id), recursive=True)

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except FileNotFoundError:
            raise
        except Exception as exc:
            from .remote import raise_backend_error

            raise_backend_error(exc, f"cannot write upload sessions under {self.store.root_uri}")


class _PieceWriter(UploadWriter):
    def __init__(self, area: FsspecUploads, upload_id: str, offset: int) -> None:
        self.area = area
        self.upload_id = upload_id
        self.offset = offset
        self.held: list[bytes] = []
        self.size = 0

    def write(self, data: Piece) -> None:
        self.held.append(bytes(data))  # a caller may reuse its buffer
        self.size += len(data)
        if self.size >= PIECE:
            self._commit()

    def _commit(self) -> None:
        if not self.size:
            return
        data = b"".join(self.held)
        self.held, self.size = [], 0
        self.area._call(self.area.fs.pipe_file, self.area._piece(self.upload_id, self.offset),
                        data)
        self.offset += len(data)

    def close(self) -> None:
        self._commit()


# -- memory (tests) ------------------------------------------------------------------------------
class MemoryUploads(UploadArea):
    def __init__(self, store: MemoryBlobStore) -> None:
        self.store = store
        self.sessions: dict[str, bytearray] = {}

    def create(self, upload_id: str) -> None:
        self.sessions.setdefault(check_upload_id(upload_id), bytearray())

    def _get(self, upload_id: str) -> bytearray:
        try:
            return self.sessions[check_upload_id(upload_id)]
        except KeyError as exc:
            raise _gone(upload_id) from exc

    def received(self, upload_id: str) -> int:
        return len(self._get(upload_id))

    def writer(self, upload_id: str, offset: int) -> UploadWriter:
        held = self._get(upload_id)
        if len(held) != offset:
            raise Conflict(f"upload {upload_id} holds {len(held)} bytes: send from offset "
                           f"{len(held)}, not {offset}")
        return _BufferWriter(held)

    def publish(self, upload_id: str, digest: str, size: int, *, verified: bool) -> BlobInfo:
        data = bytes(self._get(upload_id))
        self.discard(upload_id)
        _check_size(upload_id, len(data), size)
        computed = "sha256:" + hashlib.sha256(data).hexdigest()
        if computed != digest:
            raise _mismatch(computed, digest)
        return self.store.put_bytes(data)

    def discard(self, upload_id: str) -> None:
        self.sessions.pop(upload_id, None)

    def _chunks(self, upload_id: str) -> Iterator[bytes]:
        yield bytes(self._get(upload_id))


class _BufferWriter(UploadWriter):
    def __init__(self, held: bytearray) -> None:
        self.held = held

    def write(self, data: Piece) -> None:
        self.held += data

    def close(self) -> None:
        pass


def no_uploads(store: object) -> StoreError:
    return StoreError(f"{type(store).__name__} cannot hold upload sessions")
