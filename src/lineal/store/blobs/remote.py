"""Blobs in an object store through fsspec: ``s3://bucket/prefix``, ``gs://...``, ``az://...``.

Layout is the one of :class:`~lineal.store.blobs.local.LocalBlobStore`:
``<prefix>/sha256/ab/cdef...``. Content is hashed locally before anything is sent, so a blob the
store already holds costs one HEAD request and no upload.

Why a reader never sees a partial blob: the bytes go straight to their final key, and object
stores publish an object only when its upload completes (a single PUT, or the completion of a
multipart upload on S3; a finalised resumable upload on GCS; a committed block list on Azure).
The file is hashed a second time while it streams up; if it changed since the first pass, the
upload is aborted before completion and nothing is published. This relies on object-store
semantics: other fsspec filesystems (SFTP, plain local paths) do not give that guarantee, which
is why folders use ``LocalBlobStore``.

S3-compatible servers (MinIO, Ceph, moto) are reached by setting ``LINEAL_S3_ENDPOINT_URL``;
credentials come from the usual AWS chain (environment, ``~/.aws``, instance roles).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn

from ...errors import IntegrityError, InvalidArgument, LinealError, NotFound, StoreError
from ..base import BlobInfo, BlobStore, Leftover
from .local import CHUNK, check_source, hash_file, split_digest

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from .uploads import UploadArea

__all__ = ["ENV_S3_ENDPOINT", "FsspecBlobStore", "filesystem", "raise_backend_error", "storage_options"]

ENV_S3_ENDPOINT = "LINEAL_S3_ENDPOINT_URL"

# Where to get the fsspec implementation of a protocol that is not installed.
_INSTALL_HINTS = {
    "s3": "pip install 'lineal[s3]'",
    "s3a": "pip install 'lineal[s3]'",
    "gs": "pip install gcsfs",
    "gcs": "pip install gcsfs",
    "az": "pip install adlfs",
    "abfs": "pip install adlfs",
    "abfss": "pip install adlfs",
}
# Exceptions raised by the object-store client libraries; anything else is a lineal bug and is
# left to propagate as is rather than being disguised as a storage failure.
_BACKEND_MODULES = ("botocore", "aiobotocore", "aiohttp", "s3fs", "gcsfs", "google", "adlfs",
                    "azure", "fsspec")
_BLOB_NAME = re.compile(r"^[0-9a-f]{62}$")
_BLOB_PREFIX = re.compile(r"^[0-9a-f]{2}$")


def storage_options(protocol: str) -> dict[str, Any]:
    """fsspec options for ``protocol`` taken from lineal's environment variables."""
    options: dict[str, Any] = {}
    if protocol in ("s3", "s3a"):
        endpoint = os.environ.get(ENV_S3_ENDPOINT)
        if endpoint:
            options["client_kwargs"] = {"endpoint_url": endpoint}
        # Existence checks must see objects other processes wrote a moment ago: no stale
        # directory listings (a HEAD request per check instead).
        options["use_listings_cache"] = False
    return options


