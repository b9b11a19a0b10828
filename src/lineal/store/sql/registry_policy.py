"""Registry policy, checked inside the write transaction: compare-and-set on aliases, protected
aliases and admins, approval before production, separation of duties between registrant and
approver, and what a valid policy is. ``actor`` is always the caller's principal
(:func:`lineal.identity.current_principal`), never a value the caller chose."""

from __future__ import annotations

import json
import os
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...canonical import canonical_json
from ...entities import Decision, ModelPolicy, Stage, _NotSet, now_us
from ...errors import Conflict, InvalidArgument, PermissionDenied
from ...identity import server_admin
from ...refs import validate_alias, validate_name
from ..registry_base import ENV_ADMINS
from . import tables_registry as tr
from .database import WriteTx


def compare_alias(
    project: str, name: str, alias: str, current: int | None, expected: int | None | _NotSet
) -> None:
    if isinstance(expected, _NotSet) or expected == current:
        return
    now = "does not exist" if current is None else f"points at v{current}"
    wanted = "to not exist" if expected is None else f"to point at v{expected}"
    raise Conflict(
        f"alias {alias!r} of {project}/{name} {now}; expected it {wanted}: someone else changed it",
        hint="read the current value and try again",
    )


def check_alias(alias: str) -> None:
    validate_alias(alias)
    if alias == "latest":
        raise InvalidArgument(
            "'latest' always means the highest version and cannot be set",
            hint="choose another alias, e.g. 'champion'",
        )


def guard_protected(conn: Connection, model: Any, alias: str, actor: str) -> None:
    policy = ModelPolicy.from_dict(json.loads(model["policy"]))
    if alias in policy.protected_aliases:
        require_admin(conn, actor, f"changing the protected alias {alias!r} of "
                      f"{model['project']}/{model['name']}", model["project"])


def require_approval(
    conn: Connection, project: str, name: str, row: Any, policy: ModelPolicy,
    purpose: str = "enter production",
) -> None:
    """PermissionDenied unless version ``row`` (id, version, created_by) is approved for
    production: its latest review says so. Under separation of duties, approvals by the
    version's registrant do not count (recorded while the policy allowed them, they are
    skipped, not trusted)."""
    ap = tr.model_approvals
    reviews = conn.execute(
        sa.select(ap.c.decision, ap.c.actor)
        .where(ap.c.version_id == row["id"], ap.c.stage == str(Stage.PRODUCTION))
        .order_by(ap.c.created_at.desc(), ap.c.ledger_seq.desc())
    ).all()
    registrant = row["created_by"]
    counted = [r for r in reviews
               if not (policy.separation_of_duties and r.decision == str(Decision.APPROVED)
                       and r.actor == registrant)]
    latest = counted[0] if counted else None
    ref = f"{project}/{name}@v{row['version']}"
    if latest is None:
        by = f" by someone other than its registrant {registrant!r}" if reviews else ""
        raise PermissionDenied(
            f"{ref} needs an approval{by} before it can {purpose} (policy of {project}/{name})",
            hint=f"lineal registry approve {ref} --comment '...'",
        )
    if latest.decision != str(Decision.APPROVED):
        raise PermissionDenied(
            f"{ref} cannot {purpose}: its latest review by {latest.actor} rejected it",
            hint="a new approval supersedes the rejection",
        )


def check_reviewer(project: str, name: str, row: Any, policy: ModelPolicy, actor: str,
                   decision: Decision) -> None:
    """Separation of duties: PermissionDenied when ``actor`` registered version ``row`` and
    would approve it under a policy that requires approval. Rejecting one's own version is
    always allowed."""
    if (decision is Decision.APPROVED and policy.separation_of_duties
            and policy.requires_approval and actor == row["created_by"]):
        raise PermissionDenied(
            f"{actor!r} registered {project}/{name}@v{row['version']} and cannot also approve it "
            "(separation of duties)",
            hint="another principal approves it; an admin can turn this off with "
            f"`lineal registry policy {name} --no-separation-of-duties`",
        )


def stored_admins(conn: Connection) -> list[str] | None:
    s = tr.registry_settings
    value = conn.execute(sa.select(s.c.value).where(s.c.name == "admins")).scalar()
    return None if value is None else list(json.loads(value))


def effective_admins(conn: Connection) -> set[str]:
    """The admins: the store setting when present (one answer for everyone sharing the store),
    else the comma-separated users in ``LINEAL_ADMINS``."""
    stored = stored_admins(conn)
    if stored is not None:
        return set(stored)
    return {a.strip() for a in os.environ.get(ENV_ADMINS, "").split(",") if a.strip()}


def require_admin(conn: Connection, actor: str, what: str, project: str | None = None) -> None:
    """PermissionDenied unless ``actor`` is an admin: on a server with authentication, one
    holding the admin role in ``project`` (None: in every project), the server's roles being
    the only authority there; elsewhere, one named in the registry's admin list."""
    granted = server_admin(project)
    if granted is True:
        return
    if granted is False:
        where = f"in project {project!r}" if project is not None else "in every project"
        raise PermissionDenied(f"{what} needs the admin role {where}; {actor!r} does not hold it",
                               hint="ask an admin for a token with that role "
                               "(`lineal token create --role admin ...`)")
    admins = effective_admins(conn)
    if actor not in admins:
        who = ", ".join(sorted(admins)) if admins else "nobody (no admins are configured)"
        raise PermissionDenied(
            f"{what} needs an admin; {actor!r} is not one",
            hint=f"admins: {who}; configure them with `lineal registry admins --set USER,...` "
            f"or {ENV_ADMINS}",
        )


def write_admins(tx: WriteTx, names: list[str]) -> None:
    """Store the admin list inside ``tx`` (empty: remove the setting). Once admins exist, only
    one of them may change it."""
    if server_admin(None) is not None or effective_admins(tx.conn):
        require_admin(tx.conn, tx.actor, "changing the registry admins")
    s = tr.registry_settings
    present = stored_admins(tx.conn)
    if present == (names or None):
        return
    if not names:
        tx.delete(s, {"name": "admins"}, "registry.settings.delete")
    elif present is None:
        tx.insert(s, [{"name": "admins", "value": canonical_json(names), "updated_at": now_us()}],
                  "registry.settings", "admins")
    else:
        tx.update(s, {"name": "admins"}, {"value": canonical_json(names), "updated_at": now_us()},
                  "registry.settings")


def checked_policy(policy: ModelPolicy) -> ModelPolicy:
    for alias in policy.protected_aliases:
        check_alias(alias)
    for environment in policy.approval_environments:
        validate_name(environment, "environment")
    return ModelPolicy(
        bool(policy.require_approval_for_production), tuple(sorted(set(policy.protected_aliases))),
        tuple(sorted(set(policy.approval_environments))), bool(policy.separation_of_duties),
    )


def loosened(current: ModelPolicy, new: ModelPolicy) -> str | None:
    """What ``new`` gives up relative to ``current`` (only admins may), or None."""
    unprotected = set(current.protected_aliases) - set(new.protected_aliases)
    if unprotected:
        return f"unprotecting {', '.join(sorted(unprotected))}"
    if current.require_approval_for_production and not new.require_approval_for_production:
        return "dropping the approval requirement"
    ungated = set(current.approval_environments) - set(new.approval_environments)
    if ungated:
        return f"deploying to {', '.join(sorted(ungated))} without approval"
    if current.separation_of_duties and not new.separation_of_duties:
        return "turning separation of duties off"
    return None
