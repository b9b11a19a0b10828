"""``/healthz``, ``/readyz``, Prometheus ``/metrics`` and one structured log line per request."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .context import ServerContext

__all__ = ["RequestLog", "add_observability"]

access_log = logging.getLogger("lineal.server.access")


def add_observability(app: FastAPI, context: ServerContext) -> None:
    """Health, readiness, metrics and the request log of ``app``."""
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        Counter,
        Histogram,
        generate_latest,
    )

    registry = CollectorRegistry()  # per application: two apps in one process do not clash
    requests = Counter("lineal_http_requests", "HTTP requests handled",
                       ["method", "route", "status"], registry=registry)
    latency = Histogram("lineal_http_request_seconds", "Time to answer a request",
                        ["method", "route"], registry=registry,
                        buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))

    app.add_middleware(RequestLog, requests=requests, latency=latency)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        """The process is up (liveness)."""
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        """The process can serve: its metadata store answers."""
        if context.ready_error is not None:
            return JSONResponse({"status": "unavailable", "error": context.ready_error},
                                status_code=503)
        try:
            await run_in_threadpool(lambda: context.store.metadata.ledger_entries(limit=1))
        except Exception as error:  # noqa: BLE001 - any failure means not ready
            return JSONResponse({"status": "unavailable",
                                 "error": f"{type(error).__name__}: {error}"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus text format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class RequestLog:
    """Count, time and log each HTTP request; answer with its ``x-request-id`` (the caller's,
    or a new one).

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware``
    passes every response body through an extra task and memory stream, which costs each
    request and every chunk of a streamed download. Here the request and the answer flow
    through untouched; the time recorded runs to the last byte sent.
    """

    def __init__(self, app: ASGIApp, requests: Any, latency: Any) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = next((value.decode("latin-1") for name, value in scope["headers"]
                           if name == b"x-request-id"), None) or uuid.uuid4().hex
        status = 500  # unless an answer starts: an error no handler turned into one

        async def send_tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()),
                                                  (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_tagged)
        finally:
            self._record(scope, request_id, status, time.perf_counter() - started)

    def _record(self, scope: Scope, request_id: str, status: int, elapsed: float) -> None:
        method = scope["method"]
        template = getattr(scope.get("route"), "path", "unmatched")
        self.requests.labels(method, template, str(status)).inc()
        self.latency.labels(method, template).observe(elapsed)
        if not access_log.isEnabledFor(logging.INFO):
            return
        caller = (scope.get("state") or {}).get("caller")
        client = scope.get("client")
        access_log.info(json.dumps({
            "request_id": request_id, "method": method, "path": scope["path"],
            "route": template, "status": status, "ms": round(elapsed * 1000, 2),
            "principal": getattr(caller, "name", None),
            "client": client[0] if client else None,
        }))
