"""Who is acting: the one answer every recorded change (ledger entry, registry event, approval,
run, deployment) takes its ``actor`` from.

    from lineal.identity import current_principal
    current_principal()          # 'alice': the OS account this process runs as

Embedded mode (the SDK or CLI opening the database itself) has no login, so the principal is
the OS account of the process, read from the OS (``pwd.getpwuid(os.geteuid())``; ``uid:<n>``
when the uid has no passwd entry). Not from ``USER`` or ``LOGNAME``: any caller sets those, so
they would let anyone act as anyone. Nor is it a public argument: no ``actor=`` anywhere in the
SDK or CLI, for the same reason.

A server (a later issue) authenticates each request and runs the library on its behalf; it
sets the request's principal with :func:`_acting_as`, a context-local override (per thread and
per asyncio task, so concurrent requests do not see each other's). The underscore says who may
call it: lineal's own trusted code, and tests that need two principals in one process.

What this enforces, and what not: within one process, every change is attributed to the OS
account. It is not a security boundary against the account itself or anyone else who can write
the database file or connect to the database as its owner: they can change any row directly.
Enforcement against them needs the server, which holds the database credentials alone.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .errors import InvalidArgument

__all__ = ["current_principal", "os_account", "server_admin"]

# Matches the width of the ``actor`` columns (tables.NAME), without importing the store.
_MAX_PRINCIPAL = 128

_override: ContextVar[str | None] = ContextVar("lineal_principal", default=None)
_admin_in: ContextVar[Callable[[str | None], bool] | None] = ContextVar("lineal_admin_in",
                                                                       default=None)


def current_principal() -> str:
    """The principal changes are attributed to: the server-authenticated one while a request is
    handled, else the OS account of this process."""
    override = _override.get()
    return override if override is not None else os_account()


def server_admin(project: str | None) -> bool | None:
    """Whether the principal acting now holds the admin role in ``project`` (None: in every
    project), when a server that authenticated it says so; None otherwise (embedded use, or a
    server with auth off), where the registry's admin list decides."""
    admin_in = _admin_in.get()
    return None if admin_in is None else admin_in(project)


def os_account() -> str:
    """The OS account this process runs as (effective uid), from the OS itself; ``uid:<n>`` when
    the uid has no passwd entry (some containers)."""
    geteuid = getattr(os, "geteuid", None)
    return _account(geteuid() if geteuid is not None else None)


@functools.lru_cache(maxsize=8)
def _account(uid: int | None) -> str:
    # Keyed by uid: every run start and registry change asks, the answer changes only with the
    # effective uid (a process that drops privileges asks again).
    if uid is None:  # Windows: no uids; GetUserNameW asks the OS, not the environment
        try:
            return os.getlogin()
        except OSError:
            return "unknown"
    try:
        import pwd
    except ImportError:  # pragma: no cover - POSIX without pwd (some embedded Pythons)
        return f"uid:{uid}"
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


@contextmanager
def _acting_as(principal: str, *,
               admin_in: Callable[[str | None], bool] | None = None) -> Iterator[str]:
    """Attribute every change made inside the block to ``principal``. For lineal's trusted code
    only: the server, after it authenticated the request; tests that need a second principal.
    Never exposed as a public argument, option or environment variable.

        with _acting_as("bob"):
            registry.approve("churn@v4")

    ``admin_in``, from a server with authentication: whether the principal holds the admin role
    in a project (see :func:`server_admin`).
    """
    if not isinstance(principal, str) or not principal.strip() or len(principal) > _MAX_PRINCIPAL:
        raise InvalidArgument(
            f"invalid principal {principal!r}", hint=f"use 1-{_MAX_PRINCIPAL} characters"
        )
    token = _override.set(principal)
    granted = _admin_in.set(admin_in)
    try:
        yield principal
    finally:
        _admin_in.reset(granted)
        _override.reset(token)
