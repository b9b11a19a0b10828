"""Content addressing: files, directories (as manifests), references, and getting bytes back.

- A file's digest is ``sha256:`` of its bytes.
- A directory is stored as a manifest: the sorted list of ``{path, digest, size}`` of its files,
  as canonical JSON; the directory's digest is the manifest's digest. Each file is its own blob,
  so a file unchanged between two versions of a directory is stored once.
- A reference records an external URI with its digest (local files are hashed in place) or, for
  object stores, its ETag and size, without copying bytes.

Re-logging an unchanged file should cost nothing like re-reading it: a per-store hash cache maps
``(path, size, mtime_ns, inode)`` to the digest, as git's index and DVC's state do.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .canonical import canonical_bytes
from .errors import IntegrityError, InvalidArgument
from .store.base import BlobStore

MANIFEST_FORMAT = "lineal-manifest/1"
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class StoredContent:
    digest: str
    size: int
    uri: str
    is_directory: bool
    file_count: int
    new_bytes: int


class HashCache:
    """``(path, size, mtime_ns, inode) -> digest`` in a small SQLite file beside the store."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection | None:
        if self._path is None:
            return None
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, size INTEGER, "
                    "mtime_ns INTEGER, inode INTEGER, digest TEXT)"
                )
            except sqlite3.Error:
                self._path = None  # a cache that cannot open is just no cache
                return None
            self._local.conn = conn
        return conn

    def get(self, path: Path, st: os.stat_result) -> str | None:
        conn = self._conn()
        if conn is None:
            return None
        row = conn.execute(
            "SELECT digest FROM hashes WHERE path=? AND size=? AND mtime_ns=? AND inode=?",
            (str(path), st.st_size, st.st_mtime_ns, st.st_ino),
        ).fetchone()
        return row[0] if row else None

    def put(self, path: Path, st: os.stat_result, digest: str) -> None:
        conn = self._conn()
        if conn is None:
            return
        with contextlib.suppress(sqlite3.Error):
            conn.execute(
                "INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?)",
                (str(path), st.st_size, st.st_mtime_ns, st.st_ino, digest),
            )


def check_readable(path: Path) -> Path:
    """Fail before anything is written if ``path`` is missing or unreadable."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InvalidArgument(f"{path} does not exist", hint="check the path; nothing was logged")
    if not os.access(path, os.R_OK):
        raise InvalidArgument(f"{path} is not readable", hint="check its permissions")
    if path.is_dir():
        for file in _walk(path):
            if not os.access(file, os.R_OK):
                raise InvalidArgument(f"{file} is not readable", hint="check its permissions")
    elif not path.is_file():
        raise InvalidArgument(f"{path} is neither a file nor a directory")
    return path.resolve()


def normalise_member(name: str) -> str:
    """A directory member's path, POSIX-style; absolute paths and '..' are rejected."""
    text = name.replace("\\", "/")
    pure = PurePosixPath(text)
    if pure.is_absolute() or text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise InvalidArgument(f"absolute path {name!r} inside a directory artifact")
    parts = [p for p in pure.parts if p not in ("", ".")]
    if not parts or ".." in parts:
        raise InvalidArgument(f"path {name!r} inside a directory artifact escapes it")
    return "/".join(parts)


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def store_file(blobs: BlobStore, path: Path, cache: HashCache,
               progress: Progress | None = None) -> tuple[str, int, bool]:
    """Store one file (``progress`` hears of its bytes as they are stored); a file the hash
    cache knows and the store holds is not read again."""
    st = path.stat()
    known = cache.get(path, st)
    if known is not None and blobs.reuse(known):
        if progress:
            progress(st.st_size)
        return known, st.st_size, False
    info = blobs.put_file(path, progress=progress)
    cache.put(path, st, info.digest)
    return info.digest, info.size, info.created


def content_size(path: Path) -> int:
    """The bytes of a file, or of all files under a folder; 0 when they cannot be read (this
    only sizes a progress bar: storing the content reports the real problem)."""
    try:
        if path.is_file():
            return path.stat().st_size
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    except OSError:
        return 0


