"""Browser sign-in: the server as an OIDC relying party (authorization code flow with PKCE).

:meth:`OidcLogin.begin` makes the issuer's authorization URL (with ``state``, ``nonce`` and
a PKCE ``S256`` challenge) and a sealed login cookie holding what the callback needs to check
it; :meth:`OidcLogin.finish` checks the callback's ``state`` against that cookie, exchanges
the code at the token endpoint (httpx), and validates the ID token as a bearer JWT is
validated (:func:`~lineal.auth.oidc.validate_jwt`: signature by the issuer's JWKS, issuer,
expiry), with the client id as its audience and the login's nonce. The endpoints come from
the issuer's discovery document, ``<issuer>/.well-known/openid-configuration``.

Nothing is kept in the process between the two requests, so the callback may land on any
server process of a deployment that shares the session secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from ..errors import StoreError, Unauthenticated
from .oidc import validate_jwt

if TYPE_CHECKING:
    from .oidc import JwksKeys
    from .session import CookieSealer
    from .settings import AuthSettings

__all__ = ["LOGIN_TTL_S", "LoginStart", "OidcLogin", "local_path"]

LOGIN_TTL_S = 600
"""How long a sign-in may take between ``/auth/login`` and the callback."""


@dataclass(frozen=True)
class LoginStart:
    """Where to send the browser, and the login cookie to set on the way."""

    authorize_url: str
    cookie: str


class OidcLogin:
    """The sign-in of one server: built from its :class:`AuthSettings` (``oidc_client_id``
    set), the issuer's keys and the cookie sealer; safe to share between threads."""

    def __init__(self, settings: AuthSettings, keys: JwksKeys, sealer: CookieSealer, *,
                 clock: Callable[[], float] = time.time) -> None:
        assert settings.oidc_issuer is not None and settings.oidc_client_id is not None
        self.settings = settings
        self.issuer = settings.oidc_issuer
        self.client_id = settings.oidc_client_id
        self.keys = keys
        self.sealer = sealer
        self._clock = clock
        self._lock = threading.Lock()
        self._discovery: dict[str, Any] | None = None
        self._discovered_at = 0.0

    # -- the issuer's endpoints -------------------------------------------------------------
    def discovery(self) -> dict[str, Any]:
        """The issuer's discovery document (fetched once, again after ``jwks_cache_s``);
        StoreError (503) when it cannot be fetched or does not describe this issuer."""
        with self._lock:
            if (self._discovery is None
                    or time.monotonic() - self._discovered_at >= self.settings.jwks_cache_s):
                self._discovery = self._fetch_discovery()
                self._discovered_at = time.monotonic()
            return self._discovery

    def _fetch_discovery(self) -> dict[str, Any]:
        import httpx

        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = httpx.get(url, timeout=self.settings.jwks_timeout_s, follow_redirects=True)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise StoreError(f"cannot fetch the OIDC issuer's discovery document {url}: {error}",
                             hint="check oidc_issuer and that the issuer is reachable") from error
        if not isinstance(document, dict):
            raise StoreError(f"the discovery document at {url} is not a JSON object")
        if document.get("issuer") != self.issuer:
            raise StoreError(f"the discovery document at {url} is for issuer "
                             f"{document.get('issuer')!r}, not {self.issuer!r}",
                             hint="oidc_issuer must be exactly the issuer's own identifier")
        for name in ("authorization_endpoint", "token_endpoint"):
            if not isinstance(document.get(name), str):
                raise StoreError(f"the discovery document at {url} has no {name}")
        return document

    # -- the two legs -------------------------------------------------------------------------
    def begin(self, redirect_url: str, next_path: str) -> LoginStart:
        """The authorization URL to redirect the browser to, and the login cookie that lets
        the callback at ``redirect_url`` check the answer; ``next_path``: where to land."""
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
        endpoint: str = self.discovery()["authorization_endpoint"]
        query = urlencode({
            "response_type": "code", "client_id": self.client_id,
            "redirect_uri": redirect_url, "scope": " ".join(self.settings.oidc_scopes),
            "state": state, "nonce": nonce,
            "code_challenge": challenge, "code_challenge_method": "S256",
        })
        cookie = self.sealer.seal("login", {
            "state": state, "nonce": nonce, "verifier": verifier,
            "redirect": redirect_url, "next": local_path(next_path),
        }, expires_at=self._clock() + LOGIN_TTL_S)
        separator = "&" if "?" in endpoint else "?"
        return LoginStart(f"{endpoint}{separator}{query}", cookie)

    def finish(self, *, code: str, state: str, login_cookie: str | None
               ) -> tuple[dict[str, Any], str]:
        """The validated ID token's claims and the path to land on, for the callback's
        ``code`` and ``state``; Unauthenticated (401) when anything does not check out."""
        if not login_cookie:
            raise Unauthenticated("no sign-in is in progress in this browser (no login cookie)",
                                  hint="start again from /auth/login; cookies must be on")
        login = self.sealer.open("login", login_cookie)
        if not hmac.compare_digest(str(login.get("state", "")), state):
            raise Unauthenticated("the sign-in's state does not match this browser's login",
                                  hint="start again from /auth/login")
        id_token = self._exchange(code, str(login["redirect"]), str(login["verifier"]))
        claims = validate_jwt(id_token, self.settings, self.keys, audience=self.client_id)
        if not hmac.compare_digest(str(claims.get("nonce", "")), str(login["nonce"])):
            raise Unauthenticated("the ID token's nonce is not this sign-in's",
                                  hint="start again from /auth/login")
        audience = claims.get("aud")
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.client_id:
            raise Unauthenticated("the ID token was issued to another client (azp)")
        return claims, local_path(str(login.get("next", "/")))

    def _exchange(self, code: str, redirect_url: str, verifier: str) -> str:
        """The ID token the token endpoint gives for ``code``."""
        import httpx

        document = self.discovery()
        endpoint: str = document["token_endpoint"]
        data = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_url, "code_verifier": verifier,
                "client_id": self.client_id}
        headers = {"accept": "application/json"}
        secret = self.settings.client_secret()
        if secret is not None:
            methods = document.get("token_endpoint_auth_methods_supported")
            if isinstance(methods, list) and "client_secret_basic" not in methods \
                    and "client_secret_post" in methods:
                data["client_secret"] = secret
            else:  # RFC 6749 2.3.1: both parts form-encoded before Basic
                pair = f"{quote(self.client_id, safe='')}:{quote(secret, safe='')}"
                headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            response = httpx.post(endpoint, data=data, headers=headers,
                                  timeout=self.settings.jwks_timeout_s)
        except httpx.HTTPError as error:
            raise StoreError(f"cannot reach the OIDC token endpoint {endpoint}: {error}") from error
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code in (400, 401) and isinstance(answer, dict):
            reason = " ".join(str(answer.get(k, "")) for k in ("error", "error_description"))
            raise Unauthenticated(f"the issuer refused the sign-in code: {reason.strip()}",
                                  hint="start again from /auth/login")
        if response.status_code != 200 or not isinstance(answer, dict):
            raise StoreError(f"the OIDC token endpoint answered {response.status_code}",
                             hint="see the issuer's logs")
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise Unauthenticated("the issuer's token answer holds no ID token",
                                  hint="the openid scope must be granted to this client")
        return id_token


def local_path(value: str) -> str:
    """``value`` if it is a path on this server, else ``/``: the page to land on after
    signing in must not be another site (an open redirect).

    >>> local_path("/runs?q=1"), local_path("//evil.example"), local_path("https://x")
    ('/runs?q=1', '/', '/')
    """
    if value.startswith("/") and not value.startswith(("//", "/\\")) and value.isprintable():
        return value
    return "/"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
