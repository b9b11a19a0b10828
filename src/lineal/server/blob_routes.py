"""Artifact bytes over HTTP: the :class:`~lineal.store.base.BlobStore` contract.

Uploads stream to a temporary file while they are hashed (never a whole file in memory), and
publish only when the bytes hash to the digest the client named; downloads stream from the
blob store and answer ``Range`` requests (206), so an interrupted download resumes where it
stopped. A client asks first whether the store holds a small file's content (a large one is
sent without being hashed first: see ``upload_routes``).
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from ..errors import InvalidArgument
from ..store.blobs.local import split_digest
from ..store.http.routes import ADMIN, READER, WRITER, encode
from .context import ServerContext
from .store_routes import caller_of, json_response

__all__ = ["CHUNK", "add_blob_routes", "allowed"]

CHUNK = 1024 * 1024
"""Bytes per worker-thread hop when receiving and sending: fewer hops, and hashlib and the
kernel work on large buffers with the GIL released."""
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def add_blob_routes(app: FastAPI) -> None:
    """Register the blob routes under ``/api/v1/blobs``."""
    base = "/api/v1/blobs"

    @app.get("/api/v1/blob-store", tags=["blobs"], operation_id="blob_store")
    async def blob_store(request: Request) -> Response:
        """Where this server keeps artifact bytes (``root_uri``)."""
        context = await allowed(request, READER)
        return json_response({"root_uri": context.store.blobs.root_uri})

    @app.put(base + "/{digest}", tags=["blobs"], operation_id="put_blob")
    async def put_blob(digest: str, request: Request) -> Response:
        """Upload the bytes of ``digest`` as the raw body; 400 if they hash to anything else."""
        context = await allowed(request, WRITER)
        split_digest(digest)
        info = await _receive(request, context, digest)
        return json_response(encode(info))

    @app.post(base, tags=["blobs"], operation_id="post_blob")
    async def post_blob(request: Request) -> Response:
        """Upload bytes whose digest the client did not compute; the answer names it."""
        context = await allowed(request, WRITER)
        info = await _receive(request, context, None)
        return json_response(encode(info))

    @app.head(base + "/{digest}", tags=["blobs"], operation_id="head_blob")
    async def head_blob(digest: str, request: Request) -> Response:
        """200 with the size if the store holds ``digest``, else 404."""
        context = await allowed(request, READER)
        split_digest(digest)
        size = await run_in_threadpool(context.store.blobs.size, digest)
        return Response(headers={"content-length": str(size), "accept-ranges": "bytes"})

    @app.get(base + "/{digest}/info", tags=["blobs"], operation_id="blob_info")
    async def blob_info(digest: str, request: Request) -> Response:
        """Size, last write time and storage URI of a blob."""
        context = await allowed(request, READER)
        split_digest(digest)
        blobs = context.store.blobs

        def read() -> dict[str, Any]:
            return {"digest": digest, "size": blobs.size(digest),
                    "modified": blobs.modified(digest), "uri": blobs.uri(digest)}

        return json_response(await run_in_threadpool(read))

    @app.get(base + "/{digest}/uri", tags=["blobs"], operation_id="blob_uri")
    async def blob_uri(digest: str, request: Request) -> Response:
        """Where the blob of ``digest`` lives (or would live) in the server's storage: the
        root (``/blob-store``) and the digest say it already, so any reader may ask, and a
        writer needs it before the version naming the bytes is recorded."""
        context = await allowed(request, READER, content=False)
        split_digest(digest)
        return json_response({"uri": await run_in_threadpool(context.store.blobs.uri, digest)})

    @app.post(base + "/{digest}/reuse", tags=["blobs"], operation_id="reuse_blob")
    async def reuse_blob(digest: str, request: Request) -> Response:
        """Whether the store holds ``digest``, asked by a writer about to reference it."""
        context = await allowed(request, WRITER)
        split_digest(digest)
        return json_response({"exists": await run_in_threadpool(context.store.blobs.reuse,
                                                                digest)})

    @app.get(base + "/{digest}", tags=["blobs"], operation_id="get_blob")
    async def get_blob(digest: str, request: Request) -> Response:
        """The bytes, streamed; a ``Range: bytes=a-b`` header gets that part (206)."""
        context = await allowed(request, READER)
        split_digest(digest)
        blobs = context.store.blobs
        signer = _presigner(context)
        if signer is not None:
            # Straight from S3: the client follows, with its Range, and checks the digest.
            url = await run_in_threadpool(_signed_download, signer, digest)
            return Response(status_code=307, headers={"location": url,
                                                      "cache-control": "no-store"})
        size = await run_in_threadpool(blobs.size, digest)
        start, end = _range(request.headers.get("range"), size)
        stream = await run_in_threadpool(blobs.open, digest)
        headers = {"accept-ranges": "bytes", "content-length": str(end - start),
                   "etag": f'"{digest}"'}
        status = 200
        if request.headers.get("range"):
            status = 206
            headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
        return StreamingResponse(iterate_in_threadpool(_chunks(stream, start, end)),
                                 status_code=status, headers=headers,
                                 media_type="application/octet-stream")

    @app.get(base, tags=["blobs"], operation_id="list_blobs")
    async def list_blobs(request: Request) -> Response:
        """Every digest the store holds, one per line (``lineal verify``, ``lineal gc``)."""
        context = await allowed(request, ADMIN)
        lines = (d + "\n" for d in context.store.blobs.iter_digests())
        return StreamingResponse(iterate_in_threadpool(lines), media_type="text/plain")

    @app.delete(base + "/{digest}", tags=["blobs"], operation_id="delete_blob")
    async def delete_blob(digest: str, request: Request) -> Response:
        """Remove a blob (``lineal gc``, ``lineal purge``)."""
        context = await allowed(request, ADMIN)
        split_digest(digest)
        return json_response({"deleted": await run_in_threadpool(context.store.blobs.delete,
                                                                 digest)})

    @app.get("/api/v1/blob-leftovers", tags=["blobs"], operation_id="blob_leftovers")
    async def leftovers(request: Request) -> Response:
        """What interrupted writes left in the blob store."""
        context = await allowed(request, ADMIN)
        found = await run_in_threadpool(lambda: list(context.store.blobs.leftovers()))
        return json_response([item.to_dict() for item in found])

    @app.delete("/api/v1/blob-leftovers", tags=["blobs"], operation_id="remove_blob_leftover")
    async def remove_leftover(name: str, request: Request) -> Response:
        """Remove the leftover called ``name`` (gone already is not an error)."""
        context = await allowed(request, ADMIN)
        blobs = context.store.blobs

        def remove() -> bool:
            for item in blobs.leftovers():
                if item.name == name:
                    blobs.remove_leftover(item)
                    return True
            return False

        return json_response({"removed": await run_in_threadpool(remove)})


async def allowed(request: Request, role: str, *, content: bool = True) -> ServerContext:
    """Bytes belong to no project: writing needs the role in some project (the version that
    will name them is checked when it is recorded); reading, for a principal without the
    reader role everywhere, needs a version of that content in a project it may read;
    listing and deleting need admin everywhere. ``content=False``: the route reveals nothing
    of the bytes, the role somewhere is enough."""
    context: ServerContext = request.app.state.lineal
    caller = await caller_of(request)
    what = f"{request.method} {request.url.path}"
    if role == ADMIN:
        context.require(caller, None, role, what)
        return context
    context.require_somewhere(caller, role, what)
    digest = request.path_params.get("digest")
    if role == READER and content and digest and caller.role_in(None) is None:
        await run_in_threadpool(_readable, context, caller, str(digest), what)
    return context


def _readable(context: ServerContext, caller: Any, digest: str, what: str) -> None:
    from ..store.base import ArtifactFilter

    split_digest(digest)
    versions = context.store.metadata.list_artifact_versions(
        ArtifactFilter(digest_prefix=digest, limit=1000))
    projects = sorted({v.project for v in versions if v.digest == digest})
    if any(caller.role_in(project) is not None for project in projects):
        return
    context.require(caller, projects[0] if projects else None, READER, what)


def _presigner(context: ServerContext) -> Any:
    if not context.settings.presigned_urls:
        return None
    from ..store.blobs.presign import presigner

    return presigner(context.store.blobs)


def _signed_download(signer: Any, digest: str) -> str:
    signer.store.size(digest)  # NotFound rather than a URL to nothing
    return str(signer.download(digest))


IN_PLACE = True
"""Whether a single PUT to a local folder is received in place (see :func:`_receive`)."""


async def _receive(request: Request, context: ServerContext, digest: str | None) -> Any:
    """Receive the body, hashing it, and publish it under its digest: on a local folder
    straight into the store's ``tmp/`` and published by rename (one hash, one write); other
    stores from a temporary file."""
    from ..store.blobs.local import LocalBlobStore

    if IN_PLACE and isinstance(context.store.blobs, LocalBlobStore):
        return await _receive_in_place(request, context.store.blobs, digest)
    from .upload_routes import stream_body

    fd, name = tempfile.mkstemp(prefix="lineal-upload-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            got, actual = await stream_body(request, out.write, None, hash_it=True)
        _check_length(request, got)
        assert actual is not None
        if digest is not None and actual != digest:
            raise InvalidArgument(f"the uploaded bytes hash to {actual}, not {digest}",
                                  hint="the upload was damaged or cut short: send it again")
        return await run_in_threadpool(context.store.blobs.put_file, path, actual)
    finally:
        path.unlink(missing_ok=True)


async def _receive_in_place(request: Request, blobs: Any, digest: str | None) -> Any:
    from .upload_routes import receive

    area = blobs.uploads()
    # The id names a digest only for its shape: the bytes are published under the one
    # computed here.
    upload_id = f"{split_digest(digest) if digest else '0' * 64}-0-{uuid.uuid4().hex}"
    await run_in_threadpool(area.create, upload_id)
    try:
        writer = await run_in_threadpool(area.writer, upload_id, 0)
        got, actual = await receive(request, writer, None, hash_it=True)
        _check_length(request, got)
        assert actual is not None
        if digest is not None and actual != digest:
            raise InvalidArgument(f"the uploaded bytes hash to {actual}, not {digest}",
                                  hint="the upload was damaged or cut short: send it again")
        return await run_in_threadpool(
            lambda: area.publish(upload_id, actual, got, verified=True))
    except BaseException:
        await run_in_threadpool(area.discard, upload_id)
        raise


def _check_length(request: Request, got: int) -> None:
    """A body cut short (the client went away) is never published, not even under the digest
    of what arrived."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and got != int(declared):
        raise InvalidArgument(f"{got} of the {declared} bytes announced arrived",
                              hint="the upload was cut short: send it again")


def _range(header: str | None, size: int) -> tuple[int, int]:
    """``[start, end)`` of a ``Range`` header over ``size`` bytes (the whole blob without one)."""
    if not header:
        return 0, size
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.groups() == ("", ""):
        raise _unsatisfiable(f"unsupported Range {header!r}", size)
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size
    else:
        start = int(first)
        end = min(size, int(last) + 1) if last else size
    if start >= size or start >= end:
        raise _unsatisfiable(f"Range {header!r} is outside the {size} bytes", size)
    return start, end


def _unsatisfiable(message: str, size: int) -> InvalidArgument:
    error = InvalidArgument(message, hint=f"ask for bytes within 0-{max(size - 1, 0)}")
    error.http_status = 416
    return error


def _chunks(stream: Any, start: int, end: int) -> Iterator[bytes]:
    with stream:
        if start:
            stream.seek(start)
        left = end - start
        while left > 0:
            chunk = stream.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
