"""OIDC bearer tokens: the issuer's keys (:class:`JwksKeys`) and the checks a JWT must pass
(:func:`validate_jwt`).

A token is accepted when its header names an allowed asymmetric algorithm and a key of the
issuer's JWKS, its signature verifies with that key, its ``iss`` is the configured issuer, its
``aud`` the configured audience, and it has not expired (with a small leeway for clock skew).
Anything else is :class:`~lineal.errors.Unauthenticated`, with the reason. An issuer that
cannot be reached is not the caller's fault: that is a StoreError (503), unless keys fetched
before are still at hand, which are then used (and the failure logged).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StoreError, Unauthenticated

if TYPE_CHECKING:
    from jwt import PyJWK, PyJWKSet

    from .settings import AuthSettings

__all__ = ["JwksKeys", "claim_values", "validate_jwt"]

log = logging.getLogger(__name__)


class JwksKeys:
    """The issuer's public keys, from a URL (fetched with httpx, cached for ``cache_s``,
    fetched again, at most every ``refetch_min_s``, when a token names an unknown key id:
    that is how a key rotation is picked up) or from a local file (re-read when its
    modification time changes). Safe to share between threads."""

    def __init__(self, *, url: str | None = None, file: Path | None = None,
                 cache_s: float = 3600.0, refetch_min_s: float = 30.0, timeout_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if (url is None) == (file is None):
            raise ValueError("give exactly one of url and file")
        self.url = url
        self.file = file
        self.cache_s = cache_s
        self.refetch_min_s = refetch_min_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: PyJWKSet | None = None
        self._loaded_at = 0.0
        self._mtime: float | None = None
        self.fetches = 0
        """How many times the keys were loaded (tests and metrics read it)."""

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> JwksKeys:
        return cls(url=settings.oidc_jwks_url, file=settings.oidc_jwks_file,
                   cache_s=settings.jwks_cache_s, refetch_min_s=settings.jwks_refetch_min_s,
                   timeout_s=settings.jwks_timeout_s)

    def key(self, kid: str | None) -> PyJWK:
        """The key a token's ``kid`` names (with no ``kid``: the only key, if there is one);
        Unauthenticated when the issuer has no such key."""
        with self._lock:
            if self._stale():
                self._reload()
            found = self._find(kid)
            if found is None and self._clock() - self._loaded_at >= self.refetch_min_s:
                self._reload()
                found = self._find(kid)
        if found is None:
            if kid is None:
                raise Unauthenticated("the OIDC token names no key id and the issuer has "
                                      "several keys")
            raise Unauthenticated(f"the OIDC token's key id {kid!r} is not among the issuer's keys")
        return found

    def _find(self, kid: str | None) -> PyJWK | None:
        keys = list(self._keys or ())
        if kid is None:
            return keys[0] if len(keys) == 1 else None
        return next((k for k in keys if k.key_id == kid), None)

    def _stale(self) -> bool:
        if self._keys is None:
            return True
        if self.file is not None:
            return self._file_mtime() != self._mtime
        return self._clock() - self._loaded_at >= self.cache_s

    def _file_mtime(self) -> float | None:
        try:
            return self.file.stat().st_mtime if self.file is not None else None
        except OSError:
            return None

    def _reload(self) -> None:
        try:
            self._keys = self._load()
        except StoreError:
            if self._keys is None:
                raise
            log.warning("keeping the JWKS fetched before: %s", self._source(), exc_info=True)
        self._loaded_at = self._clock()
        self.fetches += 1

    def _source(self) -> str:
        return self.url if self.url is not None else str(self.file)

    def _load(self) -> PyJWKSet:
        from jwt import PyJWKSet
        from jwt.exceptions import PyJWKSetError, PyJWTError

        if self.url is not None:
            document = self._fetch(self.url)
        else:
            assert self.file is not None
            self._mtime = self._file_mtime()
            try:
                document = json.loads(self.file.read_text())
            except (OSError, ValueError) as error:
                raise StoreError(f"cannot read the JWKS file {self.file}: {error}") from error
        if not isinstance(document, dict):
            raise StoreError(f"the JWKS at {self._source()} is not a JSON object")
        try:
            return PyJWKSet.from_dict(document)
        except (PyJWKSetError, PyJWTError) as error:
            raise StoreError(f"the JWKS at {self._source()} holds no usable key: {error}") from error

    def _fetch(self, url: str) -> Any:
        import httpx

        try:
            response = httpx.get(url, timeout=self.timeout_s, follow_redirects=True)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise StoreError(f"cannot fetch the OIDC issuer's keys from {url}: {error}",
                             hint="check oidc_jwks_url and that the issuer is reachable") from error


def validate_jwt(token: str, settings: AuthSettings, keys: JwksKeys, *,
                 audience: str | None = None) -> dict[str, Any]:
    """The claims of ``token`` once every check passed (see the module docstring); raises
    Unauthenticated with the reason otherwise. ``audience``: the ``aud`` to expect instead of
    ``settings.oidc_audience`` (an ID token's is the client id)."""
    import jwt

    audience = settings.oidc_audience if audience is None else audience
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"the bearer token is not a valid JWT: {error}") from error
    algorithm = header.get("alg")
    if algorithm not in settings.oidc_algorithms:
        raise Unauthenticated(f"the OIDC token is signed with {algorithm!r}, which is not allowed",
                              hint=f"allowed: {', '.join(settings.oidc_algorithms)}")
    kid = header.get("kid")
    key = keys.key(kid if isinstance(kid, str) else None)
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key.key, algorithms=[algorithm], audience=audience,
            issuer=settings.oidc_issuer, leeway=settings.oidc_leeway_s,
            options={"require": ["exp", "iss"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise Unauthenticated("the OIDC token has expired", hint="sign in again") from error
    except jwt.InvalidAudienceError as error:
        raise Unauthenticated(f"the OIDC token is not for this server: {error}",
                              hint=f"its audience must be {audience!r}") from error
    except jwt.InvalidIssuerError as error:
        raise Unauthenticated("the OIDC token was not issued by the configured issuer",
                              hint=f"expected issuer {settings.oidc_issuer!r}") from error
    except jwt.InvalidSignatureError as error:
        raise Unauthenticated("the OIDC token's signature does not verify") from error
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"the OIDC token is not valid: {error}") from error
    return claims


def claim_values(claims: Any, path: str) -> list[str]:
    """The values of the claim at ``path`` (dots reach into objects: ``realm_access.roles``):
    a list's strings, or a string split on commas and whitespace; [] when absent."""
    value = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return []
        value = value[part]
    if isinstance(value, str):
        return value.replace(",", " ").split()
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []
