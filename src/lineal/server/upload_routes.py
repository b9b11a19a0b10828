"""Resumable uploads: ``/api/v1/uploads``, sessions whose state lives in the blob store.

1. ``POST /api/v1/uploads`` with ``{"digest", "size"}`` starts a session: the answer has its
   ``id`` (or ``exists: true`` when the store holds the bytes already), and, with an S3 blob
   store and presigned URLs on, an ``upload`` URL to PUT the bytes to S3 directly. Without a
   digest (``{"size"}``: the client did not hash the file first) the bytes are published
   under the digest the server computes, which the answer names for the client to check;
   with presigned URLs on, that is refused (400 naming ``digest``).
2. ``PUT /api/v1/uploads/{id}`` with ``Content-Range: bytes <first>-<last>/<size>`` sends
   bytes; ``first`` must be the number of bytes the session holds (409 otherwise). The
   request that brings the session to ``size`` bytes completes it: the bytes are checked
   against the digest and published (400, nothing published, on a mismatch).
3. ``HEAD`` (``Upload-Offset`` header) or ``GET`` (JSON) says how many bytes arrived: after a
   broken connection the client sends only the rest, to any server process.
4. ``POST /api/v1/uploads/{id}/complete`` publishes a session whose bytes all arrived (after a
   presigned upload, or when the answer to the last PUT was lost); ``DELETE`` cancels one.

An upload sent in one request from byte 0 is hashed while it arrives: one pass over the bytes
on the server, and publishing is a rename on a local folder. A resumed upload is hashed when
it completes (a hash's state cannot be handed to another process).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from ..errors import Conflict, IntegrityError, InvalidArgument, LinealError, NotFound
from ..store.blobs.local import split_digest
from ..store.blobs.sink import HashingSink, Piece
from ..store.blobs.uploads import UploadArea, UploadWriter, check_upload_id
from ..store.http.routes import WRITER, encode
from .blob_routes import CHUNK, allowed
from .context import ServerContext
from .store_routes import json_response, read_json

__all__ = ["add_upload_routes", "receive", "stream_body"]

UNKNOWN = "0" * 64
"""The digest part of a session id started without a digest."""
_CONTENT_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+)$")


def add_upload_routes(app: FastAPI) -> None:
    """Register the upload-session routes under ``/api/v1/uploads``."""
    base = "/api/v1/uploads"

    @app.post(base, tags=["uploads"], operation_id="start_upload")
    async def start_upload(request: Request) -> Response:
        """Start an upload of ``size`` bytes hashing to ``digest`` (or of bytes whose digest
        the client has not computed: the server publishes them under the one it computes)."""
        context = await allowed(request, WRITER)
        body = await read_json(request, 4096)
        digest, size = _declared(body)
        blobs = context.store.blobs
        signer = _presigner(context)
        if digest is None:
            if signer is not None:  # the object store checks the digest it is given
                raise InvalidArgument("digest: this server sends uploads to its object store "
                                      "directly, which needs the digest first",
                                      hint="hash the file and start again with its digest")
        elif await run_in_threadpool(blobs.reuse, digest):
            return json_response({"exists": True, "digest": digest, "size": size})
        upload_id = f"{split_digest(digest) if digest else UNKNOWN}-{size}-{uuid.uuid4().hex}"
        answer: dict[str, Any] = {"id": upload_id, "digest": digest, "size": size, "offset": 0}
        if signer is not None and digest is not None and size <= _max_single_put():
            answer["upload"] = await run_in_threadpool(signer.upload, upload_id, digest)
        else:
            await run_in_threadpool(blobs.uploads().create, upload_id)
        return json_response(answer, status_code=201)

    @app.head(base + "/{upload_id}", tags=["uploads"], operation_id="head_upload")
    async def head_upload(upload_id: str, request: Request) -> Response:
        """``Upload-Offset``: the bytes the session holds; ``Upload-Length``: its size."""
        context = await allowed(request, WRITER)
        _, size = _parse_id(upload_id)
        held = await run_in_threadpool(context.store.blobs.uploads().received, upload_id)
        return Response(headers={"upload-offset": str(held), "upload-length": str(size),
                                 "cache-control": "no-store"})

    @app.get(base + "/{upload_id}", tags=["uploads"], operation_id="get_upload")
    async def get_upload(upload_id: str, request: Request) -> Response:
        """The session's digest, size and ``offset`` (bytes received so far)."""
        context = await allowed(request, WRITER)
        digest, size = _parse_id(upload_id)
        held = await run_in_threadpool(context.store.blobs.uploads().received, upload_id)
        return json_response({"id": upload_id, "digest": digest, "size": size, "offset": held})

    @app.put(base + "/{upload_id}", tags=["uploads"], operation_id="put_upload")
    async def put_upload(upload_id: str, request: Request) -> Response:
        """Bytes ``first``-``last`` of the upload as the raw body (``Content-Range``)."""
        context = await allowed(request, WRITER)
        digest, size = _parse_id(upload_id)
        first, last = _content_range(request.headers.get("content-range"), size)
        area = context.store.blobs.uploads()
        if first is None:  # "bytes */size": nothing sent, only a completion
            return await _complete(context, area, upload_id, digest, size)
        assert last is not None
        writer = await run_in_threadpool(area.writer, upload_id, first)
        got, computed = await receive(request, writer, last - first + 1, hash_it=first == 0)
        if got != last - first + 1:
            raise InvalidArgument(f"{got} bytes arrived, the Content-Range said "
                                  f"{last - first + 1}", hint="ask how many bytes the session "
                                  "holds (HEAD) and send the rest")
        if last + 1 < size:
            return json_response({"id": upload_id, "offset": last + 1, "complete": False})
        return await _complete(context, area, upload_id, digest, size, computed)

    @app.post(base + "/{upload_id}/complete", tags=["uploads"], operation_id="complete_upload")
    async def complete_upload(upload_id: str, request: Request) -> Response:
        """Publish an upload whose bytes all arrived (through the server or presigned)."""
        context = await allowed(request, WRITER)
        digest, size = _parse_id(upload_id)
        area = context.store.blobs.uploads()
        signer = _presigner(context)
        if signer is not None and digest is not None \
                and not await run_in_threadpool(_through_server, area, upload_id):
            try:
                info = await run_in_threadpool(signer.finish, upload_id, digest, size)
            except IntegrityError as error:
                raise _refused(error) from error
            return json_response({"id": upload_id, "offset": size, "complete": True,
                                  "blob": encode(info)})
        return await _complete(context, area, upload_id, digest, size)

    @app.delete(base + "/{upload_id}", tags=["uploads"], operation_id="cancel_upload")
    async def cancel_upload(upload_id: str, request: Request) -> Response:
        """Cancel a session and drop what it received (gone already is not an error)."""
        context = await allowed(request, WRITER)
        _parse_id(upload_id)
        await run_in_threadpool(context.store.blobs.uploads().discard, upload_id)
        signer = _presigner(context)
        if signer is not None:
            await run_in_threadpool(signer.store.uploads().discard, upload_id)
        return json_response({"cancelled": True})


