"""API tokens for ``lineal server``: make, list and revoke them (``lineal token ...``).

    token, secret = lineal.create_token("writer", project="churn", expires="30d", name="ci")
    print(secret)            # lnl_...: shown this once; the store keeps only its SHA-256
    lineal.list_tokens()     # every token, newest first, with its status
    lineal.revoke_token(token.id)

A client sends the secret as ``Authorization: Bearer lnl_...``; the server hashes it and looks
the hash up (:class:`lineal.auth.Authenticator`). A token grants one role (reader, writer or
admin; see :mod:`lineal.auth`) in one project, or in every project when ``project`` is None.
Who made or revoked a token is the acting principal (:mod:`lineal.identity`), recorded in the
audit ledger. Which principal may manage tokens is the server's rule (admins); a process with
the database open directly may do anything the database lets it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .auth.roles import Role, parse_role
from .entities import ApiToken, new_id
from .errors import InvalidArgument
from .identity import current_principal

if TYPE_CHECKING:
    from .store import Store

__all__ = ["TOKEN_PREFIX", "create_token", "hash_secret", "list_tokens", "new_secret",
           "revoke_token"]

TOKEN_PREFIX = "lnl_"
"""Every API token secret starts with this, so a server tells it from an OIDC token (a JWT)
and secret scanners can recognise a leaked one."""
_SECRET_BYTES = 32
_NAME_MAX = 128


def new_secret() -> str:
    """A new secret: ``lnl_`` and 256 random bits in URL-safe base64 (43 characters)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)


def hash_secret(secret: str) -> str:
    """``sha256:<hex>`` of the secret: what the store keeps and looks tokens up by. The secret
    has 256 random bits, so a fast unsalted hash is safe here (nothing to brute-force) and
    lets the lookup be one indexed equality."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    role: Role | str,
    project: str | None = None,
    expires: str | timedelta | datetime | None = None,
    name: str | None = None,
    *,
    store: Store | None = None,
) -> tuple[ApiToken, str]:
    """Make an API token granting ``role`` in ``project`` (None: every project); returns the
    token and its secret. The secret is not kept anywhere: show it to the user now.

    ``expires``: an age (``"30d"``, ``"12h"``, ``"2w"``, a timedelta) or an instant (a
    datetime); None for a token that never expires. ``name``: a label for listings (default:
    ``"<role>@<project or *>"``).

        token, secret = lineal.create_token("reader", project="churn", expires="90d",
                                            name="dashboard")
    """
    from .refs import validate_name
    from .store import default_store

    granted = parse_role(role)
    if project is not None:
        validate_name(project, "project")
    label = name if name is not None else f"{granted}@{project or '*'}"
    if not label.strip() or len(label) > _NAME_MAX or not label.isprintable():
        raise InvalidArgument(f"invalid token name {label!r}",
                              hint=f"use 1-{_NAME_MAX} printable characters")
    secret = new_secret()
    token = ApiToken(id=new_id(), name=label, role=granted, project=project,
                     created_at=datetime.now(UTC), created_by=current_principal(),
                     expires_at=expiry(expires))
    store = store or default_store(write=True)
    made = store.metadata.create_api_token(token, hash_secret(secret), current_principal())
    return made, secret


def list_tokens(project: str | None = None, *, store: Store | None = None) -> list[ApiToken]:
    """Every API token, newest first, revoked and expired ones included (see
    :attr:`ApiToken.status`); with ``project``, only the tokens scoped to it."""
    from .store import default_store

    store = store or default_store()
    from .notebook import Records

    return Records(store.metadata.list_api_tokens(project))


def revoke_token(token_id: str, *, store: Store | None = None) -> ApiToken:
    """Revoke the token with id ``token_id`` (or a prefix of it that names one token, as
    ``lineal token list`` shows them): from now on it authenticates nobody. Revoking a revoked
    token changes nothing."""
    from .store import default_store

    store = store or default_store()
    return store.metadata.revoke_api_token(_full_id(token_id, store), current_principal())


def _full_id(token_id: str, store: Store) -> str:
    """``token_id`` itself when it is a token's id, else the one id it is a prefix of."""
    from .errors import NotFound

    wanted = token_id.strip().upper()
    if len(wanted) >= 26 or not wanted:
        return token_id
    matches = [t.id for t in store.metadata.list_api_tokens() if t.id.startswith(wanted)]
    if len(matches) > 1:
        raise InvalidArgument(f"{token_id!r} is the start of {len(matches)} token ids",
                              hint="give more characters of the id")
    if not matches:
        raise NotFound(f"no API token with id {token_id!r}", hint="see `lineal token list`")
    return matches[0]


def expiry(expires: str | timedelta | datetime | None, *, now: datetime | None = None
           ) -> datetime | None:
    """When a token given ``expires`` (see :func:`create_token`) expires; InvalidArgument for
    a time that is not in the future."""
    from .times import age_seconds

    now = now or datetime.now(UTC)
    if expires is None:
        return None
    if isinstance(expires, datetime):
        at = expires if expires.tzinfo is not None else expires.astimezone()
    elif isinstance(expires, timedelta):
        at = now + expires
    elif isinstance(expires, str):
        at = now + timedelta(seconds=age_seconds(expires))
    else:
        raise InvalidArgument(f"expires={expires!r} is neither an age nor a time",
                              hint="use e.g. '30d', '12h', a timedelta or a datetime")
    if at <= now:
        raise InvalidArgument(f"expires={expires!r} is not in the future",
                              hint="use e.g. '30d', '12h', a timedelta or a datetime")
    return at.astimezone(UTC)
