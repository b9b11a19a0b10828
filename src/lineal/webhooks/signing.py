"""Signing webhook bodies, and checking a signature on the receiving side.

Every POST carries ``X-Lineal-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw request
body under the webhook's secret, and ``X-Lineal-Timestamp`` (Unix seconds of the attempt).
A receiver recomputes the HMAC over the bytes it received (before any JSON parsing) and compares
in constant time; :func:`verify_signature` does exactly that::

    from lineal.webhooks import verify_signature

    def handle(request):
        body = request.body                      # the raw bytes, not re-serialised JSON
        if not verify_signature(SECRET, body, request.headers["X-Lineal-Signature"]):
            return 401
        event = json.loads(body)
        ...

The signature covers the body only; the body holds the event's ``id`` and ``occurred_at``, so
a receiver that must refuse replays keeps the ids it has processed (a delivery may also arrive
twice if a dispatcher dies between sending and recording it: process events idempotently).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "new_secret",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Lineal-Signature"
TIMESTAMP_HEADER = "X-Lineal-Timestamp"
EVENT_HEADER = "X-Lineal-Event"
DELIVERY_HEADER = "X-Lineal-Delivery"
_PREFIX = "sha256="


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def new_secret() -> str:
    """A fresh webhook secret: 32 random bytes as 64 hex characters."""
    return secrets.token_hex(32)


def sign(secret: str | bytes, body: str | bytes) -> str:
    """The ``X-Lineal-Signature`` value of ``body``: ``sha256=`` and the hex HMAC-SHA256.

    >>> sign("s3cret-s3cret-s3cret", b'{"type":"ping"}')[:15]
    'sha256=9592d9c6'
    """
    return _PREFIX + hmac.new(_bytes(secret), _bytes(body), hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: str | bytes, header: str | None) -> bool:
    """Whether ``header`` (the ``X-Lineal-Signature`` value received) is the signature of
    ``body`` (the raw bytes received) under ``secret``; compared in constant time. False for a
    missing or malformed header, never an exception.

    >>> body = b'{"type":"ping"}'
    >>> verify_signature("s3cret-s3cret-s3cret", body, sign("s3cret-s3cret-s3cret", body))
    True
    >>> verify_signature("another-secret-xxxx", body, sign("s3cret-s3cret-s3cret", body))
    False
    """
    if not isinstance(header, str) or not header.startswith(_PREFIX):
        return False
    return hmac.compare_digest(header.strip(), sign(secret, body))
