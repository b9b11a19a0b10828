"""Bulk bytes to and from a lineal server on a plain socket, for :mod:`.blobs`.

httpx parses every piece of a large body in Python (h11) and hands the bytes over in 64 KiB
reads: a 1 GiB download cost the client more CPU in parsing than in hashing. Here a file is
sent with ``sendfile`` (the kernel copies it from the page cache to the socket) and received
with ``recv_into`` into a few reused buffers that other threads hash and write
(:class:`~lineal.store.blobs.sink.HashingSink`), so the client's work per byte is the hash and
the write.

This path is taken only when it sends exactly what the transport's httpx client would: the
transport made its own client (no injected client or test transport), over plain ``http``,
and no proxy applies to the server's address. Its requests carry the client's headers (the
bearer token) and the same errors (:func:`.transport.error_from`); a connection that fails
before an answer is a :class:`~lineal.errors.StoreError` saying the server is not reachable,
as with httpx, so the callers' resume logic is the same on both paths. ``LINEAL_HTTP_BULK=0``
turns it off (every byte through httpx).
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import os
import queue
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from ...errors import StoreError
from ..blobs.sink import HashingSink
from ..blobs.writeback import Writeback
from .transport import Transport, error_from

__all__ = ["BUFFER", "FileHasher", "Raw", "file_writer", "raw_for"]

BUFFER = 512 * 1024
"""Bytes of each download buffer: large enough that the thread hand-over is rare, small enough
to stay in the CPU cache between the receive, the hash and the write."""
BUFFERS = 8
SEND_STEP = 16 * 1024 * 1024
"""Bytes per ``sendfile`` call: how often an upload's progress is reported."""
READ = 1024 * 1024


class Raw:
    """Requests to one server on ``http.client`` connections (one per request: a bulk
    transfer is long, the connection set-up is not what it costs)."""

    def __init__(self, transport: Transport, host: str, port: int, prefix: str) -> None:
        self.transport = transport
        self.host = host
        self.port = port
        self.prefix = prefix
        self.timeout = _timeout(transport.client)
        self.headers = {k: v for k, v in transport.client.headers.items()
                        if k.lower() in ("authorization", "user-agent")}

    def _connect(self, verb: str, path: str, headers: dict[str, str]) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.putrequest(verb, self.prefix + path, skip_accept_encoding=True)
            for key, value in {**self.headers, **headers}.items():
                conn.putheader(key, value)
            conn.endheaders()
        except OSError as error:
            conn.close()
            raise self._unreachable(error) from error
        return conn

    def _unreachable(self, error: BaseException) -> StoreError:
        return StoreError(
            f"lineal server {self.transport.base_url} is not reachable: "
            f"{type(error).__name__}: {error}".rstrip(": "),
            hint="check that `lineal server` runs there and LINEAL_URI is right")

    def send_file(self, verb: str, path: str, src: Path, offset: int, length: int,
                  headers: dict[str, str], sent: Callable[[int], None]) -> Any:
        """Send ``length`` bytes of ``src`` from ``offset`` as the body (``sendfile``); the
        answer's JSON, or its error raised. ``sent`` hears the file position reached."""
        conn = self._connect(verb, path, {**headers, "content-length": str(length)})
        try:
            try:
                with open(src, "rb") as stream:
                    done = 0
                    while done < length:
                        step = conn.sock.sendfile(stream, offset + done,
                                                  min(SEND_STEP, length - done))
                        if not step:
                            raise StoreError(f"{src} ended {length - done} bytes early",
                                             hint="was it truncated while being sent?")
                        done += step
                        sent(offset + done)
            except OSError as error:
                # The server may have answered before reading the whole body (an error).
                try:
                    answer = conn.getresponse()
                except (OSError, http.client.HTTPException):
                    raise self._unreachable(error) from error
                return self._json(verb, path, answer)
            try:
                answer = conn.getresponse()
            except (OSError, http.client.HTTPException) as error:
                raise self._unreachable(error) from error
            return self._json(verb, path, answer)
        finally:
            conn.close()

    def _json(self, verb: str, path: str, answer: http.client.HTTPResponse) -> Any:
        try:
            body = answer.read()
        except (OSError, http.client.HTTPException) as error:
            raise self._unreachable(error) from error
        response = httpx.Response(answer.status, headers=answer.getheaders(), content=body,
                                  request=httpx.Request(verb, self.transport.base_url + path))
        if answer.status >= 400:
            raise error_from(response)
        return response.json()

    @contextmanager
    def get(self, path: str, headers: dict[str, str]) -> Iterator[http.client.HTTPResponse]:
        """A streamed GET: the answer, its body unread; errors (>= 400) raised."""
        conn = self._connect("GET", path, headers)
        try:
            try:
                answer = conn.getresponse()
            except (OSError, http.client.HTTPException) as error:
                raise self._unreachable(error) from error
            if answer.status >= 400:
                self._json("GET", path, answer)
            yield answer
        finally:
            conn.close()

    def receive(self, answer: http.client.HTTPResponse, sink: HashingSink,
                progress: Callable[[int], None] | None = None) -> None:
        """Read the answer's body into reused buffers handed to ``sink`` until it ends; a
        broken connection is a StoreError (the caller resumes with a Range request)."""
        pool = _Buffers()
        while True:
            buffer = pool.take()
            try:
                n = answer.readinto(buffer)
            except (OSError, http.client.HTTPException) as error:
                raise self._unreachable(error) from error
            if not n:
                if answer.length:  # fewer bytes than announced: the connection was cut
                    raise self._unreachable(ConnectionError(f"{answer.length} bytes missing"))
                return
            if progress is not None:
                progress(n)
            sink.put(memoryview(buffer)[:n], functools.partial(pool.give_back, buffer))


