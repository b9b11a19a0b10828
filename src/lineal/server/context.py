"""What every request of one server process shares: the store, who the caller is, what they
may do, and the call into the store as them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import NotFound, PermissionDenied, StoreError
from ..identity import _acting_as, os_account
from ..store import Store, open_store
from ..store.http.routes import ADMIN, READER, WRITER, Route, takes_principal
from .settings import ServerSettings

__all__ = ["Caller", "ServerContext"]

log = logging.getLogger("lineal.server")
_RANK = {READER: 1, WRITER: 2, ADMIN: 3}


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of a request and how to ask its role on a project."""

    name: str
    via: str
    role_in: Callable[[str | None], str | None]
    """The caller's role on a project (None: on every project), or None for no role."""


class ServerContext:
    """The store and the policies of one server process."""

    def __init__(self, settings: ServerSettings, store: Store | None = None) -> None:
        self.settings = settings
        self._store = store
        self._owns_store = store is None
        self._authenticator: Any = None
        self._lock = threading.Lock()
        self.ready_error: str | None = None
        self.background: list[Any] = []

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Open the store (if none was given) and start background work."""
        try:
            self.store  # noqa: B018 - opens it
        except Exception as error:  # noqa: BLE001 - reported by /readyz, logged here
            self.ready_error = f"{type(error).__name__}: {error}"
            log.error("store not available: %s", self.ready_error)
            return
        if self.settings.auth is not None and getattr(self.settings.auth, "enabled", False):
            from ..auth import Authenticator

            self._authenticator = Authenticator(self.settings.auth, self.store.metadata)
        if self.settings.webhooks:
            self._start_webhooks()

    def _start_webhooks(self) -> None:
        try:
            from ..webhooks import WebhookDispatcher
        except ImportError:
            return
        dispatcher = WebhookDispatcher(self.store.metadata)
        dispatcher.start()
        self.background.append(dispatcher)

    def stop(self) -> None:
        for worker in self.background:
            worker.stop()
        self.background.clear()
        if self._owns_store and self._store is not None:
            self._store.close()
            self._store = None

    @property
    def store(self) -> Store:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_store(self.settings.backend, self.settings.artifacts)
        return self._store

    # -- who is calling -----------------------------------------------------------------------
    def authenticate(self, headers: Mapping[str, str], client_host: str | None) -> Caller:
        """The caller of a request; Unauthenticated (401) when auth is on and the credential
        is missing or bad. With auth off, the server's own OS account, admin everywhere
        (single-user local use: the person who started the server)."""
        if self._authenticator is None:
            return Caller(os_account(), "local", lambda project: ADMIN)
        principal = self._authenticator.authenticate(headers, client_host)

        def role_in(project: str | None) -> str | None:
            role = principal.role_in(project)
            return None if role is None else str(getattr(role, "value", role))

        return Caller(principal.name, str(getattr(principal, "via", "token")), role_in)

    def require(self, caller: Caller, project: str | None, role: str, what: str) -> None:
        """PermissionDenied (403) unless ``caller`` holds ``role`` (or more) on ``project``
        (None: on every project)."""
        held = caller.role_in(project)
        if held is not None and _RANK.get(held, 0) >= _RANK[role]:
            return
        where = f"project {project!r}" if project else "every project"
        raise PermissionDenied(
            f"{what} needs the {role} role on {where}; {caller.name!r} has "
            f"{held or 'no role'} there",
            hint="ask an admin for a token with that role (`lineal token create --role ...`)",
        )

    # -- calling the store ------------------------------------------------------------------
    def call(self, caller: Caller, route: Route, kwargs: dict[str, Any]) -> Any:
        """Authorize and run one contract call as ``caller`` (in a worker thread)."""
        from .policy import needed_role, project_of

        metadata = self.store.metadata
        role = needed_role(metadata, route, kwargs)
        try:
            project = project_of(metadata, route.method, kwargs)
        except NotFound:
            project = None  # the call itself reports what is missing, after the role check
        self.require(caller, project, role, route.method.replace("_", " "))
        function = getattr(metadata, route.method)
        if takes_principal(route.method):
            kwargs = {**kwargs, "actor": caller.name}
        with _acting_as(caller.name):
            try:
                return function(**kwargs)
            except OSError as error:
                raise StoreError(f"{route.method}: {error}") from error

