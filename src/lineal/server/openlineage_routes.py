"""``POST /api/v1/lineage``: OpenLineage run events in, as the ``openlineage-python`` HTTP
transport (and so the Airflow, Spark and dbt integrations) sends them.

Each event (or a JSON array of them) becomes lineal runs, reference artifact versions and
edges (:mod:`lineal.interop.openlineage`), recorded as the authenticated caller, who needs the
writer role on every project the events name (a job's and each dataset's namespace).
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..auth.principal import acting_as
from ..errors import InvalidArgument
from ..store.http.routes import WRITER
from .context import ServerContext
from .store_routes import caller_of, json_response

__all__ = ["add_openlineage_routes"]


def add_openlineage_routes(app: FastAPI) -> None:
    """Register the OpenLineage endpoint."""

    @app.post("/api/v1/lineage", tags=["openlineage"], operation_id="openlineage_events")
    async def openlineage_events(request: Request) -> Response:
        """Record OpenLineage run events (one object, or an array): 200 with what was
        recorded; 400 naming the event and field of a bad one, with nothing written."""
        context: ServerContext = request.app.state.lineal
        caller = await caller_of(request)
        context.require_somewhere(caller, WRITER, "recording OpenLineage events")
        events = await _events(request, context.settings.max_body_bytes)
        for project in _projects(events):
            context.require(caller, project, WRITER, "recording OpenLineage events")

        def ingest() -> dict[str, Any]:
            from ..interop.openlineage import ingest_events

            with acting_as(caller):
                summary: dict[str, Any] = ingest_events(context.store, events).to_dict()
                return summary

        return json_response(await run_in_threadpool(ingest))


async def _events(request: Request, limit: int) -> list[Any]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            error = InvalidArgument(f"the request body is over {limit} bytes",
                                    hint="send fewer events per request")
            error.http_status = 413
            raise error
    if request.headers.get("content-encoding", "").lower() == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as error:
            raise InvalidArgument(f"the gzip body cannot be read: {error}") from None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidArgument(f"the request body is not valid JSON: {error}",
                              hint="send an OpenLineage RunEvent as JSON") from None
    events = data if isinstance(data, list) else [data]
    if not events:
        raise InvalidArgument("no events in the request body")
    return events


def _projects(events: list[Any]) -> set[str]:
    """The lineal projects the events write to (malformed events are left for the ingest
    to name precisely)."""
    from ..interop.openlineage import project_of

    found = set()
    for event in events:
        if not isinstance(event, dict):
            continue
        namespaces = [(event.get("job") or {}).get("namespace")]
        for side in ("inputs", "outputs"):
            for dataset in event.get(side) or ():
                if isinstance(dataset, dict):
                    namespaces.append(dataset.get("namespace"))
        for namespace in namespaces:
            if isinstance(namespace, str) and namespace:
                try:
                    found.add(project_of(namespace))
                except InvalidArgument:
                    continue
    return found