def raw_for(transport: Transport) -> Raw | None:
    """The plain-socket path to the transport's server, or None when it would not send what
    the transport's own client sends (see the module's docstring)."""
    if not getattr(transport, "_owns_client", False) or os.environ.get("LINEAL_HTTP_BULK") == "0":
        return None
    url = httpx.URL(transport.base_url)
    if url.scheme != "http" or not url.host:
        return None
    if transport.client.trust_env and _proxied(url):
        return None
    return Raw(transport, url.host, url.port or 80, url.path.rstrip("/"))


def _proxied(url: httpx.URL) -> bool:
    proxies = urllib.request.getproxies()
    if not any(key in proxies for key in ("http", "all")):
        return False
    return not urllib.request.proxy_bypass(url.host)


def _timeout(client: httpx.Client) -> float | None:
    timeout = client.timeout
    values = [t for t in (timeout.connect, timeout.read, timeout.write) if t is not None]
    return max(values) if values else None


def file_writer(out: BinaryIO) -> Callable[[bytes | bytearray | memoryview], None]:
    """What a download's :class:`HashingSink` writes with: to ``out``, whose pages the kernel
    starts writing back as they fill (:class:`Writeback`), so that the final fsync has little
    left to do."""
    writeback = Writeback(out.fileno(), out.tell())

    def write(piece: bytes | bytearray | memoryview) -> None:
        out.write(piece)
        out.flush()
        writeback.wrote(len(piece) if not isinstance(piece, memoryview) else piece.nbytes)

    return write


class _Buffers:
    """The receive buffers of one download: refilled once the sink has hashed and written
    them, so that the same few stay in the CPU cache and no memory is mapped per piece."""

    def __init__(self) -> None:
        self.free: queue.Queue[bytearray] = queue.Queue()
        for _ in range(BUFFERS):
            self.free.put(bytearray(BUFFER))

    def take(self) -> bytearray:
        """A buffer to receive into (waits while all are in the sink)."""
        return self.free.get()

    def give_back(self, buffer: bytearray) -> None:
        self.free.put(buffer)


class FileHasher:
    """Hashes a file in a thread of its own while it is being sent."""

    def __init__(self, src: Path) -> None:
        self.src = src
        self.result: tuple[str, int] | BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="lineal-hash", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            sha = hashlib.sha256()
            size = 0
            buffer = bytearray(READ)
            with open(self.src, "rb") as stream, memoryview(buffer) as view:
                while n := stream.readinto(buffer):
                    sha.update(view[:n])
                    size += n
            self.result = ("sha256:" + sha.hexdigest(), size)
        except BaseException as exc:  # re-raised in the caller's thread
            self.result = exc

    def digest(self) -> tuple[str, int]:
        """``(sha256:<hex>, size)`` of the file as this thread read it."""
        self.thread.join()
        if isinstance(self.result, BaseException):
            raise self.result
        assert self.result is not None
        return self.result
