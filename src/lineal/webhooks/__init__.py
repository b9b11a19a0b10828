"""Webhooks: registry, deployment and taint events POSTed to registered URLs.

    hook, secret = lineal.add_webhook("https://hooks.example.com/lineal")
    lineal.test_webhook(hook.id)

Each event is one JSON body signed with HMAC-SHA256
(``X-Lineal-Signature``; receivers check it with :func:`verify_signature`), delivered by a
:class:`WebhookDispatcher` with retries and backoff, and logged (``webhook_deliveries``).
See docs/webhooks.md.

The entities (``Webhook``, ``WebhookDelivery``, ``DeliveryJob``, ``DeliveryStatus``,
``EVENT_TYPES``) are defined in the bottom layer, :mod:`lineal.entities`, since the store records
and returns them; they are re-exported here. Names are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_EXPORTS = {
    "EVENT_TYPES": "lineal.entities",
    "DeliveryJob": "lineal.entities",
    "DeliveryStatus": "lineal.entities",
    "DispatchReport": "lineal.webhooks.dispatcher",
    "Webhook": "lineal.entities",
    "WebhookDelivery": "lineal.entities",
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
    from ..entities import EVENT_TYPES, DeliveryJob, DeliveryStatus, Webhook, WebhookDelivery
    from .api import add_webhook, list_webhooks, remove_webhook, test_webhook, webhook_deliveries
    from .dispatcher import DispatchReport, WebhookDispatcher
    from .signing import sign, verify_signature
