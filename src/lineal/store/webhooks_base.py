"""The webhook contract: registered endpoints, the events owed to them, and the delivery log.

One part of the metadata contract, :class:`~lineal.store.base.MetadataStore`. Events are not
written by the changes that cause them: the store derives them afterwards from what the audit
ledger already records in commit order (:meth:`WebhookStore.enqueue_webhook_events`), so a
webhook can neither slow nor fail a write. Each (webhook, event) pair becomes one delivery row,
unique in the database; dispatchers claim deliveries with a lease, so several dispatchers, in
one process or in several servers on one database, never send one event twice at once, and a
delivery recorded as delivered is never sent again.

Methods marked *server-side* hand out or depend on webhook secrets: a lineal server exposes them
to nobody but its own dispatcher.
"""

from __future__ import annotations

import abc
from urllib.parse import urlsplit

from ..entities import EVENT_TYPES, DeliveryJob, DeliveryStatus, Webhook, WebhookDelivery
from ..errors import InvalidArgument
from ..refs import validate_name

__all__ = ["MAX_SECRET", "MIN_SECRET", "WebhookStore", "check_webhook"]

MIN_SECRET = 16
MAX_SECRET = 256


def check_webhook(hook: Webhook, secret: str) -> None:
    """The rules every implementation applies before storing a webhook: InvalidArgument for a
    URL that is not http(s), an unknown event type, a bad project name, or a secret too short
    to sign with (or too long to store)."""
    parts = urlsplit(hook.url if isinstance(hook.url, str) else "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(f"webhook URL {hook.url!r} is not an http(s) URL",
                              hint="e.g. https://hooks.example.com/lineal")
    unknown = sorted(set(hook.events) - set(EVENT_TYPES))
    if unknown:
        raise InvalidArgument(f"unknown event type {unknown[0]!r}",
                              hint="one of: " + ", ".join(EVENT_TYPES))
    if hook.project is not None:
        validate_name(hook.project, "project")
    if not isinstance(secret, str) or not MIN_SECRET <= len(secret) <= MAX_SECRET:
        raise InvalidArgument(
            f"a webhook secret has {MIN_SECRET} to {MAX_SECRET} characters",
            hint="leave it out and lineal generates one")


class WebhookStore(abc.ABC):
    """Webhooks and their deliveries. ``actor`` is who makes the change (the SDK passes
    :func:`lineal.identity.current_principal`). Where registry admins are configured, only
    they may add or remove webhooks."""

    @abc.abstractmethod
    def add_webhook(self, hook: Webhook, secret: str, actor: str) -> Webhook:
        """Register ``hook`` (its ``id``, ``url``, ``events`` and ``project``; the store sets
        ``created_at``, ``created_by`` and ``active``) with the HMAC ``secret`` its deliveries
        are signed with. It receives the events recorded after it was added."""

    @abc.abstractmethod
    def get_webhook(self, webhook_id: str) -> Webhook:
        """By id (a unique prefix of at least 6 characters is accepted); NotFound otherwise."""

    @abc.abstractmethod
    def list_webhooks(self, *, include_removed: bool = False) -> list[Webhook]:
        """Webhooks in the order they were added (removed ones only if asked)."""

    @abc.abstractmethod
    def remove_webhook(self, webhook_id: str, actor: str) -> Webhook:
        """Deactivate a webhook: it receives nothing more, its secret is erased, its pending
        deliveries become ``failed`` ("webhook removed"); its delivery log stays. NotFound if
        there is no such active webhook."""

    @abc.abstractmethod
    def enqueue_webhook_events(self, limit: int = 1000) -> int:
        """Turn up to ``limit`` events recorded since the last call into pending deliveries,
        one per active webhook that wants each event; returns how many deliveries were created.
        Concurrent callers (any process) take turns: each event is enqueued once. Server-side."""

    @abc.abstractmethod
    def enqueue_webhook_ping(self, webhook_id: str, actor: str) -> WebhookDelivery:
        """A pending ``ping`` delivery to one active webhook (``lineal webhooks test``)."""

    @abc.abstractmethod
    def claim_webhook_deliveries(
        self,
        owner: str,
        now_us: int,
        *,
        limit: int = 50,
        lease_us: int = 60_000_000,
        delivery_id: str | None = None,
    ) -> list[DeliveryJob]:
        """Claim up to ``limit`` pending deliveries due at ``now_us`` (only ``delivery_id``, if
        given) for the dispatcher ``owner`` until ``now_us + lease_us``; each claim counts an
        attempt. A delivery claimed by another dispatcher whose lease has not lapsed is never
        returned. Server-side: the jobs hold the webhooks' secrets."""

    @abc.abstractmethod
    def record_webhook_attempt(
        self,
        delivery_id: str,
        owner: str,
        *,
        delivered: bool,
        status_code: int | None = None,
        error: str | None = None,
        next_attempt_us: int | None = None,
    ) -> WebhookDelivery:
        """Record how a claimed attempt went and release the claim: ``delivered``; or not, to
        be tried again at ``next_attempt_us``; or not and never again (``next_attempt_us``
        None: ``failed``). Conflict if ``owner`` no longer holds the claim (its lease lapsed
        and another dispatcher took the delivery). Server-side."""

    @abc.abstractmethod
    def webhook_deliveries(
        self,
        *,
        webhook_id: str | None = None,
        status: DeliveryStatus | None = None,
        limit: int = 100,
    ) -> list[WebhookDelivery]:
        """The delivery log, newest first: every delivery (of one webhook, in one status)."""
