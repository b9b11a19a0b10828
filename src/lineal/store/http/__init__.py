"""The store contracts over HTTP: a client of ``lineal server``.

``LINEAL_URI=http://host:port`` (or ``https://``) opens :func:`open_http_store`: every SDK call
and CLI command then goes through the server, which authenticates the caller
(``LINEAL_TOKEN``) and records changes as that principal. The routes are defined once in
:mod:`lineal.store.http.routes`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from .. import Store

__all__ = ["open_http_store"]

_in_process: dict[str, Any] = {}
"""Base URLs served by an application in this process (``lineal.server.testing.in_process``),
with the client that reaches it: opening such a URL (``--uri``, ``LINEAL_URI``) uses it."""


def open_http_store(url: str, *, token: str | None = None,
                    client: httpx.Client | None = None) -> Store:
    """The :class:`~lineal.store.Store` a lineal server at ``url`` answers."""
    from .. import Store
    from .blobs import HttpBlobStore
    from .client import HttpMetadataStore

    if client is None:
        client = _in_process.get(url.rstrip("/"))
    metadata = HttpMetadataStore(url, token=token, client=client)
    return Store(metadata, HttpBlobStore(metadata.transport), url)
