"""What a webhook receives: event types from the registry's and the lineage graph's records, and
the JSON body of each event.

Events are not produced by hooks in the write paths: every change is already recorded, in the
order it committed, by the audit ledger (a registry change writes a ``registry_events`` row, a
taint writes or deletes a ``taints`` row, each with its ledger entry). The store turns those
records into events after the fact (``enqueue_webhook_events``), so delivering costs a write
nothing and cannot fail it. This module holds the rules that do not depend on a store: which
record becomes which event type, and the body.

The body, one JSON object (keys sorted, compact)::

    {"id": "01J...", "type": "alias.moved", "occurred_at": "2026-12-03T10:15:02.123456+00:00",
     "sequence": 4812, "project": "default", "actor": "alice",
     "subject": {"model": "churn", "version": 4, "alias": "prod", "ref": "default/churn@v4",
                 "model_version_id": "01J..."},
     "details": {"before": {"version": 3}, "after": {"version": 4}, "comment": ""}}

``sequence`` is the event's position in the audit ledger: events of a store are totally
ordered by it, across processes (``null`` for a ``ping``).
"""

from __future__ import annotations

from typing import Any

from ..canonical import canonical_json
from ..entities import us_to_datetime

__all__ = ["event_body", "registry_event_type", "taint_event_type"]

_REGISTRY_TYPES = {
    "model.create": "model.created",
    "model.update": "model.updated",
    "policy.update": "policy.changed",
    "version.create": "version.created",
    "version.update": "version.updated",
    "alias.set": "alias.moved",
    "alias.move": "alias.moved",
    "alias.remove": "alias.removed",
    "stage.transition": "stage.changed",
    "deployment.end": "deployment.ended",
}


def registry_event_type(action: str, after: Any) -> str | None:
    """The webhook event type of a registry event (``RegistryEvent.action`` and its ``after``
    state), or None for an action no webhook event stands for."""
    if action == "approval":
        decision = (after or {}).get("decision")
        return "version.approved" if decision == "approved" else "version.rejected"
    if action == "deployment.start":
        return "deployment.rolled_back" if (after or {}).get("restores") else "deployment.started"
    return _REGISTRY_TYPES.get(action)


def taint_event_type(ledger_action: str) -> str | None:
    """The event type of a ledger entry about the ``taints`` table, or None."""
    if ledger_action in ("taint.set", "taint.update"):
        return "artifact.tainted"
    if ledger_action.startswith("taint.clear"):
        return "artifact.taint_cleared"
    return None


def event_body(
    *,
    event_id: str,
    event_type: str,
    occurred_at_us: int,
    sequence: int | None,
    project: str | None,
    actor: str,
    subject: dict[str, Any],
    details: dict[str, Any],
) -> str:
    """The JSON text POSTed for one event (canonical: sorted keys, no spaces), the same bytes
    on every attempt, so the signature a receiver checks is over exactly what it received."""
    occurred = us_to_datetime(occurred_at_us)
    return canonical_json({
        "id": event_id,
        "type": event_type,
        "occurred_at": occurred.isoformat() if occurred else None,
        "sequence": sequence,
        "project": project,
        "actor": actor,
        "subject": subject,
        "details": details,
    })