def filesystem(uri: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem for ``uri`` and the path within it, configured as lineal configures
    its own blob stores (so references to ``s3://`` objects honour ``LINEAL_S3_ENDPOINT_URL``).

    >>> fs, path = filesystem("s3://bucket/data/train.csv")  # doctest: +SKIP
    """
    import fsspec
    from fsspec.core import split_protocol

    protocol, _ = split_protocol(uri)
    if protocol is None:
        raise InvalidArgument(f"{uri!r} is not a URL", hint="expected e.g. s3://bucket/prefix")
    try:
        cls = fsspec.get_filesystem_class(protocol)
    except ValueError as exc:
        raise InvalidArgument(f"unknown storage protocol {protocol!r} in {uri}") from exc
    except ImportError as exc:
        hint = _INSTALL_HINTS.get(protocol, f"install the fsspec implementation of {protocol}://")
        raise StoreError(f"{uri}: support for {protocol}:// is not installed", hint=hint) from exc
    try:
        fs = cls(**storage_options(protocol))
    except Exception as exc:
        raise_backend_error(exc, f"cannot connect to {uri}")
    return fs, cls._strip_protocol(uri).rstrip("/")


class FsspecBlobStore(BlobStore):
    """Content-addressed blobs under an object-store prefix, e.g. ``s3://bucket/lineal``."""

    def __init__(self, uri: str, *, block_size: int | None = None) -> None:
        """``block_size`` is the multipart part size for large uploads (backend default if None)."""
        self.fs, self._root = filesystem(uri)
        if not self._root:
            raise InvalidArgument(f"{uri}: no bucket or container", hint="e.g. s3://bucket/prefix")
        protocol = uri.split("://", 1)[0]
        self.root_uri = f"{protocol}://{self._root}"
        self._protocol = protocol
        self._write_options: dict[str, Any] = {"block_size": block_size} if block_size else {}

    def __repr__(self) -> str:
        return f"FsspecBlobStore({self.root_uri!r})"

    @property
    def key_root(self) -> str:
        """The prefix as the filesystem names it (``bucket/prefix``)."""
        return self._root

    @property
    def protocol(self) -> str:
        return self._protocol

    def uploads(self) -> UploadArea:
        from .uploads import FsspecUploads

        return FsspecUploads(self)

    def stream_in(self, chunks: Iterator[bytes], digest: str, size: int, *,
                  verify: bool = True) -> None:
        """Write ``chunks`` as the blob ``digest`` (published only when complete): with
        ``verify``, hashed on the way and aborted unless they are ``size`` bytes hashing to
        ``digest`` (IntegrityError, nothing published)."""
        key = self._key(digest)
        sha = hashlib.sha256()
        total = 0
        try:
            out = self.fs.open(key, "wb", **self._write_options)
        except Exception as exc:
            raise_backend_error(exc, f"cannot write to {self.uri(digest)}")
        try:
            for chunk in chunks:
                if verify:
                    sha.update(chunk)
                total += len(chunk)
                out.write(chunk)
            if total != size:
                raise IntegrityError(f"{total} bytes arrived for {digest}, not {size}")
            if verify and "sha256:" + sha.hexdigest() != digest:
                raise IntegrityError(
                    f"the uploaded bytes hash to sha256:{sha.hexdigest()}, not {digest}",
                    hint="the upload was damaged: send it again")
        except BaseException as exc:
            _abandon(out)
            if isinstance(exc, Exception) and not isinstance(exc, LinealError):
                raise_backend_error(exc, f"cannot write to {self.uri(digest)}")
            raise
        try:
            out.close()
        except Exception as exc:
            raise_backend_error(exc, f"cannot write to {self.uri(digest)}")
        self._check_size(digest, size)

    def _key(self, digest: str) -> str:
        hexpart = split_digest(digest)
        return f"{self._root}/sha256/{hexpart[:2]}/{hexpart[2:]}"

    # -- writes ----------------------------------------------------------------------------------
    def put_file(self, src: Path, digest: str | None = None, *,
                 progress: Callable[[int], None] | None = None) -> BlobInfo:
        src = check_source(Path(src))
        try:
            computed, size = hash_file(src)
        except OSError as exc:
            raise InvalidArgument(f"cannot read {src}: {exc}") from exc
        if digest is not None and computed != digest:
            raise IntegrityError(
                f"{src} changed while it was being stored: expected {digest}, read {computed}"
            )
        # The existence check is part of the write: its failures are write failures.
        if self._info(computed, "write to") is not None:
            if progress is not None:
                progress(size)
            return BlobInfo(computed, size, self.uri(computed), created=False)
        key = self._key(computed)
        try:
            self._stream_up(src, key, computed, progress)
        except LinealError:
            raise
        except Exception as exc:
            raise_backend_error(exc, f"cannot write to {self.uri(computed)}")
        self._check_size(computed, size)
        return BlobInfo(computed, size, self.uri(computed), created=True)

    def _stream_up(self, src: Path, key: str, digest: str,
                   progress: Callable[[int], None] | None = None) -> None:
        """Upload ``src`` to ``key``, re-hashing on the way; abort unless it still hashes to
        ``digest``. Deliberately not a ``with`` block: closing an fsspec file commits the upload,
        which on an exception would publish a partial object."""
        sha = hashlib.sha256()
        out = self.fs.open(key, "wb", **self._write_options)
        try:
            with open(src, "rb") as stream:
                while chunk := stream.read(CHUNK):
                    sha.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(len(chunk))
            if "sha256:" + sha.hexdigest() != digest:
                raise IntegrityError(f"{src} changed while it was being uploaded to {key}")
        except BaseException:
            _abandon(out)
            raise
        out.close()

    def put_bytes(self, data: bytes) -> BlobInfo:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if self._info(digest, "write to") is not None:
            return BlobInfo(digest, len(data), self.uri(digest), created=False)
        try:
            self.fs.pipe_file(self._key(digest), bytes(data))  # one PUT: all or nothing
        except Exception as exc:
            raise_backend_error(exc, f"cannot write to {self.uri(digest)}")
        self._check_size(digest, len(data))
        return BlobInfo(digest, len(data), self.uri(digest), created=True)

    def _check_size(self, digest: str, expected: int) -> None:
        stored = self.size(digest)
        if stored != expected:
            # Remove the wrong object; if that fails too, the size error is what to report.
            with contextlib.suppress(Exception):
                self.fs.rm_file(self._key(digest))
            raise IntegrityError(
                f"{self.uri(digest)} holds {stored} bytes after upload, expected {expected}"
            )

    # -- reads -----------------------------------------------------------------------------------
    def _info(self, digest: str, doing: str = "read") -> dict[str, Any] | None:
        """The object's listing entry, None if absent; ``doing`` names the operation in errors
        ("read", or "write to" when the check is the first step of an upload)."""
        key = self._key(digest)
        try:
            info: dict[str, Any] = self.fs.info(key)
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise_backend_error(exc, f"cannot {doing} {self.uri(digest)}")
        return info if info.get("type", "file") == "file" else None

    def exists(self, digest: str) -> bool:
        return self._info(digest) is not None

    def size(self, digest: str) -> int:
        info = self._info(digest)
        if info is None:
            raise NotFound(f"blob {digest} is missing from {self.root_uri}")
        return int(info["size"])

    def open(self, digest: str) -> BinaryIO:
        key = self._key(digest)
        try:
            stream: BinaryIO = self.fs.open(key, "rb")
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} is missing from {self.root_uri}") from exc
        except Exception as exc:
            raise_backend_error(exc, f"cannot read {self.uri(digest)}")
        return stream

    def get_file(self, digest: str, dest: Path, *,
                 progress: Callable[[int], None] | None = None) -> None:
        """Download to a temporary file beside ``dest``, check the digest, then rename: a
        corrupted or truncated object never lands at ``dest``."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".lineal-part")
        tmp = Path(name)
        try:
            sha = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, self.open(digest) as stream:
                try:
                    while chunk := stream.read(CHUNK):
                        sha.update(chunk)
                        out.write(chunk)
                        if progress is not None:
                            progress(len(chunk))
                except OSError as exc:
                    raise_backend_error(exc, f"cannot download {self.uri(digest)}")
            if "sha256:" + sha.hexdigest() != digest:
                raise IntegrityError(
                    f"{self.uri(digest)} does not match its digest: the stored object is corrupt",
                    hint="run `lineal verify`",
                )
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def uri(self, digest: str) -> str:
        return f"{self._protocol}://{self._key(digest)}"

    def modified(self, digest: str) -> float:
        info = self._info(digest)
        if info is None:
            raise NotFound(f"blob {digest} is missing from {self.root_uri}")
        stamp = info.get("LastModified") or info.get("mtime") or info.get("updated")
        if stamp is None:
            return 0.0  # the backend does not say: treat as old (gc's age check cannot help)
        return stamp.timestamp() if hasattr(stamp, "timestamp") else float(stamp)

    def delete(self, digest: str) -> bool:
        if not self.exists(digest):
            return False
        try:
            self.fs.rm_file(self._key(digest))
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise_backend_error(exc, f"cannot delete {self.uri(digest)}")
        return True

    # -- leftovers: unfinished S3 multipart uploads ----------------------------------------------
    def leftovers(self) -> Iterator[Leftover]:
        """Multipart uploads under this prefix that were started and never completed nor
        aborted (a writer killed mid-upload). S3 keeps their parts, and bills them, until they
        are aborted; they are never visible as objects. Then the upload sessions of ``lineal
        server`` (``<prefix>/uploads/<id>/``) still there: finished ones are removed."""
        yield from self._sessions()
        if self._protocol not in ("s3", "s3a"):
            return
        bucket, _, prefix = self._root.partition("/")
        request: dict[str, Any] = {"Bucket": bucket, "Prefix": f"{prefix}/" if prefix else ""}
        while True:
            try:
                page = self.fs.call_s3("list_multipart_uploads", **request)
            except Exception as exc:
                raise_backend_error(exc, f"cannot list unfinished uploads under {self.root_uri}")
            for upload in page.get("Uploads", []) or []:
                key, upload_id = upload["Key"], upload["UploadId"]
                started = upload.get("Initiated")
                size, last_part = self._parts(bucket, key, upload_id)
                # A large upload still running started long ago; its latest part says it lives.
                written = max(started.timestamp() if started is not None else 0.0, last_part)
                yield Leftover(
                    "multipart-upload",
                    f"{self._protocol}://{bucket}/{key} (upload {upload_id})",
                    size,
                    written,
                    (bucket, key, upload_id),
                )
            if not page.get("IsTruncated"):
                return
            request["KeyMarker"] = page.get("NextKeyMarker", "")
            request["UploadIdMarker"] = page.get("NextUploadIdMarker", "")

    def _sessions(self) -> Iterator[Leftover]:
        base = f"{self._root}/uploads"
        try:
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise_backend_error(exc, f"cannot list upload sessions under {self.root_uri}")
        sessions: dict[str, tuple[int, float]] = {}
        for path, info in found.items():
            session = path.removeprefix(base + "/").split("/", 1)[0]
            size, latest = sessions.get(session, (0, 0.0))
            stamp = info.get("LastModified") or info.get("mtime")
            when = stamp.timestamp() if hasattr(stamp, "timestamp") else float(stamp or 0.0)
            sessions[session] = (size + int(info.get("size", 0)), max(latest, when))
        for session, (size, latest) in sorted(sessions.items()):
            yield Leftover("upload-session", f"{self._protocol}://{base}/{session}", size,
                           latest, f"{base}/{session}")

    def _parts(self, bucket: str, key: str, upload_id: str) -> tuple[int, float]:
        """Bytes uploaded so far and when the latest part arrived (0 without parts)."""
        total, latest = 0, 0.0
        request: dict[str, Any] = {"Bucket": bucket, "Key": key, "UploadId": upload_id}
        while True:
            try:
                page = self.fs.call_s3("list_parts", **request)
            except Exception:  # noqa: BLE001 - aborted meanwhile, or not allowed to list parts
                # Unknown whether a writer is still sending parts: count the upload as written
                # now, so gc keeps it (verify still lists it) rather than abort a live upload.
                return total, time.time()
            for part in page.get("Parts", []) or []:
                total += int(part.get("Size", 0))
                if part.get("LastModified") is not None:
                    latest = max(latest, part["LastModified"].timestamp())
            if not page.get("IsTruncated"):
                return total, latest
            request["PartNumberMarker"] = page.get("NextPartNumberMarker", 0)

    def remove_leftover(self, leftover: Leftover) -> None:
        if leftover.kind == "upload-session":
            if not str(leftover.handle).startswith(f"{self._root}/uploads/"):
                raise InvalidArgument(f"{leftover.name} is not an upload session of "
                                      f"{self.root_uri}")
            with contextlib.suppress(FileNotFoundError):
                try:
                    self.fs.rm(leftover.handle, recursive=True)
                except FileNotFoundError:
                    raise
                except Exception as exc:
                    raise_backend_error(exc, f"cannot remove {leftover.name}")
            return
        bucket, key, upload_id = leftover.handle
        try:
            self.fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id)
        except FileNotFoundError:  # completed or aborted meanwhile
            return
        except Exception as exc:
            if "NoSuchUpload" in f"{type(exc).__name__} {exc}":
                return
            raise_backend_error(exc, f"cannot abort the upload {leftover.name}")

    def iter_digests(self) -> Iterator[str]:
        base = f"{self._root}/sha256"
        try:
            paths = self.fs.find(base)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise_backend_error(exc, f"cannot list {self.root_uri}/sha256")
        found = []
        for path in paths:
            prefix, _, name = path.removeprefix(base + "/").partition("/")
            # Anything else under the prefix (stray uploads, console folders) is not a blob.
            if _BLOB_PREFIX.fullmatch(prefix) and _BLOB_NAME.fullmatch(name):
                found.append(f"sha256:{prefix}{name}")
        yield from sorted(found)


def _abandon(stream: Any) -> None:
    """Throw away an unfinished upload (aborting an S3 multipart upload) without committing it."""
    try:
        discard = getattr(stream, "discard", None)
        if discard is not None:
            discard()
    except Exception:  # best effort: an incomplete upload is invisible either way
        pass
    finally:
        # fsspec files commit on close() and on garbage collection; mark it closed so neither
        # publishes what was written so far.
        stream.closed = True


def _is_backend_error(exc: BaseException) -> bool:
    module = type(exc).__module__.split(".")[0]
    return isinstance(exc, OSError) or module in _BACKEND_MODULES


def raise_backend_error(exc: Exception, what: str) -> NoReturn:
    """Re-raise an object-store client error as a lineal error, most specific first."""
    if isinstance(exc, LinealError) or not _is_backend_error(exc):
        raise exc
    cause = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, PermissionError) or "credential" in cause.lower():
        raise StoreError(
            f"{what}: access denied ({cause})",
            hint="check the credentials (AWS_ACCESS_KEY_ID/AWS_PROFILE, ~/.aws) and bucket policy",
        ) from exc
    if isinstance(exc, FileNotFoundError):
        raise StoreError(f"{what}: the bucket or container does not exist ({cause})") from exc
    raise StoreError(f"{what}: {cause}") from exc
