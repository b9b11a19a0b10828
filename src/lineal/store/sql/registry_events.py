"""Writing the registry's event history: one row per change, in the change's transaction."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ...canonical import canonical_json
from ...entities import new_id, now_us
from . import tables_registry as tr
from .database import WriteTx

ev = tr.registry_events


def event_ts(tx: WriteTx, model_id: str) -> int:
    """The time of a transaction's changes to ``model_id``: now, but strictly after the model's
    previous event, so that time order and commit order agree even when the clocks of different
    clients disagree, and "as of T" is never ambiguous between two transactions. Call it once
    per transaction and model: events of one transaction share their time."""
    last = tx.conn.execute(sa.select(sa.func.max(ev.c.ts)).where(ev.c.model_id == model_id)).scalar()
    return max(now_us(), int(last) + 1 if last is not None else 0)


def record_event(
    tx: WriteTx,
    model_id: str,
    action: str,
    ts: int,
    *,
    version: tuple[str, int] | None = None,
    alias: str | None = None,
    before: Any = None,
    after: Any = None,
    comment: str = "",
) -> None:
    event_id = new_id()
    tx.insert(
        ev,
        [
            {
                "id": event_id,
                "model_id": model_id,
                "version_id": version[0] if version else None,
                "version": version[1] if version else None,
                "alias": alias,
                "action": action,
                "actor": tx.actor,
                "ts": ts,
                "before_state": None if before is None else canonical_json(before),
                "after_state": None if after is None else canonical_json(after),
                "comment": comment or "",
            }
        ],
        "registry.event",
        event_id,
    )
