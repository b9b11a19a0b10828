"""``HttpMetadataStore``: the metadata contract, answered by a lineal server.

Every contract method is the same few lines, made from its route
(:data:`lineal.store.http.routes.ROUTES`): encode the arguments by name, send, decode the
answer by the method's return type. So the SDK and the CLI run unchanged against a server:
``LINEAL_URI=http://host:8080``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import httpx

from ...errors import PermissionDenied
from ..base import MetadataStore
from .routes import ROUTES, SERVER_ONLY, Route, decode_result, encode_args, query_string, signature
from .transport import Transport

__all__ = ["HttpMetadataStore"]


class _HttpMetadataStoreBase(MetadataStore):
    """The shared part: the connection, and one call."""

    def __init__(self, base_url: str, *, token: str | None = None,
                 client: httpx.Client | None = None) -> None:
        self.url = base_url.rstrip("/")
        self.transport = Transport(self.url, token=token, client=client)

    def __repr__(self) -> str:
        return f"HttpMetadataStore({self.url!r})"

    def _call(self, route: Route, args: dict[str, Any]) -> Any:
        pages = _paged(route.method, args)
        if pages is not None:
            return pages(self, route, args)
        return self._send(route, args)

    def _send(self, route: Route, args: dict[str, Any]) -> Any:
        path_values, rest = encode_args(route.method, args)
        url = route.url
        for name, value in path_values.items():
            url = _fill(url, name, value)
        if route.verb == "GET":
            response = self.transport.request(route.verb, url, params=query_string(rest))
        else:
            response = self.transport.request(route.verb, url, json=rest)
        return decode_result(route.method, response.json())

    def close(self) -> None:
        self.transport.close()


PAGE = 10_000
"""The largest page asked of the server (its ``max_page`` default): a call for more is sent as
several pages and joined, so callers see one answer whatever the server's limit."""


def _paged(method: str, args: dict[str, Any]) -> Callable[..., Any] | None:
    limit = args.get("limit")
    flt = args.get("flt")
    if method == "ledger_entries" and isinstance(limit, int) and limit > PAGE:
        return _by_seq
    if isinstance(limit, int) and limit > PAGE and "offset" in _params(method):
        return _by_offset
    if flt is not None and getattr(flt, "limit", 0) > PAGE:
        return _by_filter_offset
    return None


def _params(method: str) -> set[str]:
    sig, _ = signature(method)
    return set(sig.parameters)


def _by_seq(store: _HttpMetadataStoreBase, route: Route, args: dict[str, Any]) -> Any:
    wanted, after = args["limit"], args.get("after_seq", 0)
    found: list[Any] = []
    while len(found) < wanted:
        page = store._send(route, {**args, "after_seq": after,
                                   "limit": min(PAGE, wanted - len(found))})
        found.extend(page)
        if len(page) < min(PAGE, wanted - len(found) + len(page)):
            break
        after = page[-1].seq
    return found


def _by_offset(store: _HttpMetadataStoreBase, route: Route, args: dict[str, Any]) -> Any:
    wanted, offset = args["limit"], args.get("offset", 0)
    found: list[Any] = []
    while len(found) < wanted:
        size = min(PAGE, wanted - len(found))
        page = store._send(route, {**args, "offset": offset + len(found), "limit": size})
        found.extend(page)
        if len(page) < size:
            break
    return found


def _by_filter_offset(store: _HttpMetadataStoreBase, route: Route, args: dict[str, Any]) -> Any:
    import dataclasses

    flt = args["flt"]
    wanted = flt.limit
    found: list[Any] = []
    while len(found) < wanted:
        size = min(PAGE, wanted - len(found))
        page_filter = dataclasses.replace(flt, offset=flt.offset + len(found), limit=size)
        page = store._send(route, {**args, "flt": page_filter})
        found.extend(page)
        if len(page) < size:
            break
    return found


def _fill(url: str, name: str, value: str) -> str:
    from urllib.parse import quote

    for template in ("{" + name + ":path}", "{" + name + "}"):
        if template in url:
            safe = "/" if template.endswith(":path}") else ""
            return url.replace(template, quote(value, safe=safe))
    return url


def _method(route: Route) -> Callable[..., Any]:
    sig, _ = signature(route.method)

    def call(self: _HttpMetadataStoreBase, *args: Any, **kwargs: Any) -> Any:
        bound = sig.bind(self, *args, **kwargs)
        arguments = dict(bound.arguments)
        arguments.pop("self", None)
        progress = arguments.pop("progress", None)
        result = self._call(route, arguments)
        if progress is not None and route.method == "import_lineage":
            total = getattr(arguments.get("batch"), "size", 0)
            progress(total, total)  # one request: done when it answers
        return result

    from ..base import MetadataStore as contract

    functools.update_wrapper(call, getattr(contract, route.method))
    call.__signature__ = sig  # type: ignore[attr-defined]
    call.__isabstractmethod__ = False  # type: ignore[attr-defined] # update_wrapper copied True
    return call


def _server_only(name: str) -> Callable[..., Any]:
    def refuse(self: _HttpMetadataStoreBase, *args: Any, **kwargs: Any) -> Any:
        raise PermissionDenied(f"{name} is the server's own lookup; a client cannot call it")

    refuse.__name__ = name
    return refuse


def _build() -> type[_HttpMetadataStoreBase]:
    namespace: dict[str, Any] = {"__module__": __name__, "__doc__": __doc__}
    for route in ROUTES:
        namespace[route.method] = _method(route)
    for name in SERVER_ONLY:
        namespace[name] = _server_only(name)
    cls = type("HttpMetadataStore", (_HttpMetadataStoreBase,), namespace)
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:  # a contract method without a route: caught by the import, not by a user
        raise TypeError(f"no HTTP route for {', '.join(missing)}")
    return cls


HttpMetadataStore = _build()
