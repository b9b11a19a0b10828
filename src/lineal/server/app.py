"""``create_app(settings)``: the FastAPI application of ``lineal server``.

How a request flows: the middleware (:mod:`.observability`) times and logs it; the route of a
contract method (:mod:`.store_routes`, built from :mod:`lineal.store.http.routes`) or of blob
bytes (:mod:`.blob_routes`) authenticates the caller (:class:`.context.ServerContext`), decodes
the arguments by the contract's type hints, checks the caller's role on the project the call
touches, and calls the store in a worker thread as that principal. Any
:class:`~lineal.errors.LinealError` becomes its own HTTP status with one body shape,
``{"error": {"code", "message", "details"}}``; so do the framework's own 404/405s.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import LinealError
from ..store import Store
from .blob_routes import add_blob_routes
from .context import ServerContext
from .login_routes import add_login_routes
from .mlflow_routes import add_mlflow_routes
from .observability import add_observability
from .openlineage_routes import add_openlineage_routes
from .settings import ServerSettings
from .store_routes import add_store_routes
from .upload_routes import add_upload_routes
from .view_routes import add_view_routes

__all__ = ["create_app", "error_body"]

log = logging.getLogger("lineal.server")


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error body of the API."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def create_app(settings: ServerSettings | None = None, *, store: Store | None = None) -> FastAPI:
    """The server application. ``store``: serve this already open store (tests, ``lineal ui``)
    instead of opening ``settings.backend`` at start-up."""
    settings = settings or ServerSettings()
    context = ServerContext(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context.start()
        try:
            yield
        finally:
            context.stop()

    from .. import __version__

    app = FastAPI(
        title="lineal",
        version=__version__,
        summary="ML metadata, lineage, artifacts and a model registry",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.lineal = context

    @app.exception_handler(LinealError)
    async def lineal_error(request: Request, error: LinealError) -> JSONResponse:
        details: dict[str, Any] = {"hint": error.hint} if error.hint else {}
        for name in ("section", "index"):  # where a bulk import's bad item is (BadImport)
            if hasattr(error, name):
                details[name] = getattr(error, name)
        headers = {"www-authenticate": "Bearer"} if error.http_status == 401 else None
        return JSONResponse(error_body(type(error).__name__, error.message, details),
                            status_code=error.http_status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        codes = {404: "NotFound", 405: "MethodNotAllowed", 413: "TooLarge"}
        message = str(error.detail)
        if error.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        return JSONResponse(error_body(codes.get(error.status_code, "HTTPError"), message),
                            status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("InternalError", f"{type(error).__name__}: {error}"),
                            status_code=500)

    add_observability(app, context)
    add_login_routes(app)
    add_store_routes(app)
    add_blob_routes(app)
    add_upload_routes(app)
    add_openlineage_routes(app)
    add_mlflow_routes(app)
    add_view_routes(app)  # last: it serves the UI's pages under every other path
    return app
