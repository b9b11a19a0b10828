"""``HttpBlobStore``: the blob contract, answered by a lineal server (``/api/v1/blobs``).

Uploads stream the file (never whole in memory). A small file is hashed first, and not sent
if the server holds its bytes. Files of :data:`SESSION_THRESHOLD` bytes or more go through a
resumable upload session (``/api/v1/uploads``) without being hashed first: the client hashes
the file in a thread while it is sent, the server publishes what it received under the digest
it computed, and the two digests must agree; after a broken connection the client asks the
server how many bytes arrived and sends only the rest. With an S3 store and presigned URLs the
server asks for the digest first and the bytes go straight to S3. Over plain ``http`` the
bytes go on a plain socket (:mod:`.bulk`). Downloads stream to a temporary file, are checked against their digest, then
renamed into place; an interrupted download resumes with a ``Range`` request, and a server
that answers with a redirect to S3 is followed there (without lineal's credentials).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from ...errors import Conflict, IntegrityError, InvalidArgument, NotFound, StoreError
from ..base import BlobInfo, BlobStore, Leftover
from ..blobs.local import check_source, hash_file, split_digest
from ..blobs.sink import HashingSink
from .bulk import FileHasher, Raw, file_writer, raw_for
from .transport import Transport

__all__ = ["HttpBlobStore"]

BASE = "/api/v1/blobs"
UPLOADS = "/api/v1/uploads"
CHUNK = 4 * 1024 * 1024
BATCH = 512 * 1024
"""Bytes handed to the download's sink at a time: large enough that the thread hop is rare,
small enough to stay in the CPU cache between the receive, the hash and the write (4 MiB
batches measured several times slower here)."""
SESSION_THRESHOLD = 8 * 1024 * 1024
"""Files this large or larger are sent through a resumable session. Below it one PUT is
cheaper (one request instead of two) and resending a broken one costs little."""
RESUMES = 5
"""Times a session upload asks where it stopped and resumes before giving up."""
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class HttpBlobStore(BlobStore):
    """Content-addressed bytes kept by a lineal server."""

    def __init__(self, transport: Transport, *, upload_chunk: int | None = None) -> None:
        """``upload_chunk``: the most bytes one request of an upload session carries. None
        (the default): the rest of the file in one request, since the server keeps every
        byte that arrives (a broken request is resumed, not resent) and hashes an upload sent
        in one request while it arrives (no second pass); set it when a proxy limits bodies."""
        self.transport = transport
        self.upload_chunk = upload_chunk
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
        meter = _Meter(progress)
        if digest is None and src.stat().st_size >= SESSION_THRESHOLD:
            sent = self._put_unhashed(src, src.stat().st_size, meter)
            if sent is not None:
                return sent
        actual, size = hash_file(src)
        if digest is not None and digest != actual:
            raise IntegrityError(f"{src} hashes to {actual}, not {digest}")
        if size >= SESSION_THRESHOLD:
            return self._put_session(src, actual, size, meter)
        if self.reuse(actual):  # a writer's check: a project-scoped writer may ask
            meter.at(size)
            return BlobInfo(actual, size, self.uri(actual), created=False)
        for _ in range(3):  # a stream cannot be rewound by the transport: retry here
            try:
                with open(src, "rb") as stream:
                    answer = self.transport.request(
                        "PUT", f"{BASE}/{actual}", content=_file_chunks(stream, meter=meter),
                        headers={"content-type": "application/octet-stream",
                                 "content-length": str(size)})
                return _info(answer.json())
            except StoreError as error:
                if "not reachable" not in str(error):
                    raise
                last = error
        raise last

    def _put_unhashed(self, src: Path, size: int, meter: _Meter) -> BlobInfo | None:
        """Send a large file without hashing it first: the file is hashed in a thread while it
        is sent, the server hashes what it receives and publishes the bytes under that digest,
        and the two must agree (IntegrityError otherwise). None if the server wants the digest
        before the bytes (presigned uploads; servers before sessions without a digest)."""
        try:
            started = self.transport.request("POST", UPLOADS, json={"size": size}).json()
        except InvalidArgument as error:
            if str(error).startswith("digest"):
                return None
            raise
        hasher = FileHasher(src)
        try:
            info = self._send_session(src, f"{UPLOADS}/{started['id']}", size, meter)
        finally:
            local, read = hasher.digest()
        if local != info.digest or read != size:
            raise IntegrityError(f"{src} changed while it was being sent: the server received "
                                 f"bytes hashing to {info.digest}, the file reads as {local}",
                                 hint="store it again once nothing writes to it")
        return info

    def _put_session(self, src: Path, digest: str, size: int, meter: _Meter) -> BlobInfo:
        started = self.transport.request("POST", UPLOADS,
                                         json={"digest": digest, "size": size}).json()
        if started.get("exists"):
            meter.at(size)
            return BlobInfo(digest, size, self.uri(digest), created=False)
        path = f"{UPLOADS}/{started['id']}"
        if "upload" in started:
            _put_direct(src, size, started["upload"], meter)
            return _info(self.transport.request("POST", path + "/complete").json()["blob"])
        return self._send_session(src, path, size, meter)

    def _send_session(self, src: Path, path: str, size: int, meter: _Meter) -> BlobInfo:
        """Send the file's bytes to the session at ``path``, resuming where a broken request
        stopped; the published blob."""
        raw = raw_for(self.transport)
        offset = 0
        failures = 0
        while True:
            end = size if self.upload_chunk is None else min(size, offset + self.upload_chunk)
            content_range = f"bytes {offset}-{end - 1}/{size}" if end > offset \
                else f"bytes */{size}"
            headers = {"content-type": "application/octet-stream",
                       "content-length": str(end - offset), "content-range": content_range}
            try:
                if raw is not None:
                    answer = raw.send_file("PUT", path, src, offset, end - offset, headers,
                                           meter.at)
                else:
                    with open(src, "rb") as stream:
                        stream.seek(offset)
                        answer = self.transport.request(
                            "PUT", path, content=_file_chunks(stream, end - offset, meter,
                                                              offset),
                            headers=headers).json()
            except (StoreError, Conflict, InvalidArgument) as error:
                # Cut mid-way (by the network, or a server that counted fewer bytes than
                # announced), or another request of ours still writing: ask what arrived.
                if isinstance(error, StoreError) and "not reachable" not in str(error) \
                        or failures >= RESUMES:
                    raise
                if isinstance(error, InvalidArgument) and "arrived" not in str(error):
                    raise
                failures += 1
                time.sleep(0.2 * failures)
                offset = int(self.transport.request("GET", path).json()["offset"])
                continue
            if answer.get("complete"):
                return _info(answer["blob"])
            offset = int(answer["offset"])

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
        raw = raw_for(self.transport)
        if raw is not None:
            try:
                with open(partial, "wb") as out:
                    actual = _raw_download(raw, digest, out, progress)
                    if actual is not None:
                        out.flush()
                        os.fsync(out.fileno())
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            if actual is not None:
                self._check_and_place(digest, expected, actual, partial, dest)
                return
        try:
            with open(partial, "wb") as out, _Download(self.transport, digest) as source:
                sink = HashingSink(file_writer(out), name="lineal-download")
                batch: list[bytes] = []
                held = 0
                try:
                    for piece in source.pieces():
                        if progress is not None:
                            progress(len(piece))
                        batch.append(piece)
                        held += len(piece)
                        if held >= BATCH:
                            sink.put(batch)
                            batch, held = [], 0
                    if batch:
                        sink.put(batch)
                    actual = sink.finish()
                finally:
                    sink.close()
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        assert actual is not None
        self._check_and_place(digest, expected, actual, partial, dest)

    @staticmethod
    def _check_and_place(digest: str, expected: str, actual: str, partial: Path,
                         dest: Path) -> None:
        if actual != expected:
            partial.unlink(missing_ok=True)
            raise IntegrityError(f"the bytes downloaded for {digest} hash to "
                                 f"sha256:{actual}", hint="download it again")
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


def _raw_download(raw: Raw, digest: str, out: BinaryIO,
                  progress: Callable[[int], None] | None) -> str | None:
    """Download on a plain socket into ``out``; the hex sha256 of what was written, or None
    (nothing written) when the server redirects to an object store (the caller then takes
    the httpx path, which follows it without lineal's credentials). A connection lost
    mid-way resumes with a Range request."""
    sink = HashingSink(file_writer(out), name="lineal-download")
    position = failures = 0
    try:
        while True:
            headers = {"range": f"bytes={position}-"} if position else {}
            try:
                with raw.get(f"{BASE}/{digest}", headers) as answer:
                    if answer.status in _REDIRECTS:
                        if position:
                            raise StoreError(f"the server redirected the download of {digest} "
                                             "mid-way", hint="download it again")
                        return None
                    if position and answer.status != 206:
                        raise StoreError(f"the server answered {answer.status} to a Range "
                                         "request", hint="download it again")
                    try:
                        raw.receive(answer, sink, progress)
                    finally:
                        position = sink.received
                return sink.finish()
            except StoreError as error:
                failures += 1
                if "not reachable" not in str(error) or failures > 4:
                    raise
    finally:
        sink.close()


def _info(data: dict[str, Any]) -> BlobInfo:
    return BlobInfo(data["digest"], int(data["size"]), data["uri"], bool(data["created"]))


class _Meter:
    """Tells ``progress`` of bytes sent beyond the most any earlier attempt sent, so that a
    retried or resumed upload does not move the bar back or count bytes twice."""

    def __init__(self, progress: Callable[[int], None] | None) -> None:
        self.progress = progress
        self.high = 0

    def at(self, position: int) -> None:
        """``position`` bytes of the file have now been sent."""
        if self.progress is not None and position > self.high:
            self.progress(position - self.high)
            self.high = position


def _file_chunks(stream: BinaryIO, limit: int | None = None, meter: _Meter | None = None,
                 start: int = 0) -> Iterator[bytes]:
    """The file's chunks from where ``stream`` is (byte ``start`` of the file), at most
    ``limit`` bytes; ``meter`` hears of each."""
    left = limit
    position = start
    while chunk := stream.read(CHUNK if left is None else min(CHUNK, left)):
        if left is not None:
            left -= len(chunk)
        yield chunk
        position += len(chunk)
        if meter is not None:
            meter.at(position)


def _put_direct(src: Path, size: int, upload: dict[str, Any], meter: _Meter) -> None:
    """PUT the file to a presigned URL (S3), with the headers the signature requires; a
    fresh client, so that lineal's credentials never reach the object store."""
    import httpx

    headers = {**upload.get("headers", {}), "content-length": str(size)}
    last: Exception | None = None
    for attempt in range(3):
        try:
            with httpx.Client(timeout=60.0) as client, open(src, "rb") as stream:
                answer = client.request(upload.get("method", "PUT"), upload["url"],
                                        content=_file_chunks(stream, meter=meter),
                                        headers=headers)
        except httpx.TransportError as error:
            last = error
            time.sleep(0.2 * (attempt + 1))
            continue
        if answer.status_code >= 400:
            raise IntegrityError(f"the object store refused the upload of {src} "
                                 f"({answer.status_code}): {answer.text[:300]}")
        return
    raise StoreError(f"the object store is not reachable: {last}",
                     hint="turn presigned URLs off on the server (LINEAL_PRESIGNED_URLS=0) "
                     "if clients cannot reach it")


@contextmanager
def _direct_stream(url: str, headers: dict[str, str]) -> Iterator[Any]:
    """A GET of a presigned URL, with a client of its own (no lineal credentials)."""
    import httpx

    with httpx.Client(timeout=60.0) as client, client.stream("GET", url,
                                                             headers=headers) as response:
        if response.status_code >= 400:
            response.read()
            raise StoreError(f"the object store answered {response.status_code} to a "
                             f"download: {response.text[:300]}")
        yield response


class _Download(io.RawIOBase):
    """A blob's bytes as a stream; a connection lost mid-way resumes with a Range request."""

    def __init__(self, transport: Transport, digest: str) -> None:
        self.transport = transport
        self.digest = digest
        self.position = 0
        self._context: Any = None
        self._chunks: Iterator[bytes] | None = None
        self._pending = memoryview(b"")
        self._open()

    def _open(self) -> None:
        self._close_response()
        headers = {"range": f"bytes={self.position}-"} if self.position else {}
        self._context = self.transport.stream("GET", f"{BASE}/{self.digest}", headers=headers)
        response = self._context.__enter__()
        if response.status_code in _REDIRECTS:  # presigned: the bytes are in S3
            location = response.headers["location"]
            self._close_response()
            self._context = _direct_stream(location, headers)
            response = self._context.__enter__()
        # The pieces as they come off the socket: re-chunking them (iter_raw(size)) copies
        # every byte once more through a BytesIO.
        self._chunks = response.iter_raw()

    def pieces(self) -> Iterator[bytes]:
        """The rest of the bytes, in the pieces the connection delivers them in."""
        import httpx

        failures = 0
        while True:
            try:
                piece = next(self._chunks or iter(()), b"")
            except (httpx.TransportError, StoreError):
                failures += 1
                if failures > 4:
                    raise
                self._open()  # resume where the connection broke
                continue
            if not piece:
                return
            failures = 0
            self.position += len(piece)
            yield piece

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            self._pending = memoryview(next(self.pieces(), b""))
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _close_response(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None

    def close(self) -> None:
        self._close_response()
        super().close()
