"""Who is asking (:class:`Principal`) and whether their role is enough (:func:`require`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..errors import PermissionDenied
from .roles import EVERY_PROJECT, Role

__all__ = ["AuthMethod", "Principal", "acting_as", "local_principal", "require"]


class AuthMethod(StrEnum):
    """How a principal was authenticated."""

    TOKEN = "token"
    """An API token (``Authorization: Bearer lnl_...``)."""
    OIDC = "oidc"
    """An OIDC bearer token (a JWT) from the configured issuer."""
    SESSION = "session"
    """A browser session opened by signing in through the server (``/auth/login``)."""
    PROXY = "proxy"
    """A header set by a trusted authenticating proxy."""
    LOCAL = "local"
    """Auth is off: the server's own OS account."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: its name (what the ledger records), how it was authenticated,
    and its role in each project (``"*"``: every project).

    >>> p = Principal("ana", AuthMethod.OIDC, {"*": Role.READER, "churn": Role.WRITER})
    >>> p.role_in("churn"), p.role_in("fraud"), p.role_in(None)
    (<Role.WRITER: 'writer'>, <Role.READER: 'reader'>, <Role.READER: 'reader'>)
    """

    name: str
    method: AuthMethod
    roles: dict[str, Role] = field(default_factory=dict)
    token_id: str | None = None
    """The API token used, for ``method == token``."""

    def role_in(self, project: str | None) -> Role | None:
        """The principal's role in ``project`` (the higher of its grant there and its grant in
        every project); with None, its role in every project. None: no role."""
        found = [r for key, r in self.roles.items()
                 if key == EVERY_PROJECT or (project is not None and key == project)]
        return max(found) if found else None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "method": str(self.method),
                "roles": {k: str(v) for k, v in sorted(self.roles.items())},
                "token_id": self.token_id}


def local_principal(name: str) -> Principal:
    """The principal of every request when auth is off: ``name`` (the server's OS account),
    admin in every project."""
    return Principal(name, AuthMethod.LOCAL, {EVERY_PROJECT: Role.ADMIN})


def require(principal: Principal, project: str | None, role: Role | str) -> Role:
    """Return the principal's role in ``project`` if it is at least ``role``; else raise
    PermissionDenied saying which role is needed and which one the principal has. ``project``
    None: an operation across projects (listing every token, say), which needs the role in
    every project.

        require(principal, "churn", Role.WRITER)   # before logging a run in churn
    """
    from .roles import parse_role

    needed = parse_role(role)
    have = principal.role_in(project)
    if have is not None and have >= needed:
        return have
    where = f"in project {project!r}" if project is not None else "in every project"
    holds = f"is {have}" if have is not None else "has no role"
    raise PermissionDenied(
        f"this needs the {needed} role {where}; {principal.name} {holds} there",
        hint=_grants_hint(principal.roles),
    )


def _grants_hint(roles: Mapping[str, Role]) -> str:
    if not roles:
        return "ask an admin for a role"
    held = ", ".join(f"{role}" if key == EVERY_PROJECT else f"{role}:{key}"
                     for key, role in sorted(roles.items()))
    return f"roles held: {held}; ask an admin for a higher one"


@contextmanager
def acting_as(principal: Principal) -> Iterator[Principal]:
    """Run the block on behalf of ``principal``: every change it records (ledger entries,
    runs, registry events) names ``principal.name``. For the server, after
    :meth:`Authenticator.authenticate`; the name comes from the credential, never from the
    request's body."""
    from ..identity import _acting_as

    with _acting_as(principal.name, admin_in=admin_check(principal)):
        yield principal


def admin_check(principal: Principal) -> Callable[[str | None], bool] | None:
    """What the registry asks of the acting principal (:func:`lineal.identity.server_admin`):
    whether it holds the admin role in a project. None for the local principal (auth off),
    which the registry's admin list governs as in embedded use."""
    if principal.method is AuthMethod.LOCAL:
        return None

    def admin_in(project: str | None) -> bool:
        role = principal.role_in(project)
        return role is not None and role >= Role.ADMIN

    return admin_in
