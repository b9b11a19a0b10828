"""The lineal server: the metadata and blob contracts over HTTP, for a team sharing one store.

    from lineal.server import ServerSettings, create_app
    app = create_app(ServerSettings(backend="postgresql://db/lineal", artifacts="s3://b/p"))

``lineal server`` runs it on uvicorn. Nothing happens at import: the store is opened when the
application starts. The REST API is defined once, in :mod:`lineal.store.http.routes`; the HTTP
client that speaks it is :class:`lineal.store.http.HttpMetadataStore`.
"""

from __future__ import annotations

from .app import create_app
from .settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