def store_path(
    blobs: BlobStore, path: Path, cache: HashCache, progress: Progress | None = None
) -> StoredContent:
    """Store a file or a directory; returns its digest, size and URI."""
    path = check_readable(path)
    if path.is_file():
        digest, size, created = store_file(blobs, path, cache, progress)
        return StoredContent(digest, size, blobs.uri(digest), False, 1, size if created else 0)
    entries = []
    total = new = 0
    for file in _walk(path):
        if file.is_symlink() and not file.resolve().is_relative_to(path):
            raise InvalidArgument(f"{file} links outside the directory", hint="copy the target in")
        member = normalise_member(file.relative_to(path).as_posix())
        digest, size, created = store_file(blobs, file, cache, progress)
        entries.append({"path": member, "digest": digest, "size": size})
        total += size
        new += size if created else 0
    if not entries:
        raise InvalidArgument(f"directory {path} is empty", hint="nothing to log")
    manifest = manifest_bytes(entries)
    info = blobs.put_bytes(manifest)
    return StoredContent(info.digest, total, info.uri, True, len(entries), new)


def manifest_bytes(entries: list[dict[str, Any]]) -> bytes:
    """The manifest of a directory's files (``path``, ``digest``, ``size`` each): its digest is
    the directory's digest (:func:`manifest_digest`)."""
    ordered = sorted(entries, key=lambda e: e["path"])
    return canonical_bytes({"format": MANIFEST_FORMAT, "files": ordered})


def manifest_digest(entries: list[dict[str, Any]]) -> str:
    """The digest lineal gives a directory with these files: of its manifest's bytes."""
    return "sha256:" + hashlib.sha256(manifest_bytes(entries)).hexdigest()


def read_manifest(blobs: BlobStore, digest: str) -> list[dict[str, Any]]:
    raw = blobs.read_bytes(digest)
    if "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
        raise IntegrityError(f"manifest {digest} does not match its digest")
    body = json.loads(raw)
    if body.get("format") != MANIFEST_FORMAT:
        raise IntegrityError(f"blob {digest} is not a lineal manifest")
    files: list[dict[str, Any]] = body["files"]
    for entry in files:
        normalise_member(entry["path"])  # a tampered manifest must not write outside dest
    return files


def reference_digest(path_or_uri: str, cache: HashCache) -> tuple[str, int, str, dict[str, Any]]:
    """``(digest, size, uri, metadata)`` of content that lineal does not copy."""
    if "://" not in path_or_uri or path_or_uri.startswith("file://"):
        path = check_readable(Path(path_or_uri.removeprefix("file://")))
        if path.is_dir():
            entries = []
            total = 0
            for file in _walk(path):
                digest, size = _hash_cached(file, cache)
                entries.append({"path": normalise_member(file.relative_to(path).as_posix()),
                                "digest": digest, "size": size})
                total += size
            return manifest_digest(entries), total, path.as_uri(), {
                "files": len(entries)
            }
        digest, size = _hash_cached(path, cache)
        return digest, size, path.as_uri(), {}
    from .store.blobs.remote import filesystem, raise_backend_error

    # The filesystem lineal's own blob stores use: same endpoint (LINEAL_S3_ENDPOINT_URL) and
    # credentials, so a reference to an object on an S3-compatible server can be checked at all.
    fs, key = filesystem(path_or_uri)
    try:
        info = fs.info(key)
    except FileNotFoundError as exc:
        raise InvalidArgument(f"{path_or_uri} does not exist") from exc
    except Exception as exc:
        raise_backend_error(exc, f"cannot read {path_or_uri}")
    etag = str(info.get("ETag") or info.get("etag") or info.get("md5Hash") or "").strip('"')
    size = int(info.get("size") or 0)
    if not etag:
        raise InvalidArgument(
            f"{path_or_uri} has no ETag or checksum to identify its content",
            hint="log it with reference=False to copy and hash it",
        )
    identity = json.dumps({"uri": path_or_uri, "etag": etag, "size": size}, sort_keys=True)
    digest = "sha256:" + hashlib.sha256(identity.encode()).hexdigest()
    return digest, size, path_or_uri, {"etag": etag}


def _hash_cached(path: Path, cache: HashCache) -> tuple[str, int]:
    from .store.blobs.local import hash_file

    st = path.stat()
    known = cache.get(path, st)
    if known is not None:
        return known, st.st_size
    digest, size = hash_file(path)
    cache.put(path, st, digest)
    return digest, size
