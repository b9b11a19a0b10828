"""Blob store implementations and the URI dispatch that picks one."""

from __future__ import annotations

from ..base import BlobStore


def open_blob_store(uri: str) -> BlobStore:
    """A blob store for ``uri``: a local path or ``file://`` URI, ``memory://``, or any fsspec
    URL (``s3://bucket/prefix``, ``gs://...``, ``az://...``)."""
    if uri.startswith("memory://"):
        from .memory import MemoryBlobStore

        return MemoryBlobStore()
    if "://" not in uri or uri.startswith("file://"):
        from .local import LocalBlobStore

        path = uri.removeprefix("file://")
        return LocalBlobStore(path)
    from .remote import FsspecBlobStore

    return FsspecBlobStore(uri)


__all__ = ["open_blob_store"]
