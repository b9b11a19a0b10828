"""``HttpBlobStore``: the blob contract, answered by a lineal server (``/api/v1/blobs``).

Uploads stream the file (never whole in memory) after a ``HEAD`` that skips content the server
already holds; downloads stream to a temporary file, are checked against their digest, then
renamed into place, and an interrupted download resumes with a ``Range`` request.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ...errors import IntegrityError, NotFound, StoreError
from ..base import BlobInfo, BlobStore, Leftover
from ..blobs.local import check_source, hash_file, split_digest
from .transport import Transport

__all__ = ["HttpBlobStore"]

BASE = "/api/v1/blobs"
CHUNK = 1024 * 1024


class HttpBlobStore(BlobStore):
    """Content-addressed bytes kept by a lineal server."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._root_uri: str | None = None

    # Read-only here (asked of the server once), a plain attribute in the contract.
    @property
    def root_uri(self) -> str:  # type: ignore[override]
        if self._root_uri is None:
            self._root_uri = str(self.transport.request("GET", "/api/v1/blob-store")
                                 .json()["root_uri"])
        return self._root_uri

    def __repr__(self) -> str:
        return f"HttpBlobStore({self.transport.base_url!r})"

    # -- writing ------------------------------------------------------------------------------
    def put_file(self, src: Path, digest: str | None = None, *,
                 progress: Callable[[int], None] | None = None) -> BlobInfo:
        src = check_source(Path(src))
        actual, size = hash_file(src)
        if digest is not None and digest != actual:
            raise IntegrityError(f"{src} hashes to {actual}, not {digest}")
        sent = [0]  # the most bytes any attempt has sent: a retry does not move the bar back
        if self.reuse(actual):  # a writer's check: a project-scoped writer may ask
            if progress is not None:
                progress(size)
            return BlobInfo(actual, size, self.uri(actual), created=False)
        for _ in range(3):  # a stream cannot be rewound by the transport: retry here
            try:
                with open(src, "rb") as stream:
                    answer = self.transport.request(
                        "PUT", f"{BASE}/{actual}", content=_file_chunks(stream, progress, sent),
                        headers={"content-type": "application/octet-stream",
                                 "content-length": str(size)})
                return _info(answer.json())
            except StoreError as error:
                if "not reachable" not in str(error):
                    raise
                last = error
        raise last

    def put_bytes(self, data: bytes) -> BlobInfo:
        answer = self.transport.request("POST", BASE, content=bytes(data),
                                        headers={"content-type": "application/octet-stream"})
        return _info(answer.json())

    # -- reading ------------------------------------------------------------------------------
    def exists(self, digest: str) -> bool:
        split_digest(digest)
        try:
            self.transport.request("HEAD", f"{BASE}/{digest}")
        except NotFound:
            return False
        return True

    def reuse(self, digest: str) -> bool:
        split_digest(digest)
        return bool(self.transport.request("POST", f"{BASE}/{digest}/reuse").json()["exists"])

    def open(self, digest: str) -> BinaryIO:
        split_digest(digest)
        return io.BufferedReader(_Download(self.transport, digest), CHUNK)

    def get_file(self, digest: str, dest: Path, *,
                 progress: Callable[[int], None] | None = None) -> None:
        expected = split_digest(digest)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.lineal-partial")
        sha = hashlib.sha256()
        try:
            with open(partial, "wb") as out, self.open(digest) as stream:
                while chunk := stream.read(CHUNK):
                    sha.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(len(chunk))
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        if sha.hexdigest() != expected:
            partial.unlink(missing_ok=True)
            raise IntegrityError(f"the bytes downloaded for {digest} hash to "
                                 f"sha256:{sha.hexdigest()}", hint="download it again")
        os.replace(partial, dest)

    def uri(self, digest: str) -> str:
        split_digest(digest)
        return str(self.transport.request("GET", f"{BASE}/{digest}/uri").json()["uri"])

    def size(self, digest: str) -> int:
        return int(self._info(digest)["size"])

    def modified(self, digest: str) -> float:
        return float(self._info(digest)["modified"])

    def _info(self, digest: str) -> dict[str, Any]:
        split_digest(digest)
        info: dict[str, Any] = self.transport.request("GET", f"{BASE}/{digest}/info").json()
        return info

    def iter_digests(self) -> Iterator[str]:
        with self.transport.stream("GET", BASE) as response:
            for line in response.iter_lines():
                if line.strip():
                    yield line.strip()

    def delete(self, digest: str) -> bool:
        split_digest(digest)
        return bool(self.transport.request("DELETE", f"{BASE}/{digest}").json()["deleted"])

    def leftovers(self) -> Iterator[Leftover]:
        for item in self.transport.request("GET", "/api/v1/blob-leftovers").json():
            yield Leftover(item["kind"], item["name"], item["size"], item["modified"],
                           handle=item["name"])

    def remove_leftover(self, leftover: Leftover) -> None:
        self.transport.request("DELETE", "/api/v1/blob-leftovers",
                               params={"name": leftover.name})


def _info(data: dict[str, Any]) -> BlobInfo:
    return BlobInfo(data["digest"], int(data["size"]), data["uri"], bool(data["created"]))


def _file_chunks(stream: BinaryIO, progress: Callable[[int], None] | None = None,
                 sent: list[int] | None = None) -> Iterator[bytes]:
    """The file's chunks; ``progress`` hears of bytes beyond ``sent[0]``, the most an earlier
    attempt sent."""
    done = 0
    while chunk := stream.read(CHUNK):
        yield chunk
        done += len(chunk)
        if progress is not None and sent is not None and done > sent[0]:
            progress(done - sent[0])
            sent[0] = done


class _Download(io.RawIOBase):
    """A blob's bytes as a stream; a connection lost mid-way resumes with a Range request."""

    def __init__(self, transport: Transport, digest: str) -> None:
        self.transport = transport
        self.digest = digest
        self.position = 0
        self._context: Any = None
        self._chunks: Iterator[bytes] | None = None
        self._pending = b""
        self._open()

    def _open(self) -> None:
        self._close_response()
        headers = {"range": f"bytes={self.position}-"} if self.position else {}
        self._context = self.transport.stream("GET", f"{BASE}/{self.digest}", headers=headers)
        response = self._context.__enter__()
        self._chunks = response.iter_raw(CHUNK)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        import httpx

        for _ in range(4):
            if not self._pending:
                try:
                    self._pending = next(self._chunks or iter(()), b"")
                except (httpx.TransportError, StoreError):
                    self._open()  # resume where the connection broke
                    continue
            break
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self.position += n
        return n

    def _close_response(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None

    def close(self) -> None:
        self._close_response()
        super().close()
