"""Blobs in a local folder: ``<root>/sha256/ab/cdef...``.

A write goes to ``<root>/tmp/`` first, is fsynced, then renamed into place; rename is atomic on
POSIX and Windows, so a reader (or a process that crashed mid-write) never sees a partial blob.
Hashing and copying run concurrently (hashlib and the kernel copy both release the GIL), so
storing a new file costs about the slower of the two rather than their sum.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ...errors import IntegrityError, InvalidArgument, NotFound, StoreError
from ..base import BlobInfo, BlobStore, Leftover

if TYPE_CHECKING:
    from .uploads import UploadArea

CHUNK = 4 * 1024 * 1024
_BLOB_PREFIX = re.compile(r"^[0-9a-f]{2}$")
_BLOB_NAME = re.compile(r"^[0-9a-f]{62}$")


def split_digest(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or not all(c in "0123456789abcdef" for c in hexpart):
        raise InvalidArgument(f"not a sha256 digest: {digest!r}", hint="expected sha256:<64 hex>")
    return hexpart


def hash_file(path: Path, progress: Callable[[int], None] | None = None) -> tuple[str, int]:
    """``(sha256:<hex>, size)`` of a file, read in large chunks (each reported to
    ``progress``)."""
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as src:
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        while n := src.readinto(buffer):
            sha.update(view[:n])
            size += n
            if progress is not None:
                progress(n)
    return "sha256:" + sha.hexdigest(), size


def check_source(src: Path) -> Path:
    """``src`` if it is a readable regular file, else InvalidArgument: a bad input is the
    caller's mistake, reported before anything is written (not a StoreError, which says the
    store itself failed)."""
    try:
        mode = src.stat().st_mode
    except FileNotFoundError as exc:
        raise InvalidArgument(f"{src} does not exist", hint="nothing was stored") from exc
    except OSError as exc:
        raise InvalidArgument(f"cannot read {src}: {exc}") from exc
    if not stat.S_ISREG(mode):
        raise InvalidArgument(f"{src} is not a regular file")
    if not os.access(src, os.R_OK):
        raise InvalidArgument(f"{src} is not readable", hint="check its permissions")
    return src


class LocalBlobStore(BlobStore):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root_uri = self.root.as_uri()
        self._tmp = self.root / "tmp"

    def _path(self, digest: str) -> Path:
        hexpart = split_digest(digest)
        return self.root / "sha256" / hexpart[:2] / hexpart[2:]

    def _tempfile(self) -> Path:
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._tmp, prefix="blob-", suffix=".part")
        os.close(fd)
        return Path(name)

    def _publish(self, tmp: Path, digest: str) -> bool:
        """Move a complete, fsynced temp file into place; False if the blob already existed."""
        final = self._path(digest)
        if self.reuse(digest):
            tmp.unlink(missing_ok=True)
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        return True

    def publish_verified(self, tmp: Path, digest: str) -> bool:
        """Publish a file the caller wrote inside this store (``<root>/tmp/``) and already
        hashed to ``digest``: fsync it, then rename it into place (no copy, no second hash).
        False if the blob was there already (``tmp`` is then removed)."""
        if tmp.parent != self._tmp:
            raise InvalidArgument(f"{tmp} is not a temporary file of {self.root}")
        with open(tmp, "rb+") as out:
            os.fsync(out.fileno())
        return self._publish(tmp, digest)

    def uploads(self) -> UploadArea:
        from .uploads import LocalUploads

        return LocalUploads(self)

    def reuse(self, digest: str) -> bool:
        """Whether the blob is already there; if so, its time becomes now (see the contract)."""
        try:
            os.utime(self._path(digest))
        except FileNotFoundError:
            return False
        except OSError:  # a read-only store: it is there, and gc cannot run on it either
            return self.exists(digest)
        return True

    def put_file(self, src: Path, digest: str | None = None, *,
                 progress: Callable[[int], None] | None = None) -> BlobInfo:
        src = check_source(Path(src))
        if digest is not None and self.reuse(digest):
            size = self.size(digest)
            if progress is not None:
                progress(size)
            return BlobInfo(digest, size, self.uri(digest), created=False)
        tmp = self._tempfile()
        try:
            computed, size = _hash_and_copy(src, tmp, progress)
            if digest is not None and computed != digest:
                raise IntegrityError(
                    f"{src} changed while it was being stored: expected {digest}, read {computed}"
                )
            created = self._publish(tmp, computed)
        except OSError as exc:
            raise StoreError(f"cannot store {src}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        return BlobInfo(computed, size, self.uri(computed), created)

    def put_bytes(self, data: bytes) -> BlobInfo:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if self.reuse(digest):
            return BlobInfo(digest, len(data), self.uri(digest), created=False)
        tmp = self._tempfile()
        try:
            with open(tmp, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            created = self._publish(tmp, digest)
        finally:
            tmp.unlink(missing_ok=True)
        return BlobInfo(digest, len(data), self.uri(digest), created)

    def exists(self, digest: str) -> bool:
        return self._path(digest).is_file()

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self._path(digest), "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} is missing from {self.root}") from exc

    def get_file(self, digest: str, dest: Path, *,
                 progress: Callable[[int], None] | None = None) -> None:
        path = self._path(digest)
        if not path.is_file():
            raise NotFound(f"blob {digest} is missing from {self.root}")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = sibling_tempfile(dest)
        try:
            if progress is None:
                shutil.copyfile(path, tmp)  # sendfile/copy_file_range: no Python-level loop
            else:
                _copy_counted(path, tmp, progress)
            os.replace(tmp, dest)
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} is missing from {self.root}") from exc
        except OSError as exc:
            raise StoreError(f"cannot copy {digest} to {dest}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)

    def uri(self, digest: str) -> str:
        return self._path(digest).as_uri()

    def size(self, digest: str) -> int:
        try:
            return self._path(digest).stat().st_size
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} is missing from {self.root}") from exc

    def modified(self, digest: str) -> float:
        try:
            return self._path(digest).stat().st_mtime
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} is missing from {self.root}") from exc

    def delete(self, digest: str) -> bool:
        path = self._path(digest)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreError(f"cannot delete {path}: {exc}") from exc
        _fsync_dir(path.parent)
        return True

    def leftovers(self) -> Iterator[Leftover]:
        """Files in ``<root>/tmp/``: every write renames its temp file away or deletes it, so
        one still there belongs to a writer still running or one that was killed."""
        if not self._tmp.is_dir():
            return
        for path in sorted(self._tmp.iterdir()):
            try:
                info = path.lstat()
            except FileNotFoundError:  # its writer finished meanwhile
                continue
            if stat.S_ISREG(info.st_mode):
                yield Leftover("temp-file", str(path), info.st_size, info.st_mtime, path)

    def remove_leftover(self, leftover: Leftover) -> None:
        path = Path(leftover.handle)
        if path.parent != self._tmp:
            raise InvalidArgument(f"{path} is not a temporary file of {self.root}")
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot delete {path}: {exc}") from exc

    def iter_digests(self) -> Iterator[str]:
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for prefix in sorted(base.iterdir()):
            if not (_BLOB_PREFIX.fullmatch(prefix.name) and prefix.is_dir()):
                continue
            for blob in sorted(prefix.iterdir()):
                # Only complete blobs have a digest-shaped name; anything else is not one.
                if _BLOB_NAME.fullmatch(blob.name):
                    yield f"sha256:{prefix.name}{blob.name}"


def sibling_tempfile(dest: Path) -> Path:
    """A fresh temporary file beside ``dest``: unique, so two concurrent copies to the same
    destination never write into each other's file (a fixed name let one rename the other's
    half-written copy into place)."""
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".lineal-part")
    os.close(fd)
    return Path(name)


def _copy_counted(src: Path, dst: Path, progress: Callable[[int], None]) -> None:
    """Copy ``src`` to ``dst`` in chunks, each reported to ``progress``."""
    with open(src, "rb") as stream, open(dst, "wb") as out:
        while chunk := stream.read(CHUNK):
            out.write(chunk)
            progress(len(chunk))


def _hash_and_copy(src: Path, dst: Path, progress: Callable[[int], None] | None = None
                   ) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` (fsynced) while hashing ``src`` in another thread, which
    reports the bytes it has read to ``progress``."""
    result: dict[str, tuple[str, int] | BaseException] = {}

    def hasher() -> None:
        try:
            result["hash"] = hash_file(src, progress)
        except BaseException as exc:  # re-raised in the caller's thread
            result["hash"] = exc

    thread = threading.Thread(target=hasher, name="lineal-hash", daemon=True)
    thread.start()
    try:
        shutil.copyfile(src, dst)  # sendfile/copy_file_range: no Python-level loop
        with open(dst, "rb+") as out:
            os.fsync(out.fileno())
    finally:
        thread.join()
    outcome = result["hash"]
    if isinstance(outcome, BaseException):
        raise outcome
    digest, size = outcome
    if dst.stat().st_size != size:
        raise IntegrityError(f"{src} changed while it was being stored (size differs)")
    return digest, size


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
