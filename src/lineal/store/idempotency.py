"""Idempotency keys: a retried write is applied once.

A client of ``lineal server`` sends every write with an ``Idempotency-Key`` header, the same on
each retry. The server handles the request inside :func:`applying`; the store then records the
key *in the transaction of the write itself* (the SQL store's one write path), so the write and
"this key was applied" commit together or not at all. A retry whose key is already recorded
raises :class:`Replayed` before anything is written, and the server answers with the response
it saved for the first attempt: nothing is ever applied twice, even if the server died between
commit and answer (the retry is then told the write was applied, with its answer when the first
attempt lived long enough to save it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from ..errors import Conflict

__all__ = ["Replayed", "applying", "current"]

MAX_KEY = 128


@dataclass
class Attempt:
    """The key of the request being handled, and whether a write recorded it yet (a call that
    writes in several transactions records it in the first)."""

    key: str
    method: str
    recorded: bool = False


_current: ContextVar[Attempt | None] = ContextVar("lineal_idempotency", default=None)


class Replayed(Conflict):
    """The request's idempotency key was applied before: nothing was written this time."""

    def __init__(self, key: str) -> None:
        super().__init__(f"request {key!r} was already applied",
                         hint="a retry of a write that succeeded: nothing was done twice")
        self.key = key


def current() -> Attempt | None:
    """The idempotency key of the write being handled, if any."""
    return _current.get()


@contextmanager
def applying(key: str, method: str) -> Iterator[Attempt]:
    """Handle one request's writes under ``key`` (server-side)."""
    token = _current.set(Attempt(key[:MAX_KEY], method))
    try:
        attempt = _current.get()
        assert attempt is not None
        yield attempt
    finally:
        _current.reset(token)
