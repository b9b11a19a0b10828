"""Sealed cookies: what the server keeps in a browser instead of in its own memory.

Every server process of a deployment is stateless, so the login in progress (state, nonce,
PKCE verifier) and the signed-in session live in cookies the browser holds. Each is a JSON
object encrypted and authenticated with AES-256-GCM under a key derived (HKDF-SHA256) from
the session secret and the cookie's purpose: a client can neither read nor change one, nor
pass a login cookie off as a session. Each carries its own expiry (``exp``), checked when
opened, whatever the cookie's ``Max-Age`` told the browser.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from collections.abc import Callable
from typing import Any

from ..errors import Unauthenticated

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "LOGIN_COOKIE", "SAFE_METHODS", "SESSION_COOKIE",
           "CookieSealer", "cookies"]

SESSION_COOKIE = "lineal_session"
"""The signed-in browser's session (HttpOnly)."""
LOGIN_COOKIE = "lineal_login"
"""A sign-in in progress: state, nonce, PKCE verifier (HttpOnly, path ``/auth``)."""
CSRF_COOKIE = "lineal_csrf"
"""The session's CSRF token, readable by the UI's script, which sends it back in
:data:`CSRF_HEADER` with every write (a double submit: another site can make the browser send
the session cookie, but can neither read this one nor set a custom header)."""
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing, so need no CSRF token."""


def cookies(header: str | None) -> dict[str, str]:
    """The cookies of a ``Cookie`` header, by name (the first of a name sent twice).

    >>> cookies("a=1; lineal_session=xyz; b")
    {'a': '1', 'lineal_session': 'xyz'}
    """
    out: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, equals, value = part.strip().partition("=")
        if equals and name and name not in out:
            out[name] = value.strip().strip('"')
    return out


class CookieSealer:
    """Seals and opens cookie values with one secret (at least 32 bytes).

    >>> sealer = CookieSealer(b"s" * 32)
    >>> value = sealer.seal("session", {"sub": "ana"}, expires_at=time.time() + 60)
    >>> sealer.open("session", value)["sub"]
    'ana'
    """

    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 32:
            raise ValueError("the session secret must have at least 32 bytes")
        self._secret = secret
        self._clock = clock
        self._keys: dict[str, Any] = {}

    def _cipher(self, purpose: str) -> Any:
        cipher = self._keys.get(purpose)
        if cipher is None:
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            from cryptography.hazmat.primitives.kdf.hkdf import HKDF

            key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                       info=f"lineal cookie: {purpose}".encode()).derive(self._secret)
            cipher = self._keys[purpose] = AESGCM(key)
        return cipher

    def seal(self, purpose: str, payload: dict[str, Any], *, expires_at: float) -> str:
        """``payload`` with ``exp`` = ``expires_at`` (Unix seconds), encrypted for ``purpose``,
        as URL-safe text (a valid cookie value)."""
        body = json.dumps({**payload, "exp": int(expires_at)}, separators=(",", ":")).encode()
        nonce = os.urandom(12)
        sealed = nonce + self._cipher(purpose).encrypt(nonce, body, purpose.encode())
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, purpose: str, value: str) -> dict[str, Any]:
        """The payload of a value :meth:`seal` made for ``purpose``; Unauthenticated when it was
        changed, made with another secret or for another purpose, or has expired."""
        from cryptography.exceptions import InvalidTag

        try:
            sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            body = self._cipher(purpose).decrypt(sealed[:12], sealed[12:], purpose.encode())
            payload = json.loads(body)
        except (binascii.Error, ValueError, InvalidTag):
            raise Unauthenticated(f"the {purpose} cookie is not valid",
                                  hint="sign in again") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
            raise Unauthenticated(f"the {purpose} cookie is not valid", hint="sign in again")
        if payload["exp"] <= self._clock():
            raise Unauthenticated(f"the {purpose} has expired", hint="sign in again")
        return payload
