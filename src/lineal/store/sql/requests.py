"""Idempotency keys of server requests (:mod:`lineal.store.idempotency`) in the SQL write path:
checked under the ledger lock when a write transaction begins, recorded before it commits."""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection

from ...entities import now_us
from . import tables as t

__all__ = ["KEEP_REQUESTS_US", "check_request", "record_request"]

#: How long a request's key (and answer) is kept: a client retries within minutes, not days.
KEEP_REQUESTS_US = 24 * 3600 * 1_000_000
#: Keys older than KEEP_REQUESTS_US are deleted by a recorded write at most this often.
PRUNE_EVERY_S = 60.0
_pruned_at = [float("-inf")]  # time.monotonic() of this process's last prune


def check_request(conn: Connection) -> None:
    """Replayed, before anything is written, if the server request this write belongs to was
    applied before (:mod:`lineal.store.idempotency`; checked under the ledger lock, so no two
    attempts both pass)."""
    from ..idempotency import Replayed, current

    attempt = current()
    keys = t.idempotency_keys
    if attempt is not None and not attempt.recorded and conn.execute(
            sa.select(keys.c.key).where(keys.c.key == attempt.key)).first():
        raise Replayed(attempt.key)


def record_request(conn: Connection, *, written: bool) -> None:
    """Record the key of the server request this write belongs to, in the write's own
    transaction: the write and "applied" commit together or not at all."""
    from ..idempotency import Replayed, current

    attempt = current()
    if attempt is None or attempt.recorded or not written:
        return
    keys = t.idempotency_keys
    now = now_us()
    try:  # a duplicate key aborts the transaction: the replay writes nothing
        conn.execute(keys.insert().values(key=attempt.key, method=attempt.method, created_at=now))
    except exc.IntegrityError:
        raise Replayed(attempt.key) from None
    attempt.recorded = True
    if time.monotonic() - _pruned_at[0] >= PRUNE_EVERY_S:  # in this transaction: no commit more
        _pruned_at[0] = time.monotonic()
        conn.execute(keys.delete().where(keys.c.created_at < now - KEEP_REQUESTS_US))