async def receive(request: Request, writer: UploadWriter, limit: int | None, *,
                  hash_it: bool) -> tuple[int, str | None]:
    """Stream the body into ``writer`` (at most ``limit`` bytes: 400 beyond), hashing it if
    asked; ``(bytes received, sha256:<hex> or None)``. A client that disconnects keeps what
    arrived: the session reports it and the client resumes from there."""
    try:
        return await stream_body(request, writer.write, limit, hash_it=hash_it)
    finally:
        await run_in_threadpool(writer.close)


async def stream_body(request: Request, write: Callable[[Piece], object], limit: int | None,
                      *, hash_it: bool) -> tuple[int, str | None]:
    """Hand the body to ``write`` (called in a thread of its own) and hash it (in another) if
    asked; ``(bytes received, sha256:<hex> or None)``. What arrived before a client
    disconnected is written; beyond ``limit`` bytes, InvalidArgument."""
    # The server hands the body over in pieces of a few KiB to a few hundred: gathered into
    # batches of CHUNK (a list, not joined: no copy), hashed in one thread and written in
    # another (HashingSink) while the next batch arrives. Waiting for each write instead would
    # stop reading the socket meanwhile: receiving and storing would take turns.
    sink = HashingSink(write, hash=hash_it, name="lineal-upload")
    pending: list[bytes] = []
    held = got = 0
    try:
        try:
            async for piece in request.stream():
                got += len(piece)
                if limit is not None and got > limit:
                    raise InvalidArgument(f"the body is longer than the {limit} bytes announced")
                pending.append(piece)
                held += len(piece)
                if held >= CHUNK:
                    if not sink.offer(pending):  # the event loop must not wait: a thread does
                        await run_in_threadpool(sink.put, pending)
                    pending, held = [], 0
        except ClientDisconnect:
            pass
        if pending:
            await run_in_threadpool(sink.put, pending)
        computed = await run_in_threadpool(sink.finish)
    except BaseException:
        await run_in_threadpool(sink.close)
        raise
    return got, ("sha256:" + computed) if computed is not None else None


