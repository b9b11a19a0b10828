"""``/healthz``, ``/readyz``, Prometheus ``/metrics`` and one structured log line per request."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from .context import ServerContext

__all__ = ["add_observability"]

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

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                      ) -> Response:
        started = time.perf_counter()
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        requests.labels(request.method, template, str(response.status_code)).inc()
        latency.labels(request.method, template).observe(elapsed)
        response.headers["x-request-id"] = request_id
        caller = getattr(request.state, "caller", None)
        access_log.info(json.dumps({
            "request_id": request_id, "method": request.method, "path": request.url.path,
            "route": template, "status": response.status_code,
            "ms": round(elapsed * 1000, 2), "principal": getattr(caller, "name", None),
            "client": request.client.host if request.client else None,
        }))
        return response

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
