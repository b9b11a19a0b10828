"""The webhook SDK: ``lineal.add_webhook``, ``list_webhooks``, ``remove_webhook``,
``test_webhook`` and ``webhook_deliveries``.

    hook, secret = lineal.add_webhook("https://hooks.example.com/lineal",
                                      events=["alias.moved", "deployment.started"])
    # keep `secret`: receivers verify X-Lineal-Signature with it; lineal never shows it again
    lineal.test_webhook(hook.id)            # a signed "ping", sent now; returns the delivery
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..entities import DeliveryStatus, Webhook, WebhookDelivery, new_id
from ..errors import InvalidArgument, PermissionDenied
from ..identity import current_principal
from ..store import Store, default_store
from .signing import new_secret

__all__ = ["add_webhook", "list_webhooks", "remove_webhook", "test_webhook", "webhook_deliveries"]

PING_MARGIN = 30.0
"""Seconds beyond the timeout that ``test_webhook`` waits for a server's dispatcher."""


def add_webhook(
    url: str,
    events: Sequence[str] | str | None = None,
    project: str | None = None,
    secret: str | None = None,
    *,
    store: Store | None = None,
) -> tuple[Webhook, str]:
    """Register ``url`` to receive events (``events``: event types, default all; ``project``:
    only that project's events, default all) and return it with its signing secret.

    ``secret`` (16 to 256 characters) is generated when not given. It is returned here once:
    the store keeps it to sign deliveries, and no listing shows it.
    """
    if isinstance(events, str):
        events = [events]
    if events is not None and not all(isinstance(e, str) for e in events):
        raise InvalidArgument("events is a list of event type names")
    secret = new_secret() if secret is None else secret
    store = store or default_store(write=True)
    hook = Webhook(id=new_id(), url=url, events=tuple(sorted(set(events or ()))), project=project)
    return store.metadata.add_webhook(hook, secret, current_principal()), secret


def list_webhooks(*, include_removed: bool = False, store: Store | None = None) -> list[Webhook]:
    """Registered webhooks in the order they were added (without their secrets)."""
    store = store or default_store()
    return store.metadata.list_webhooks(include_removed=include_removed)


def remove_webhook(webhook_id: str, *, store: Store | None = None) -> Webhook:
    """Stop delivering to a webhook (id or a unique prefix of 6+ characters); its pending
    deliveries fail and its delivery log stays."""
    store = store or default_store(write=True)
    return store.metadata.remove_webhook(webhook_id, current_principal())


def test_webhook(
    webhook_id: str, *, timeout: float = 10.0, store: Store | None = None
) -> WebhookDelivery:
    """Send a signed ``ping`` event to a webhook now, once, and return the delivery as recorded
    (``status`` ``delivered``, or ``failed`` with ``last_status_code``/``last_error``). It is
    part of the delivery log like any other delivery.

    Against a lineal server, which keeps webhook secrets to itself, the server's dispatcher
    sends the ping and this waits for its outcome; ``pending`` means none sent it in time."""
    from .dispatcher import WebhookDispatcher

    store = store or default_store(write=True)
    ping = store.metadata.enqueue_webhook_ping(webhook_id, current_principal())
    dispatcher = WebhookDispatcher(store, timeout=timeout, max_attempts=1)
    try:
        return dispatcher.send_now(ping.id)
    except PermissionDenied:
        # A lineal server hands webhook secrets to nobody but its own dispatcher: that one
        # sends the ping, and this waits for the outcome in the delivery log.
        return _outcome(store, ping, timeout + PING_MARGIN)
    finally:
        dispatcher.close()


def _outcome(store: Store, ping: WebhookDelivery, seconds: float) -> WebhookDelivery:
    """``ping`` as the delivery log has it once it was attempted, or as it stands after
    ``seconds`` (still ``pending``: no dispatcher sent it)."""
    deadline = time.monotonic() + seconds
    while True:
        found = [d for d in store.metadata.webhook_deliveries(webhook_id=ping.webhook_id, limit=50)
                 if d.id == ping.id]
        current = found[0] if found else ping
        if current.status is not DeliveryStatus.PENDING or time.monotonic() > deadline:
            return current
        time.sleep(0.2)


test_webhook.__test__ = False  # type: ignore[attr-defined]  # not a test, whatever pytest thinks


def webhook_deliveries(
    webhook_id: str | None = None,
    *,
    status: DeliveryStatus | str | None = None,
    limit: int = 100,
    store: Store | None = None,
) -> list[WebhookDelivery]:
    """The delivery log, newest first: of one webhook, in one status (``pending``,
    ``delivered``, ``failed``), at most ``limit``."""
    store = store or default_store()
    return store.metadata.webhook_deliveries(webhook_id=webhook_id, status=_status(status),
                                             limit=limit)


def _status(status: DeliveryStatus | str | None) -> DeliveryStatus | None:
    if status is None:
        return None
    try:
        return DeliveryStatus(str(status).lower())
    except ValueError:
        raise InvalidArgument(f"unknown delivery status {status!r}",
                              hint="pending, delivered or failed") from None
