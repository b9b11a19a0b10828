"""The webhook entities: a registered endpoint, one delivery of one event to it, and the job a
dispatcher works on.

A :class:`Webhook` never carries its secret: the secret is shown once, when the webhook is
added, and afterwards only a dispatcher reads it (inside :class:`DeliveryJob`, from
``claim_webhook_deliveries``, a server-side method).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["EVENT_TYPES", "DeliveryJob", "DeliveryStatus", "Webhook", "WebhookDelivery"]

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