async def _complete(context: ServerContext, area: UploadArea, upload_id: str,
                    digest: str | None, size: int, computed: str | None = None) -> Response:
    """Publish a session holding all its bytes: under ``digest`` if they hash to it; a session
    started without one, under the digest ``computed`` while they arrived in one request,
    else hashed now (a complete session takes no more bytes: they cannot change after)."""
    if digest is None:
        held = await run_in_threadpool(area.received, upload_id)
        if held != size:
            raise Conflict(f"upload {upload_id} holds {held} of {size} bytes",
                           hint=f"send the rest from offset {held}")
        if computed is None:
            computed = await run_in_threadpool(area.hash, upload_id)
        digest = computed
    if computed is not None and computed != digest:
        await run_in_threadpool(area.discard, upload_id)
        raise InvalidArgument(f"the uploaded bytes hash to {computed}, not {digest}",
                              hint="the upload was damaged: send it again")
    held = await run_in_threadpool(area.received, upload_id)
    if held != size:
        raise Conflict(f"upload {upload_id} holds {held} of {size} bytes",
                       hint=f"send the rest from offset {held}")
    try:
        info = await run_in_threadpool(
            lambda: area.publish(upload_id, digest, size, verified=computed is not None))
    except IntegrityError as error:
        raise _refused(error) from error
    return json_response({"id": upload_id, "offset": size, "complete": True,
                          "blob": encode(info)})


def _refused(error: LinealError) -> InvalidArgument:
    """Bytes that do not match their digest are the client's to send again: 400, not 500."""
    return InvalidArgument(error.message, hint="the upload was damaged: nothing was published, send it again")


def _through_server(area: UploadArea, upload_id: str) -> bool:
    """Whether the session's bytes come through the server (else: a presigned upload)."""
    try:
        area.received(upload_id)
    except NotFound:
        return False
    return True


def _presigner(context: ServerContext) -> Any:
    if not context.settings.presigned_urls:
        return None
    from ..store.blobs.presign import presigner

    return presigner(context.store.blobs)


def _max_single_put() -> int:
    from ..store.blobs.presign import MAX_SINGLE_PUT

    return MAX_SINGLE_PUT


def _declared(body: Any) -> tuple[str | None, int]:
    if not isinstance(body, dict):
        raise InvalidArgument("expected a JSON object with size (and digest, if known)")
    digest, size = body.get("digest"), body.get("size")
    if digest is not None:
        if not isinstance(digest, str):
            raise InvalidArgument("digest: expected sha256:<64 hex>")
        split_digest(digest)
        if digest == "sha256:" + UNKNOWN:
            raise InvalidArgument("digest: not the digest of any bytes")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidArgument(f"size: expected a number of bytes, got {size!r}")
    return digest, size


def _parse_id(upload_id: str) -> tuple[str | None, int]:
    """The digest (None: to be computed) and size a session id carries (the server wrote
    them into it)."""
    hexpart, size, _ = check_upload_id(upload_id).split("-")
    return (None if hexpart == UNKNOWN else "sha256:" + hexpart), int(size)


def _content_range(header: str | None, size: int) -> tuple[int | None, int | None]:
    if not header:
        raise InvalidArgument("Content-Range is required: bytes <first>-<last>/<size>")
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if match is None:
        raise InvalidArgument(f"unsupported Content-Range {header!r}",
                              hint="expected bytes <first>-<last>/<size> or bytes */<size>")
    first, last, total = match.groups()
    if int(total) != size:
        raise InvalidArgument(f"Content-Range {header!r}: this upload has {size} bytes")
    if first is None:
        return None, None
    if int(first) > int(last) or int(last) >= size:
        raise InvalidArgument(f"Content-Range {header!r} is outside the {size} bytes")
    return int(first), int(last)
