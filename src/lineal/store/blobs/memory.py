"""Blobs in a dict: the in-process implementation of the contract, for tests."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ...errors import IntegrityError, NotFound
from ..base import BlobInfo, BlobStore
from .local import check_source, hash_file, sibling_tempfile, split_digest

if TYPE_CHECKING:
    from .uploads import MemoryUploads


class MemoryBlobStore(BlobStore):
    def __init__(self) -> None:
        self.root_uri = "memory://"
        self._blobs: dict[str, bytes] = {}
        self._written: dict[str, float] = {}
        self._lock = threading.Lock()
        self._uploads: MemoryUploads | None = None

    def uploads(self) -> MemoryUploads:
        from .uploads import MemoryUploads

        if self._uploads is None:
            self._uploads = MemoryUploads(self)
        return self._uploads

    def put_file(self, src: Path, digest: str | None = None, *,
                 progress: Callable[[int], None] | None = None) -> BlobInfo:
        data = check_source(Path(src)).read_bytes()
        # Check before storing: a mismatch must leave the store as it was.
        if digest is not None and digest != "sha256:" + hashlib.sha256(data).hexdigest():
            raise IntegrityError(f"{src} changed while it was being stored")
        info = self.put_bytes(data)
        if progress is not None:
            progress(len(data))
        return info

    def put_bytes(self, data: bytes) -> BlobInfo:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with self._lock:
            created = digest not in self._blobs
            self._blobs.setdefault(digest, bytes(data))
            self._written[digest] = time.time()
        return BlobInfo(digest, len(data), self.uri(digest), created)

    def exists(self, digest: str) -> bool:
        split_digest(digest)  # a malformed digest is InvalidArgument, as in the other stores
        return digest in self._blobs

    def open(self, digest: str) -> BinaryIO:
        split_digest(digest)
        try:
            return io.BytesIO(self._blobs[digest])
        except KeyError as exc:
            raise NotFound(f"blob {digest} is missing") from exc

    def get_file(self, digest: str, dest: Path, *,
                 progress: Callable[[int], None] | None = None) -> None:
        data = self.open(digest).read()
        if progress is not None:
            progress(len(data))
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = sibling_tempfile(dest)
        try:
            tmp.write_bytes(data)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def uri(self, digest: str) -> str:
        hexpart = split_digest(digest)
        return f"memory://sha256/{hexpart[:2]}/{hexpart[2:]}"  # the layout of the other stores

    def size(self, digest: str) -> int:
        return len(self.open(digest).getvalue())  # type: ignore[attr-defined]

    def modified(self, digest: str) -> float:
        self.open(digest)  # NotFound if absent
        return self._written[digest]

    def delete(self, digest: str) -> bool:
        split_digest(digest)
        with self._lock:
            self._written.pop(digest, None)
            return self._blobs.pop(digest, None) is not None

    def iter_digests(self) -> Iterator[str]:
        yield from sorted(self._blobs)


__all__ = ["MemoryBlobStore", "hash_file"]
