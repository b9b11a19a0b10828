"""The webhook entities: a registered endpoint, one delivery of one event to it, the job a
dispatcher works on, and the events themselves (their types and their JSON body).

They sit in the bottom layer because the store records and returns them: the store imports them
from here, never from :mod:`lineal.webhooks` (signing, delivery and the SDK, above the store),
which re-exports the entities for users.

A :class:`Webhook` never carries its secret: the secret is shown once, when the webhook is
added, and afterwards only a dispatcher reads it (inside :class:`DeliveryJob`, from
``claim_webhook_deliveries``, a server-side method).

Events
------
What a webhook receives: event types from the registry's and the lineage graph's records, and
the JSON body of each event.

Events are not produced by hooks in the write paths: every change is already recorded, in the
order it committed, by the audit ledger (a registry change writes a ``registry_events`` row, a
taint writes or deletes a ``taints`` row, each with its ledger entry). The store turns those
records into events after the fact (``enqueue_webhook_events``), so delivering costs a write
nothing and cannot fail it. These are the rules that do not depend on a store: which
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

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..canonical import canonical_json
from ._core import us_to_datetime

__all__ = [
    "EVENT_TYPES",
    "DeliveryJob",
    "DeliveryStatus",
    "Webhook",
    "WebhookDelivery",
    "event_body",
    "registry_event_type",
    "taint_event_type",
]

EVENT_TYPES: tuple[str, ...] = (
    "alias.moved",
    "alias.removed",
    "artifact.taint_cleared",
    "artifact.tainted",
    "deployment.ended",
    "deployment.rolled_back",
    "deployment.started",
    "model.created",
    "model.updated",
    "ping",
    "policy.changed",
    "stage.changed",
    "version.approved",
    "version.created",
    "version.rejected",
    "version.updated",
)
"""Every event type a webhook can receive (``ping`` only from ``lineal webhooks test``)."""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class DeliveryStatus(StrEnum):
    """Where a delivery stands: ``pending`` (not sent yet, or waiting for its next attempt),
    ``delivered`` (the receiver answered 2xx) or ``failed`` (attempts exhausted, or the webhook
    was removed)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Webhook:
    """An endpoint that receives events by HTTP POST.

    ``events`` empty means every event type; ``project`` None means every project.
    """

    id: str
    url: str
    events: tuple[str, ...] = ()
    project: str | None = None
    created_at: datetime | None = None
    created_by: str = ""
    active: bool = True
    removed_at: datetime | None = None

    def wants(self, event_type: str, project: str | None) -> bool:
        """Whether an event of ``event_type`` in ``project`` is delivered to this webhook."""
        if not self.active:
            return False
        if self.events and event_type not in self.events:
            return False
        return self.project is None or self.project == project

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "project": self.project,
            "created_at": _iso(self.created_at),
            "created_by": self.created_by,
            "active": self.active,
            "removed_at": _iso(self.removed_at),
        }


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event to one webhook: the delivery log's row.

    ``event_seq`` is the event's position in the audit ledger (None for a ``ping``).
    ``attempts`` counts the sends started; ``last_status_code``/``last_error`` describe the
    last one; ``next_attempt_at`` is when a pending delivery is sent (again).
    """

    id: str
    webhook_id: str
    event_id: str
    event_type: str
    event_seq: int | None
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "webhook_id": self.webhook_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "event_seq": self.event_seq,
            "status": str(self.status),
            "attempts": self.attempts,
            "created_at": _iso(self.created_at),
            "last_status_code": self.last_status_code,
            "last_error": self.last_error,
            "next_attempt_at": _iso(self.next_attempt_at),
            "delivered_at": _iso(self.delivered_at),
        }


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """A delivery claimed by one dispatcher: what it needs to send it. Server-side only: it
    holds the webhook's secret.

    ``body`` is the exact JSON text to POST (the same on every attempt); ``lease_until_us``
    is when the claim lapses and another dispatcher may take the delivery over.
    """

    delivery: WebhookDelivery
    url: str
    secret: str
    body: str
    owner: str
    lease_until_us: int

    def __repr__(self) -> str:  # the secret stays out of logs and tracebacks
        return f"<DeliveryJob {self.delivery.id} {self.delivery.event_type} -> {self.url}>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "delivery": self.delivery.to_dict(),
            "url": self.url,
            "secret": self.secret,
            "body": self.body,
            "owner": self.owner,
            "lease_until_us": self.lease_until_us,
        }


# -- events --------------------------------------------------------------------------------------

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
