"""Webhooks: registry, deployment and taint events POSTed to registered URLs.

    hook, secret = lineal.add_webhook("https://hooks.example.com/lineal")
    lineal.test_webhook(hook.id)

Each event is one JSON body (:mod:`lineal.webhooks.events`) signed with HMAC-SHA256
(``X-Lineal-Signature``; receivers check it with :func:`verify_signature`), delivered by a
:class:`WebhookDispatcher` with retries and backoff, and logged (``webhook_deliveries``).
See docs/webhooks.md.

Names are loaded on first use, so that the store contract can import the entities without
importing the SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_EXPORTS = {
    "EVENT_TYPES": "lineal.webhooks.entities",
    "DeliveryJob": "lineal.webhooks.entities",
    "DeliveryStatus": "lineal.webhooks.entities",
    "DispatchReport": "lineal.webhooks.dispatcher",
    "Webhook": "lineal.webhooks.entities",
    "WebhookDelivery": "lineal.webhooks.entities",
    "WebhookDispatcher": "lineal.webhooks.dispatcher",
    "add_webhook": "lineal.webhooks.api",
    "list_webhooks": "lineal.webhooks.api",
    "remove_webhook": "lineal.webhooks.api",
    "sign": "lineal.webhooks.signing",
    "test_webhook": "lineal.webhooks.api",
    "verify_signature": "lineal.webhooks.signing",
    "webhook_deliveries": "lineal.webhooks.api",
}

__all__ = [
    "EVENT_TYPES",
    "DeliveryJob",
    "DeliveryStatus",
    "DispatchReport",
    "Webhook",
    "WebhookDelivery",
    "WebhookDispatcher",
    "add_webhook",
    "list_webhooks",
    "remove_webhook",
    "sign",
    "test_webhook",
    "verify_signature",
    "webhook_deliveries",
]


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


if TYPE_CHECKING:
    from .api import add_webhook, list_webhooks, remove_webhook, test_webhook, webhook_deliveries
    from .dispatcher import DispatchReport, WebhookDispatcher
    from .entities import EVENT_TYPES, DeliveryJob, DeliveryStatus, Webhook, WebhookDelivery
    from .signing import sign, verify_signature
