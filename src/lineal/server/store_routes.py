"""The routes of the metadata contract: one generic endpoint per entry of
:data:`lineal.store.http.routes.ROUTES`, with its OpenAPI description made from the contract
method's signature and docstring."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from ..errors import InvalidArgument, StoreError
from ..store.http.points import COLUMNS_SCHEMA
from ..store.http.routes import ROUTES, Route, _is_points, decode_args, signature, travelling
from .context import ServerContext

__all__ = ["ContractRoute", "add_store_routes", "json_response", "read_json", "within"]

T = TypeVar("T")


class ContractRoute(APIRoute):
    """A contract route: its endpoint takes the request itself and does its own decoding
    (by the contract method's type hints), so FastAPI's per-request dependency solving, which
    would find nothing to inject, is skipped; the OpenAPI description is still FastAPI's,
    from ``openapi_extra``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint


def add_store_routes(app: FastAPI) -> None:
    """Register every contract route under ``/api/v1``."""
    for route in ROUTES:
        app.router.add_api_route(
            route.url,
            _endpoint(route),
            route_class_override=ContractRoute,
            methods=[route.verb],
            operation_id=route.method,
            summary=route.method.replace("_", " "),
            description=_description(route),
            tags=[_tag(route)],
            openapi_extra=_openapi(route),
            response_class=Response,
        )


def _endpoint(route: Route) -> Callable[[Request], Coroutine[Any, Any, Response]]:
    async def endpoint(request: Request) -> Response:
        context: ServerContext = request.app.state.lineal
        caller = await caller_of(request)
        context.require_somewhere(caller, route.role, route.method.replace("_", " "))
        if route.verb == "GET":
            values: dict[str, Any] = dict(request.query_params)
        else:
            values = await read_json(request, context.settings.max_body_bytes)
        kwargs = decode_args(route.method, request.path_params, values,
                             from_query=route.verb == "GET")
        _check_page(kwargs, context.settings.max_page)
        key = request.headers.get("idempotency-key") if route.verb != "GET" else None
        body = await within(context.settings.request_timeout, route.method,
                            run_in_threadpool(context.call_once, caller, route, kwargs, key))
        return Response(body, media_type="application/json")

    endpoint.__name__ = route.method
    return endpoint


async def within(seconds: float, what: str, work: Awaitable[T]) -> T:
    """``work``'s result, or StoreError (503) once ``seconds`` have passed. A timeout scope,
    not ``wait_for``: that wraps the work in a task of its own, on every request."""
    try:
        async with asyncio.timeout(seconds):
            return await work
    except TimeoutError:
        raise StoreError(f"{what.replace('_', ' ')} did not finish in {seconds:g} s",
                         hint="the store is slow or locked; try again (a retried write is "
                         "applied once)") from None


async def caller_of(request: Request) -> Any:
    """The authenticated caller of ``request`` (remembered on the request). A credential is
    checked in a worker thread: an API token is looked up in the store, an OIDC key set may be
    fetched, and neither may hold up the event loop."""
    caller = getattr(request.state, "caller", None)
    if caller is None:
        context: ServerContext = request.app.state.lineal
        caller = context.local_caller()  # auth off: nothing to look up, no thread needed
        if caller is None:
            host = request.client.host if request.client else None
            caller = await run_in_threadpool(context.authenticate, request.headers, host,
                                             request.method)
        request.state.caller = caller
    return caller


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The request's JSON object body (empty body: no arguments); InvalidArgument for anything
    else, and for a body over ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidArgument(f"the request body is not valid JSON: {error}",
                              hint="send a JSON object of the call's arguments") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"the request body must be a JSON object, got {type(data).__name__}",
                              hint="send a JSON object of the call's arguments")
    return data


def _too_large(limit: int) -> InvalidArgument:
    error = InvalidArgument(f"the request body is over {limit} bytes",
                            hint="send metrics in smaller batches; upload bytes to /api/v1/blobs")
    error.http_status = 413
    return error


def _check_page(kwargs: dict[str, Any], max_page: int) -> None:
    """InvalidArgument for a ``limit`` (or a filter's) over the server's page size."""
    for value in (kwargs.get("limit"), *(getattr(kwargs.get(n), "limit", None)
                                         for n in ("flt", "query"))):
        if isinstance(value, int) and value > max_page:
            raise InvalidArgument(f"limit {value} is over this server's page size of {max_page}",
                                  hint="ask for fewer and follow the next page")


def json_response(data: Any, status_code: int = 200) -> Response:
    """JSON as the API writes it (UTF-8, no NaN: the encoder already spelled them out)."""
    return Response(json_text(data), status_code=status_code, media_type="application/json")


def json_text(data: Any) -> str:
    """The API's JSON text of ``data``."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


# -- OpenAPI -------------------------------------------------------------------------------------
def _tag(route: Route) -> str:
    return route.path.strip("/").split("/")[0]


def _description(route: Route) -> str:
    from ..store.base import MetadataStore

    doc = inspect.getdoc(getattr(MetadataStore, route.method)) or ""
    return f"{doc}\n\nNeeds the **{route.role}** role on the project the call touches."


def _openapi(route: Route) -> dict[str, Any]:
    _, hints = signature(route.method)
    params = travelling(route.method)
    parameters: list[dict[str, Any]] = []
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in params:
        schema = _schema(hints.get(param.name, Any))
        if _is_points(hints.get(param.name)):
            schema = {"anyOf": [schema, COLUMNS_SCHEMA]}
        is_required = param.default is inspect.Parameter.empty
        if param.name in route.path_params:
            parameters.append({"name": param.name, "in": "path", "required": True,
                               "schema": schema if schema.get("type") in ("string", "integer")
                               else {"type": "string"}})
        elif route.verb == "GET":
            simple = schema.get("type") in ("string", "integer", "number", "boolean")
            parameters.append({"name": param.name, "in": "query", "required": is_required,
                               **({"schema": schema} if simple else {
                                   "content": {"application/json": {"schema": schema}}})})
        else:
            properties[param.name] = schema
            if is_required:
                required.append(param.name)
    extra: dict[str, Any] = {"parameters": parameters}
    if route.verb != "GET":
        body: dict[str, Any] = {"type": "object", "properties": properties,
                                "additionalProperties": False}
        if required:
            body["required"] = required
        extra["requestBody"] = {"required": bool(required),
                                "content": {"application/json": {"schema": body}}}
    _, hints = signature(route.method)
    extra["responses"] = {
        "200": {"description": "The call's result",
                "content": {"application/json": {"schema": _schema(hints.get("return", Any))}}},
        "4XX": {"description": "The error body", "content": {"application/json": {
            "schema": ERROR_SCHEMA}}},
    }
    return extra


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "details": {"type": "object"}}}},
}


@functools.cache
def _schema_cached(hint: Any) -> str:
    from pydantic import TypeAdapter

    try:
        schema = TypeAdapter(hint).json_schema(mode="serialization")
    except Exception:  # noqa: BLE001 - a type pydantic cannot describe: any JSON
        return "{}"
    return json.dumps(_inline(schema))


def _schema(hint: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = json.loads(_schema_cached(hint))
    except TypeError:  # unhashable hint
        return {}
    return result


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its ``$defs`` inlined (each route's schema stands alone in OpenAPI)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any, seen: frozenset[str]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name in seen or name not in defs:
                    return {}
                return walk(defs[name], seen | {name})
            return {k: walk(v, seen) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, seen) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema, frozenset())
    return inlined
