"""Blobs in a dict: the in-process implementation of the contract, for tests."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ...errors import NotFound
from ..base import BlobInfo, BlobStore
from .local import hash_file, split_digest


class MemoryBlobStore(BlobStore):
    def __init__(self) -> None:
        self.root_uri = "memory://"
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put_file(self, src: Path, digest: str | None = None) -> BlobInfo:
        data = Path(src).read_bytes()
        info = self.put_bytes(data)
        if digest is not None and digest != info.digest:
            from ...errors import IntegrityError

            raise IntegrityError(f"{src} changed while it was being stored")
        return info

    def put_bytes(self, data: bytes) -> BlobInfo:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with self._lock:
            created = digest not in self._blobs
            self._blobs.setdefault(digest, bytes(data))
        return BlobInfo(digest, len(data), self.uri(digest), created)

    def exists(self, digest: str) -> bool:
        return digest in self._blobs

    def open(self, digest: str) -> BinaryIO:
        try:
            return io.BytesIO(self._blobs[digest])
        except KeyError as exc:
            raise NotFound(f"blob {digest} is missing") from exc

    def get_file(self, digest: str, dest: Path) -> None:
        data = self.open(digest).read()
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.lineal-part")
        tmp.write_bytes(data)
        os.replace(tmp, dest)

    def uri(self, digest: str) -> str:
        return f"memory://sha256/{split_digest(digest)}"

    def size(self, digest: str) -> int:
        return len(self.open(digest).getvalue())  # type: ignore[attr-defined]

    def iter_digests(self) -> Iterator[str]:
        yield from sorted(self._blobs)


__all__ = ["MemoryBlobStore", "hash_file"]
