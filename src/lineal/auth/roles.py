"""Roles and grants: what a principal may do, per project.

``Role`` is ordered ``reader < writer < admin``; each role includes the ones below it. A grant
is written ``ROLE`` (in every project) or ``ROLE:PROJECT`` (in that project only), the form
OIDC claim mappings, proxy group mappings and default roles are configured in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from ..errors import InvalidArgument

__all__ = ["EVERY_PROJECT", "Role", "merge_grants", "parse_grant", "parse_role"]

EVERY_PROJECT = "*"
"""The key of a grant that holds in every project."""


class Role(StrEnum):
    """What a principal may do in a project; each role includes the ones below it.

    Compared by rank, not by text: ``Role.READER < Role.WRITER < Role.ADMIN``.
    """

    READER = "reader"
    WRITER = "writer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        return self.rank < _other(other).rank

    def __le__(self, other: object) -> bool:
        return self.rank <= _other(other).rank

    def __gt__(self, other: object) -> bool:
        return self.rank > _other(other).rank

    def __ge__(self, other: object) -> bool:
        return self.rank >= _other(other).rank



_RANK = {Role.READER: 0, Role.WRITER: 1, Role.ADMIN: 2}


def _other(value: object) -> Role:
    if isinstance(value, Role):
        return value
    if isinstance(value, str):
        return parse_role(value)
    raise TypeError(f"cannot compare a Role with {type(value).__name__}")


def parse_role(value: str | Role) -> Role:
    """``value`` as a Role; InvalidArgument naming the three roles otherwise."""
    if isinstance(value, Role):
        return value
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        raise InvalidArgument(f"{value!r} is not a role",
                              hint="use reader, writer or admin") from None


def parse_grant(text: str) -> tuple[str, Role]:
    """``"admin"`` -> ``("*", Role.ADMIN)``; ``"writer:churn"`` -> ``("churn", Role.WRITER)``."""
    from ..refs import validate_name

    role, sep, project = str(text).strip().partition(":")
    if not sep:
        return EVERY_PROJECT, parse_role(role)
    if project == EVERY_PROJECT:
        return EVERY_PROJECT, parse_role(role)
    return validate_name(project, "project"), parse_role(role)


def merge_grants(grants: Iterable[tuple[str, Role]],
                 into: Mapping[str, Role] | None = None) -> dict[str, Role]:
    """Roles per project (``"*"``: every project), the highest grant of each project kept."""
    roles = dict(into or {})
    for project, role in grants:
        if project not in roles or role > roles[project]:
            roles[project] = role
    return roles
