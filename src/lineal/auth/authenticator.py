"""The :class:`Authenticator`: a request's headers and client address in, a
:class:`~lineal.auth.Principal` out, or :class:`~lineal.errors.Unauthenticated`."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..errors import PermissionDenied, Unauthenticated
from .oidc import JwksKeys, claim_values, validate_jwt
from .principal import AuthMethod, Principal, local_principal
from .roles import Role, merge_grants
from .session import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE, CookieSealer, cookies
from .settings import AuthSettings

if TYPE_CHECKING:
    from ..store import Store
    from .login import OidcLogin

__all__ = ["Authenticator", "Session"]


@dataclass(frozen=True)
class Session:
    """A browser session just opened: its principal, the sealed session cookie, the CSRF
    token the UI sends back on writes, and when it ends (Unix seconds)."""

    principal: Principal
    cookie: str
    csrf: str
    expires_at: float

_MAX_NAME = 128  # the width of the ledger's actor column


class Authenticator:
    """Authenticates requests for one server: built once at start-up from its
    :class:`AuthSettings` and its store (which holds the API tokens), then shared by every
    request (thread-safe).

        auth = Authenticator(settings, store)
        principal = auth.authenticate(request.headers, request.client.host)
        require(principal, "churn", Role.WRITER)
        with acting_as(principal):
            ...   # the operation; the ledger records principal.name

    In order: auth off gives the local principal; an ``Authorization: Bearer`` credential is
    an API token when it starts with ``lnl_``, else an OIDC token; without one, a browser
    session cookie (when sign-in through the server is on); without that, the trusted
    proxy's header; without that, Unauthenticated.
    """

    def __init__(self, settings: AuthSettings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._networks = settings.networks()
        self._mapped = settings.mapped_grants()
        self._defaults = settings.default_grants()
        self.keys = JwksKeys.from_settings(settings) if settings.oidc_issuer else None
        self.sealer: CookieSealer | None = None
        self.login: OidcLogin | None = None
        if settings.login:
            from .login import OidcLogin

            assert self.keys is not None
            self.sealer = CookieSealer(settings.session_secret())
            self.login = OidcLogin(settings, self.keys, self.sealer)
        self._local: Principal | None = None
        self._single = frozenset(h.lower() for h in (
            "authorization", CSRF_HEADER, settings.proxy_header, settings.proxy_groups_header) if h)

    def authenticate(self, headers: Mapping[str, str], client_host: str | None,
                     method: str | None = None) -> Principal:
        """Who sent a request with these ``headers`` from ``client_host`` (the peer address
        of the connection, not a forwarded one) with HTTP ``method`` (None: taken as a write,
        so a session cookie needs its CSRF token). Header names are matched in any case."""
        if not self.settings.enabled:
            return self.local()
        found = _headers(headers, self._single)
        authorization = found.get("authorization")
        if authorization is not None:
            scheme, _, credential = authorization.strip().partition(" ")
            credential = credential.strip()
            if scheme.lower() != "bearer" or not credential:
                raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
            from ..tokens import TOKEN_PREFIX

            if credential.startswith(TOKEN_PREFIX):
                return self.token_principal(credential)
            return self.oidc_principal(credential)
        if self.sealer is not None:
            session = cookies(found.get("cookie")).get(SESSION_COOKIE)
            if session:
                return self.session_principal(session, found.get(CSRF_HEADER), method)
        header = self.settings.proxy_header
        if header is not None and header.lower() in found:
            return self.proxy_principal(found, client_host)
        raise Unauthenticated("this server needs a credential",
                              hint="send 'Authorization: Bearer <token>'; an admin makes API "
                              "tokens with `lineal token create`")

    def local(self) -> Principal:
        """The principal of every request when auth is off."""
        if self._local is None:
            from ..identity import current_principal

            self._local = local_principal(self.settings.local_principal or current_principal())
        return self._local

    def token_principal(self, secret: str) -> Principal:
        """The principal of an API token's secret: ``token:<id>``, with the token's role in
        its project (or every project)."""
        from ..tokens import hash_secret

        # Looked up by the hash of the secret, never by the secret: comparing the stored value
        # with what the client sent happens on a SHA-256 the client cannot steer, so the time
        # a lookup takes says nothing useful about any stored secret.
        token = self.store.metadata.api_token_by_hash(hash_secret(secret))
        if token is None:
            raise Unauthenticated("unknown API token", hint="check the token, or make a new "
                                  "one with `lineal token create`")
        status = token.status_at(datetime.now(UTC))
        if status == "revoked":
            raise Unauthenticated(f"API token {token.id} was revoked")
        if status == "expired":
            assert token.expires_at is not None
            raise Unauthenticated(f"API token {token.id} expired on "
                                  f"{token.expires_at.strftime('%Y-%m-%d %H:%M UTC')}")
        scope = token.project if token.project is not None else "*"
        return Principal(f"token:{token.id}", AuthMethod.TOKEN, {scope: Role(token.role)},
                         token_id=token.id)

    def oidc_principal(self, token: str) -> Principal:
        """The principal of an OIDC token: named by ``oidc_name_claim``, with the roles its
        ``oidc_role_claim`` maps to and ``default_roles``."""
        if self.keys is None:
            raise Unauthenticated("the bearer token is not a lineal API token (lnl_...) and "
                                  "this server accepts no OIDC tokens")
        return self.principal_of_claims(validate_jwt(token, self.settings, self.keys),
                                        AuthMethod.OIDC)

    def principal_of_claims(self, claims: Mapping[str, object], method: AuthMethod) -> Principal:
        """The principal validated OIDC ``claims`` name (one rule for bearer tokens and
        browser sessions): ``oidc_name_claim`` and the roles ``oidc_role_claim`` maps to."""
        name = claims.get(self.settings.oidc_name_claim)
        if not isinstance(name, str):
            raise Unauthenticated(f"the OIDC token has no {self.settings.oidc_name_claim!r} "
                                  "claim to name its principal")
        values = claim_values(claims, self.settings.oidc_role_claim)
        return Principal(_checked_name(name, "the OIDC token's name claim"), method,
                         self.roles_for(values))

    def start_session(self, claims: Mapping[str, object]) -> Session:
        """The session of a browser that signed in with an ID token of these (validated)
        ``claims``: named and given roles as a bearer OIDC token of the same claims would be;
        it ends when the ID token expires, or after ``session_max_s`` if that comes first."""
        assert self.sealer is not None
        principal = self.principal_of_claims(claims, AuthMethod.SESSION)
        expiry = claims.get("exp")
        ends = time.time() + self.settings.session_max_s
        if isinstance(expiry, int | float) and not isinstance(expiry, bool):
            ends = min(ends, float(expiry))
        csrf = secrets.token_urlsafe(32)
        cookie = self.sealer.seal("session", {
            "name": principal.name, "csrf": csrf,
            "roles": {k: str(v) for k, v in principal.roles.items()}}, expires_at=ends)
        return Session(principal, cookie, csrf, ends)

    def session_principal(self, cookie: str, csrf: str | None, method: str | None) -> Principal:
        """The principal of a session cookie; a write (any ``method`` but GET, HEAD, OPTIONS)
        also needs the session's CSRF token in the ``X-CSRF-Token`` header, else
        PermissionDenied (403)."""
        assert self.sealer is not None
        payload = self.sealer.open("session", cookie)
        try:
            name = str(payload["name"])
            roles = {str(k): Role(v) for k, v in dict(payload["roles"]).items()}
        except (KeyError, TypeError, ValueError):
            raise Unauthenticated("the session cookie is not valid", hint="sign in again") from None
        if (method or "POST").upper() not in SAFE_METHODS and not hmac.compare_digest(
                (csrf or "").encode(), str(payload.get("csrf", "")).encode()):
            raise PermissionDenied("a write made with a session cookie needs its CSRF token in "
                                   "the X-CSRF-Token header",
                                   hint="send the lineal_csrf cookie's value in X-CSRF-Token")
        return Principal(name, AuthMethod.SESSION, roles)

    def proxy_principal(self, headers: Mapping[str, str], client_host: str | None) -> Principal:
        """The principal a trusted proxy names in its header; refused from any address not in
        ``trusted_proxies``."""
        header = self.settings.proxy_header
        assert header is not None
        if not self.trusted(client_host):
            raise Unauthenticated(f"the {header} header is accepted only from a trusted proxy; "
                                  f"{client_host or 'an unknown address'} is not one")
        found = _headers(headers, self._single)
        name = _checked_name(found.get(header.lower(), ""), f"the {header} header")
        groups: list[str] = []
        if self.settings.proxy_groups_header is not None:
            groups = found.get(self.settings.proxy_groups_header.lower(), "").replace(",", " ").split()
        return Principal(name, AuthMethod.PROXY, self.roles_for(groups))

    def trusted(self, client_host: str | None) -> bool:
        """Whether ``client_host`` is one of the trusted proxies."""
        if not client_host:
            return False
        try:
            address = ipaddress.ip_address(client_host.strip().strip("[]"))
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)

    def roles_for(self, values: Iterable[str]) -> dict[str, Role]:
        """Roles from claim values or proxy groups: through ``role_map`` when it is set, else
        each value read as a grant (values that are not grants are other groups: ignored);
        ``default_roles`` added."""
        from ..errors import InvalidArgument
        from .roles import parse_grant

        grants = list(self._defaults)
        for value in values:
            if self._mapped:
                grants += self._mapped.get(value, [])
                continue
            try:
                grants.append(parse_grant(value))
            except InvalidArgument:
                continue
        return merge_grants(grants)


def _headers(headers: Mapping[str, str] | Iterable[tuple[str, str]],
             single: frozenset[str]) -> dict[str, str]:
    """Header names lower-cased. A header of ``single`` (those the authenticator reads:
    Authorization, the proxy's headers) sent twice is refused: which of two values is believed would be left to chance.
    Starlette's ``Headers.items()`` lists a repeated header once per value, as a plain list of
    pairs would."""
    pairs = headers.items() if hasattr(headers, "items") else headers
    out: dict[str, str] = {}
    for name, value in pairs:
        key = str(name).lower()
        if key in out and key in single:
            raise Unauthenticated(f"the {name} header is sent more than once")
        out[key] = str(value)
    return out


def _checked_name(name: str, where: str) -> str:
    name = name.strip()
    if not name or len(name) > _MAX_NAME or not name.isprintable():
        raise Unauthenticated(f"{where} does not hold a usable name",
                              hint=f"a principal's name has 1-{_MAX_NAME} printable characters")
    return name
