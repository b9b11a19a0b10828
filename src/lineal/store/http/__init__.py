"""The store contracts over HTTP: a client of ``lineal server``.

``LINEAL_URI=http://host:port`` (or ``https://``) opens :func:`open_http_store`: every SDK call
and CLI command then goes through the server, which authenticates the caller
(``LINEAL_TOKEN``) and records changes as that principal. The routes are defined once in
:mod:`lineal.store.http.routes`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from .. import Store

__all__ = ["open_http_store"]


def open_http_store(url: str, *, token: str | None = None,
                    client: httpx.Client | None = None) -> Store:
    """The :class:`~lineal.store.Store` a lineal server at ``url`` answers."""
    from .. import Store
    from .blobs import HttpBlobStore
    from .client import HttpMetadataStore

    metadata = HttpMetadataStore(url, token=token, client=client)
    return Store(metadata, HttpBlobStore(metadata.transport), url)  # type: ignore[abstract]
