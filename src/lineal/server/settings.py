"""What a ``lineal server`` process is configured with (``lineal server`` options)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ServerSettings"]


@dataclass(frozen=True)
class ServerSettings:
    """Settings of one server process; every process of a deployment gets the same ones.

    The server keeps no state of its own: metadata lives in ``backend`` (a database URL, or a
    folder for a single-host SQLite store) and bytes in ``artifacts`` (a folder or an fsspec
    URL such as ``s3://bucket/prefix``), so any number of processes can serve one store.
    """

    backend: str | None = None
    """Where the metadata store is (``LINEAL_URI`` forms); None: the default location."""
    artifacts: str | None = None
    """Where artifact bytes go (``LINEAL_ARTIFACTS`` forms); None: the backend's default."""
    auth: Any = None
    """A :class:`lineal.auth.AuthSettings` with ``enabled`` set, or None: authentication off
    (single-user local use: every change is attributed to the server's OS account)."""
    max_body_bytes: int = 64 * 1024 * 1024
    """The largest JSON request body; artifact uploads stream and are not bound by it."""
    max_page: int = 10_000
    """The largest page any listing returns in one response."""
    request_timeout: float = 300.0
    """Seconds a call into the store may take before the client is answered 503 (the call
    itself finishes in its worker thread; a write retried with its idempotency key is not
    applied twice)."""
    webhooks: bool = True
    """Deliver webhooks from this process (a background thread; any number of processes may,
    each event is still delivered once)."""
    ui_dir: str | None = None
    """A built web UI to serve at ``/`` (None: the bundle shipped in the package, if built)."""
    presigned_urls: bool = field(
        default_factory=lambda: os.environ.get("LINEAL_PRESIGNED_URLS", "1") != "0")
    """With an S3 blob store, hand clients presigned URLs so that artifact bytes go straight
    to and from S3 (``LINEAL_PRESIGNED_URLS=0`` turns it off: for clients that cannot reach
    S3, every byte then passes through the server)."""
    extra: dict[str, Any] = field(default_factory=dict)
