"""Errors raised by the dataset data layer.

    InvalidArgument (lineal.errors)
    ├── UnsupportedDataError   also a TypeError: the object is not something to_arrow accepts
    ├── EmptyDatasetError      also a ValueError: a frame with no columns
    └── DatasetReadError       also a ValueError: a file could not be parsed (names the file)

Each is also the builtin exception callers would naturally catch (``TypeError`` for a wrong
kind of object, ``ValueError`` for bad content), so code that never heard of lineal still
handles them, while the CLI and server render them like any other ``InvalidArgument``.
"""

from __future__ import annotations

from ..errors import InvalidArgument

__all__ = ["DatasetReadError", "EmptyDatasetError", "UnsupportedDataError"]


class UnsupportedDataError(InvalidArgument, TypeError):
    """The object passed as data is of a type lineal cannot turn into a table."""


class EmptyDatasetError(InvalidArgument, ValueError):
    """The data has no columns, so there is nothing to fingerprint or profile."""


class DatasetReadError(InvalidArgument, ValueError):
    """A CSV, Parquet or JSON-lines file could not be read; the message names the file."""
