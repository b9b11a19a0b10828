"""Authentication and roles for ``lineal server``: who is asking, and what they may do.

Framework-independent: the server hands each request's headers and client address to
:meth:`Authenticator.authenticate`, which returns a :class:`Principal` or raises
:class:`~lineal.errors.Unauthenticated` (401); before an operation it calls
:func:`require`, which raises :class:`~lineal.errors.PermissionDenied` (403) when the
principal's role in the project is too low. The operation then runs inside
:func:`acting_as`, so the ledger records the authenticated principal, never a name the client
sent.

How a request is authenticated (see ``docs/auth.md``):

- auth off (the default, single-user local use): every request is the server's OS account,
  admin in every project;
- ``Authorization: Bearer lnl_...``: an API token made with ``lineal token create``, looked up
  by the SHA-256 of its secret (only hashes are stored), refused when revoked or expired;
- ``Authorization: Bearer <JWT>``: an OIDC token from the configured issuer, its signature
  checked against the issuer's JWKS (a URL, cached and re-fetched on an unknown key id, or a
  local file), its issuer, audience and expiry checked; roles come from a configurable claim;
- the ``lineal_session`` cookie of a browser that signed in through the server
  (:mod:`lineal.auth.login`: the authorization code flow with PKCE; the ID token checked as a
  bearer JWT is, with the client id as audience and the login's nonce), sealed with the
  session secret (:mod:`lineal.auth.session`); a write with it also needs its CSRF token;
- a trusted proxy's header (``X-Forwarded-User``), accepted only from configured addresses.

Roles, per project (``ROLE`` for every project, ``ROLE:PROJECT`` for one):

- ``reader``: reads everything in the project: runs, metrics, artifacts and their bytes,
  lineage, the registry, deployments, the audit log;
- ``writer``: also records: starts and finishes runs, logs params, metrics, tags, artifacts and
  datasets, registers model versions, moves unprotected aliases, records deployments to
  non-production environments, taints;
- ``admin``: also governs: moves protected aliases, approves versions, promotes to production,
  purges content, manages API tokens and webhooks.

Which operation needs which role is decided where operations are routed (the server); this
package only answers "who is this" and "is their role enough".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "AuthMethod": "lineal.auth.principal",
    "AuthSettings": "lineal.auth.settings",
    "Authenticator": "lineal.auth.authenticator",
    "EVERY_PROJECT": "lineal.auth.roles",
    "JwksKeys": "lineal.auth.oidc",
    "Principal": "lineal.auth.principal",
    "Role": "lineal.auth.roles",
    "acting_as": "lineal.auth.principal",
    "local_principal": "lineal.auth.principal",
    "parse_grant": "lineal.auth.roles",
    "parse_role": "lineal.auth.roles",
    "require": "lineal.auth.principal",
}

__all__ = [
    "EVERY_PROJECT",
    "AuthMethod",
    "AuthSettings",
    "Authenticator",
    "JwksKeys",
    "Principal",
    "Role",
    "acting_as",
    "local_principal",
    "parse_grant",
    "parse_role",
    "require",
]


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


if TYPE_CHECKING:
    from .authenticator import Authenticator
    from .oidc import JwksKeys
    from .principal import AuthMethod, Principal, acting_as, local_principal, require
    from .roles import EVERY_PROJECT, Role, parse_grant, parse_role
    from .settings import AuthSettings
